"""Labelled rows made at run time from the shared corpora: real good pairs, and defects derived from them.

The Ruozhiba QA pairs (Chinese) and the Self-Instruct seed tasks (English) are never copied into this
repository; the benchmark reads them from ``--data`` and builds, deterministically (by a hash of each
source id):

- a sample of good rows, unchanged;
- from other source rows, one defect each, by a transformation that mimics a real failure: the answer
  cut mid-sentence, a word repeated twenty times, a one-character non-answer, a refusal, the question
  echoed back, a looping answer, an invented URL, an unfilled placeholder, an empty answer, a prompt that
  points at a photo or attachment the model cannot see.

Every row carries ``id``, ``kind``, ``lang``, ``instruction``, ``input``, ``output``, ``label``,
``rules`` (the quality rules a correct scorer fires) and ``defect`` (the transformation, or "good").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

RUOZHIBA = Path("ruozhiba") / "ruozhiba_qa.jsonl"
SEEDS = Path("self_instruct") / "seed_tasks.jsonl"


def stable_hash(text: str) -> int:
    """A hash that is the same in every run and on every machine (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def held_out(row_id: str) -> bool:
    """Whether a labelled row is in the held-out half (never used for tuning): by a fixed hash of its id."""
    return stable_hash(f"holdout:{row_id}") % 2 == 1


def good_corpora(data: Path) -> dict[str, list[dict]]:
    """Every pair of the shared good corpora, as instruction rows (empty when a file is missing)."""
    sets: dict[str, list[dict]] = {}
    ruozhiba = data / RUOZHIBA
    if ruozhiba.is_file():
        sets["ruozhiba"] = [
            {"id": item["id"], "kind": "instruction", "lang": "zh", "instruction": item["question"], "input": "",
             "output": item["answer"]}
            for item in map(json.loads, ruozhiba.read_text(encoding="utf-8").splitlines())
        ]
    seeds = data / SEEDS
    if seeds.is_file():
        rows = []
        for task in map(json.loads, seeds.read_text(encoding="utf-8").splitlines()):
            for number, instance in enumerate(task["instances"]):
                rows.append({"id": f"{task['id']}-{number}", "kind": "instruction", "lang": "en",
                             "instruction": task["instruction"], "input": instance["input"],
                             "output": instance["output"]})
        sets["self_instruct_seeds"] = rows
    return sets


# ----------------------------------------------------------------------------------------------------
# Transformations: (instruction, input, output, key) -> (instruction, input, output, rules) or None
# when the row does not suit it.
# ----------------------------------------------------------------------------------------------------

REFUSALS_ZH = ["抱歉，我无法回答这个问题。", "作为一个AI语言模型，我不能提供这方面的信息。", "对不起，我不能帮你完成这个请求。",
               "很抱歉，我没有办法回答你的问题。", "我无法提供相关内容，请咨询专业人士。"]
REFUSALS_EN = ["I'm sorry, but I can't help with that request.", "As an AI language model, I cannot provide that.",
               "I cannot fulfill this request.", "Unfortunately, I am unable to answer this question.",
               "I'm afraid I can't assist with this."]
ONE_CHAR_ZH = ["嗯", "哦", "啊", "略", "呃", "好。", "嗯。"]
ATTACH_ZH = ["根据我发的照片，", "看看我上传的图片，", "参考附件里的资料，", "结合我刚拍的这张照片，", "请看截图里的内容，"]
ATTACH_EN = ["Based on the attached photo, ", "Looking at the image I uploaded, ", "Using the attached file, "]
URLS_ZH = ["https://www.zhishi-daquan.cn/q/8812", "https://baike-wenda.com.cn/item/5531"]
URLS_EN = ["https://www.helpful-answers-daily.net/post/219", "https://learn-anything-fast.io/guide/77"]
PLACEHOLDERS_ZH = ["\n\n如需进一步咨询，请联系[在此填写联系方式]。", "\n\n更多内容见[插入参考链接]。"]
PLACEHOLDERS_EN = ["\n\nFor more details, see [Insert source here].", "\n\n[Add a relevant example here]"]
_LETTERS = re.compile(r"(?i)\b(?:letter|e-?mail|message|note|memo|template)\b|信|邮件")
_SENTENCE_END_ZH = "。！？"


def _cut_zh(instruction, input_, output, key):
    # Cut inside a clause: a few characters after a comma in the second half of the answer.
    text = output.strip()
    commas = [i for i, char in enumerate(text) if char == "，" and len(text) * 0.4 < i < len(text) - 12]
    if not commas:
        return None
    at = commas[key % len(commas)] + 4 + key % 5
    cut = text[:at]
    while cut and not ("\u4e00" <= cut[-1] <= "\u9fff"):
        cut = cut[:-1]
    if len(cut) < 20 or cut[-1] in _SENTENCE_END_ZH:
        return None
    return instruction, input_, cut, ["truncated"]


def _cut_en(instruction, input_, output, key):
    # Cut mid-sentence: at least six words into a sentence of a long, prose answer.
    text = output.strip()
    words = text.split(" ")
    if len(words) < 25 or "\n" in text[: len(text) // 2]:
        return None
    places = []
    since_end = 0
    for index, word in enumerate(words[:-1]):
        since_end = 0 if word.endswith((".", "!", "?", ":")) else since_end + 1
        if index > len(words) * 0.5 and since_end >= 6 and word[-1:].isalpha():
            places.append(index)
    if not places:
        return None
    return instruction, input_, " ".join(words[: places[key % len(places)] + 1]), ["truncated"]


def _repeat(instruction, input_, output, key, zh):
    if zh:
        word = ["好", "非常", "真的", "哈哈", "是的"][key % 5]
        head = output.split("。")[0][:30]
        return instruction, input_, (head + "，" if key % 2 else "") + word * 20, ["repeated_word"]
    word = ["very", "really", "good", "yes", "great"][key % 5]
    head = output.split(". ")[0][:80]
    return instruction, input_, (head + " " if key % 2 else "") + " ".join([word] * 20), ["repeated_word"]


def _loop(instruction, input_, output, key, zh):
    sentence = output.split("。")[0] + "。" if zh else output.split(". ")[0].rstrip(".") + "."
    if len(sentence) < (12 if zh else 40):
        return None
    return instruction, input_, ("" if zh else " ").join([sentence] * 8), ["dup_ngram_chars"]


def _placeholder(instruction, input_, output, key, zh):
    if _LETTERS.search(instruction):
        return None
    suffixes = PLACEHOLDERS_ZH if zh else PLACEHOLDERS_EN
    return instruction, input_, output.rstrip() + suffixes[key % len(suffixes)], ["placeholder"]


def _url(instruction, input_, output, key, zh):
    urls = URLS_ZH if zh else URLS_EN
    tail = f"更多信息请访问 {urls[key % 2]} 。" if zh else f" More information: {urls[key % 2]}"
    return instruction, input_, output.rstrip() + tail, ["ungrounded_url"]


def _echo(instruction, input_, output, key, zh):
    if len(instruction) < (6 if zh else 20):
        return None
    return instruction, input_, instruction, ["repeats_instruction"]


def _attach(instruction, input_, output, key, zh):
    if input_.strip():
        return None
    prefixes = ATTACH_ZH if zh else ATTACH_EN
    head = prefixes[key % len(prefixes)]
    body = instruction if zh else instruction[:1].lower() + instruction[1:]
    return head + body, input_, output, ["unseen_input"]


TRANSFORMS: dict[str, Callable] = {
    "cut mid-sentence": lambda i, n, o, k, zh: (_cut_zh if zh else _cut_en)(i, n, o, k),
    "word repeated 20 times": _repeat,
    "one-character non-answer": lambda i, n, o, k, zh: (i, n, ONE_CHAR_ZH[k % len(ONE_CHAR_ZH)], ["non_answer"])
    if zh else None,
    "refusal": lambda i, n, o, k, zh: (i, n, (REFUSALS_ZH if zh else REFUSALS_EN)[k % 5], ["refusal"]),
    "unseen attachment": _attach,
    "looping answer": _loop,
    "echoes the question": _echo,
    "invented URL": _url,
    "unfilled placeholder": _placeholder,
    "empty answer": lambda i, n, o, k, zh: (i, n, ["", " ", "。" if zh else "..."][k % 3], ["response_empty"]),
}


def derived_rows(data: Path, good_share: int = 8, defect_share: int = 8) -> list[dict]:
    """Good rows sampled from the shared corpora, and one defect from each of other sampled rows.

    A source row with hash ``h`` is a good row when ``h % good_share == 0``, and the source of a defect
    when ``h % defect_share`` is 1 or 2 (about one in eight, and one in four). The defect is the
    transformation ``h // 64`` points at, or the next one that suits the row.
    """
    rows: list[dict] = []
    names = list(TRANSFORMS)
    for corpus, source in good_corpora(data).items():
        for row in source:
            h = stable_hash(f"derive:{row['id']}")
            zh = row["lang"] == "zh"
            if h % good_share == 0:
                rows.append({**row, "id": f"{row['id']}:good", "label": "good", "rules": [], "defect": "good",
                             "source": corpus})
                continue
            if h % defect_share not in (1, 2):
                continue
            key = h // 64
            for step in range(len(names)):
                name = names[(key + step) % len(names)]
                made = TRANSFORMS[name](row["instruction"], row["input"], row["output"], key, zh)
                if made is not None:
                    instruction, input_, output, rules = made
                    rows.append({"id": f"{row['id']}:{name}", "kind": "instruction", "lang": row["lang"],
                                 "instruction": instruction, "input": input_, "output": output, "label": "bad",
                                 "rules": rules, "defect": name, "source": corpus})
                    break
    return rows
