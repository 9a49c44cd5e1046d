"""A scripted "model" for the augmentation tests: plausible replies to each augmentation prompt.

``reply(body)`` is a ``reply`` function for ``OpenAITestServer``. It recognises the prompt of each
method by its template wording and answers deterministically from the request body (messages and
seed), so that repeated draws (different ``seed``) give different tasks. Some replies are bad on
purpose, in the ways small models are bad: a task about an image, a copy of a shown task, a too-short
task, a reply with no numbered list, a multiple-choice question with two equal options. The tests check
that those end up in the dead-letter table with the right reason.
"""

from __future__ import annotations

import hashlib
import json
import re

WORDS = ["river", "mountain", "harvest", "ledger", "violin", "glacier", "orchard", "compass", "lantern", "meadow", "bicycle", "volcano", "archive", "festival", "kettle", "harbour", "satellite", "pottery", "thunder", "canyon", "library", "carpet", "pepper", "saddle", "rocket", "tunnel", "whistle", "ribbon", "walnut", "island", "marble", "pigeon", "quartz", "anchor", "beacon", "cactus", "dolphin", "falcon", "garnet", "hammock", "jasmine", "kayak", "lobster", "magnet", "nectar", "oyster", "parrot", "quiver", "raven", "sapphire", "tractor", "umbrella", "velvet", "wagon", "yogurt", "zebra", "almond", "blossom", "cobalt", "dune", "ember", "fern", "granite", "hazel", "ivory", "juniper", "kiln", "lagoon", "maple"]
ZH_WORDS = list("山河湖海风雨雷电春夏秋冬花草树木鸟兽虫鱼金银铜铁琴棋书画诗酒茶米盐糖桥塔灯舟车马牛羊")


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).digest()[:8], "big")


def _pick(words, seed: int, count: int) -> list[str]:
    chosen, state = [], seed
    for _ in range(count):
        state = _digest(state)
        chosen.append(words[state % len(words)])
    return chosen


def _user(body: dict) -> str:
    users = [m.get("content", "") for m in body.get("messages") or [] if m.get("role") == "user"]
    return users[-1] if users else ""


def reply(body: dict) -> str | dict:
    prompt = _user(body)
    seed = _digest(prompt, body.get("seed"))
    if "Continue the list with" in prompt or "请接着写出" in prompt:
        return _new_tasks(prompt, seed)
    if prompt.rstrip().endswith("Classification:") or prompt.rstrip().endswith("分类任务："):
        task = prompt.rstrip().rsplit("\n", 1)[0].rsplit("Task:", 1)[-1].rsplit("任务：", 1)[-1]
        classification = "classify" in task.lower() or "分类" in task
        if "zh" == _language(task):
            return "是" if classification else "否"
        return "Yes" if classification else "No"
    if "Class label: <a label>" in prompt or "类别标签：<一个标签>" in prompt:
        if "类别标签" in prompt:
            return "类别标签：甲类\n输入：第一种情况的例子。\n类别标签：乙类\n输入：第二种情况的例子。"
        return "Class label: first\nInput: An example of the first kind.\nClass label: second\nInput: An example of the second kind."
    if "Output: <the correct output>" in prompt or "输出：<正确的输出>" in prompt:
        if "输出：<正确的输出>" in prompt:
            words = "".join(_pick(ZH_WORDS, seed, 6))
            return f"示例 1\n输入：{words}\n输出：关于{words}的回答。\n\n示例 2\n输入：\n输出：不需要输入的回答。"
        words = " ".join(_pick(WORDS, seed, 3))
        return f"Example 1\nInput: {words}\nOutput: An answer about {words}.\n\nExample 2\nInput: <none>\nOutput: An answer with no input."
    if prompt.startswith(("Translate the text below into", "把下面的文字翻译成")):
        return _translate(prompt)
    if prompt.startswith(("Rewrite the instruction below", "用 ")):
        instruction = prompt.rsplit("Instruction: ", 1)[-1].rsplit("指令：", 1)[-1].strip()
        if "unparseable" in instruction:
            return "I would rather not."
        if _language(instruction) == "zh":
            return f"改写 1：请你{instruction[2:-3]}，谢谢。\n改写 2：{instruction}\n改写 3：今天天气很好。"
        words = instruction.split()
        return (f"Rewrite 1: Could you {' '.join(words[1:-1])} for me, please?\nRewrite 2: {instruction}\n"
                "Rewrite 3: Bake a chocolate cake.")
    if "write the instruction it answers" in prompt or "写出它所对应的指令" in prompt:
        document = prompt.rsplit("Response:\n", 1)[-1].rsplit("回答：\n", 1)[-1].split("\n\n")[0]
        if "回答：" in prompt and "Response:" not in prompt:
            return f"指令：请介绍一下{document[:6]}的相关内容。"
        topic = " ".join(document.split()[:3])
        return f"Instruction: Write a short explanation about {topic} for a curious reader."
    if "### Instruction" in prompt or "### 指令" in prompt:
        score = 5 if "good" in prompt or "好" in prompt else 2
        rationale = {"score": score, "rationale": "scripted"}
        return {"harmless": rationale, "honest": rationale, "helpful": rationale, "overall": score}
    if '"questions"' in prompt:
        return _questions(prompt)
    return "echo: " + prompt


def _language(text: str) -> str:
    return "zh" if sum("\u4e00" <= c <= "\u9fff" for c in text) * 5 >= len(text.replace(" ", "")) else "en"


def _new_tasks(prompt: str, seed: int) -> str:
    match = re.search(r"(?:from|从) (\d+) (?:to|到) (\d+)", prompt)
    first, last = (int(match.group(1)), int(match.group(2))) if match else (9, 16)
    chinese = "请接着写出" in prompt
    shown = re.findall(r"^(?:Task|任务) \d+[:：] ?(.*)$", prompt, flags=re.MULTILINE)
    lines = []
    for number in range(first, last + 1):
        state = _digest(seed, number)
        kind = state % 10
        if chinese:
            words = "".join(_pick(ZH_WORDS, state, 8))
            text = {0: "请描述这张图片里的内容。", 1: (shown[0] + "简短些") if shown else "写诗。", 2: "写诗。"}.get(
                kind, f"请解释{words}之间的关系。" if kind != 3 else f"把{words}分类为两组。"
            )
            lines.append(f"任务 {number}：{text}")
        else:
            words = " ".join(_pick(WORDS, state, 6))
            text = {0: f"Describe the image of a {words}.", 1: (shown[0] + " Be brief.") if shown else "Do it.", 2: "Do it."}.get(
                kind, f"Explain how {words} relate." if kind != 3 else f"Classify {words} into two groups."
            )
            lines.append(f"Task {number}: {text}")
    return "\n".join(lines)


#: A phrasebook of translations (text, target) -> translation, for the round-trip tests' parent rows.
PHRASEBOOK = {
    ("Summarize the main causes of the French Revolution in three sentences.", "zh"): "用三句话总结法国大革命的主要原因。",
    ("用三句话总结法国大革命的主要原因。", "en"): "Sum up in three sentences the main reasons for the French Revolution.",
    ("请用三句话说明法国大革命爆发的主要原因。", "en"): "Explain in three sentences the main causes of the outbreak of the French Revolution.",
    ("Explain in three sentences the main causes of the outbreak of the French Revolution.", "zh"): "用三句话解释法国大革命爆发的主要原因。",
    ("Name three rivers that flow through Germany.", "zh"): "说出流经德国的三条河流。",
    ("说出流经德国的三条河流。", "en"): "Bake a chocolate cake with three layers of cream.",
}


def _translate(prompt: str) -> str:
    head, _, text = prompt.partition("\n\n")
    target = "zh" if ("Chinese" in head or "中文" in head) else "en"
    translation = PHRASEBOOK.get((text.strip(), target))
    if translation is None:
        return text.strip()  # what small models often do: copy the text instead of translating it
    return f"Translation: {translation}" if target == "en" else f"“{translation}”"


def _questions(prompt: str) -> dict:
    passage = prompt.split("Passage:\n", 1)[-1].split("段落：\n", 1)[-1].split("\n\n")[0]
    count = int(re.search(r"(\d+)", prompt).group(1))
    words = passage.split() if " " in passage else list(passage)
    if "multiple-choice" in prompt or "选择题" in prompt:
        items = []
        for i in range(count):
            options = {"A": f"{words[i]} one", "B": f"{words[i]} two", "C": f"{words[i]} three", "D": f"{words[i]} four"}
            if i == 1:
                options["D"] = options["C"]  # two equal options: invalid
            question = f"Which option fits {words[i]}?" if " " in passage else f"哪一项符合{words[i]}？"
            items.append({"question": question, "options": options, "answer": "ABCD"[i % 4]})
        return {"questions": items}
    items = []
    for i in range(count):
        if " " in passage:
            items.append({"question": f"What does the passage say about {words[i]}?", "answer": " ".join(words[i:i + 4])})
        else:
            items.append({"question": f"段落中关于{words[i]}说了什么？", "answer": "".join(words[i:i + 4])})
    return {"questions": items}
