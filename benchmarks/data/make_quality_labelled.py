"""Writes ``quality_labelled.jsonl``: SFT pairs and documents, English and Chinese, labelled good or bad.

Every row was written for this project (the good pairs and documents by hand, the bad ones derived from
them by the transformations below), so the file can ship in the repository. Each row carries:

- ``label``: ``good`` or ``bad``;
- ``rules``: the quality rules a correct scorer must fire on it (empty for good rows);
- ``note``: why the row is there (hard negatives say which rule they try to fool);
- ``defect``: ``good`` or the kind of defect.

The rows of ``quality_rows_issue18.py`` are appended. More rows are made at run time from the shared
corpora (``benchmarks/quality_derived.py``); none of those are written here. Which half of the set a row
belongs to (tuning or held out) is decided by a hash of its id, in the benchmark.

Run ``python benchmarks/data/make_quality_labelled.py`` to regenerate it; the output is deterministic.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

OUT = Path(__file__).with_name("quality_labelled.jsonl")
sys.path.insert(0, str(Path(__file__).parent))
import quality_rows_issue18 as issue18  # noqa: E402
from quality_rows_good import DE_DOC, EN_DOCS, EN_GOOD, HARD_GOOD, ZH_DOCS, ZH_GOOD  # noqa: E402

# ----------------------------------------------------------------------------------------------------
# Bad rows: transformations of good ones.
# ----------------------------------------------------------------------------------------------------

REFUSALS_EN = [
    "As an AI language model, I cannot help with that request.",
    "I'm sorry, but I can't help with that.",
    "I'm sorry, but as an AI developed by OpenAI, I cannot provide that information.",
    "As an AI, I don't have personal opinions.",
    "I cannot fulfill this request.",
    "Unfortunately, I am unable to provide a recipe for that.",
    "I apologize, but I cannot browse the internet to check this.",
    "As a large language model, I do not have access to real-time information.",
    "I'm sorry, but I cannot provide instructions for that. If you are interested in chemistry, I can suggest "
    "some safe experiments instead.",
    "As an AI language model, I don't have the ability to browse the web, but here is some general information: "
    "most museums are closed on Mondays.",
]
REFUSALS_ZH = [
    "作为一个AI语言模型，我无法提供这方面的帮助。",
    "抱歉，我不能回答这个问题。",
    "对不起，我无法为您提供相关信息。",
    "作为人工智能助手，我没有个人观点。",
    "我无法访问互联网，因此不能给出实时信息。",
    "很抱歉，作为AI，我不能帮助您完成这个请求。",
    "我是一个AI语言模型，无法回答您的问题。",
    "非常抱歉，我无法满足您的请求。",
    "抱歉，我无法提供实时天气信息，建议您查看当地气象台的预报。",
    "作为AI助手，我没有个人喜好。",
]
NON_ANSWERS = [("en", "N/A"), ("en", "I don't know."), ("en", "I do not know"), ("en", "n/a"), ("en", "No idea."),
               ("en", "I don't know, sorry."), ("zh", "不知道"), ("zh", "我不知道。"), ("zh", "不清楚"),
               ("zh", "无可奉告"), ("zh", "我也不知道。"), ("zh", "暂无答案")]

UNSEEN_EN = [
    "Describe the painting in the attached image.",
    "What is happening in this photo?",
    "Summarize the following article.",
    "Transcribe the audio recording I uploaded.",
    "What does the chart below show?",
    "Describe the person in the picture.",
    "Read the attached PDF and list its main points.",
    "Explain what the diagram above illustrates.",
]
UNSEEN_ZH = [
    "描述这张图片中的人物。",
    "请总结附件中的文件。",
    "根据下面的图表，分析销售趋势。",
    "这段视频讲了什么？",
    "看图写一段话，描述图中的景色。",
    "请概括以下文章的主要内容。",
    "这张照片是在哪里拍的？",
    "根据上图回答问题。",
]
ACTIONS_EN = [
    "Draw a picture of a cat.",
    "Please take a photo of the sunset for me.",
    "Go to www.example.org and tell me the price of the blue shoes.",
    "Send an email to my boss saying I am sick today.",
    "Call my mother and wish her a happy birthday.",
    "Book a table for two at an Italian restaurant tonight.",
    "Play some relaxing music.",
    "Set an alarm for 7 am tomorrow.",
    "Visit the website and summarize the latest news.",
    "Order a pizza for me.",
]
ACTIONS_ZH = [
    "请帮我画一幅山水画。",
    "给我打个电话。",
    "打开这个链接并总结内容。",
    "帮我订一张明天去上海的机票。",
    "播放一首周杰伦的歌。",
    "帮我拍一张照片。",
    "提醒我明天早上八点开会。",
    "画一只可爱的小猫。",
]
FAKE_URLS = ["https://totally-made-up-docs.example.com/start.html", "https://www.healthy-tips-daily.net/article/42",
             "https://learnfaster.io/guide", "http://www.history-facts-hub.org/great-wall",
             "https://www.fake-learning-site.cn/courses", "https://zhidao-wiki.com.cn/item/123"]
PLACEHOLDERS_EN = ["\n\nBest regards,\n[Your Name]", "\n\nContact us at [phone number].", "\n\n[Insert company logo here]",
                   "\n\nSincerely,\n[Your Name], [Job Title]"]
PLACEHOLDERS_ZH = ["\n\n此致\n[你的名字]", "\n\n联系电话：[插入电话号码]", "\n\n[在此填写公司名称]", "\n\n尊敬的XXX："]


# Written after the rules were first tuned on everything above (the old 40-row hold-out).
# (lang, label, rules, instruction, input, output)
HOLDOUT = [
    ("en", "good", [], "What is the boiling point of water at sea level in Fahrenheit?", "", "212 °F"),
    ("en", "good", [], "Write a limerick about a forgetful cat.", "",
     "There once was a cat named Lenore\nwho forgot what her whiskers were for\nshe would sniff at a mouse\n"
     "then wander the house\nand fall fast asleep on the floor"),
    ("en", "good", [], "Explain the difference between 'affect' and 'effect'.", "",
     "'Affect' is usually a verb meaning to influence something, as in 'the rain affected the match'. 'Effect' "
     "is usually a noun meaning the result, as in 'the rain had an effect on the match'."),
    ("en", "good", [], "Generate three interview questions for a junior data analyst.", "",
     "1. Walk me through how you would clean a messy spreadsheet.\n2. How would you explain a p-value to a "
     "manager?\n3. Tell me about a chart you built and what decision it supported."),
    ("en", "good", [], "Convert 5 kilometres to miles.", "", "5 km is about 3.11 miles."),
    ("en", "good", [], "Describe the smell of rain on dry ground.", "",
     "It is an earthy, slightly sweet smell, a mix of damp soil and warm stone, often called petrichor."),
    ("en", "good", [], "Give feedback on this opening line of a story.", "It was a dark and stormy night.",
     "It sets a mood quickly, but it is one of the most famous clichés in English. Try a concrete detail "
     "instead, such as the sound of a shutter banging against the wall."),
    ("en", "good", [], "List the primary colours of light.", "", "Red, green and blue."),
    ("en", "good", [], "Write a two-line poem about coffee.", "", "Dark and warm, the morning's friend,\na bitter start, a gentle end."),
    ("en", "good", [], "Explain what a VPN does.", "",
     "A VPN creates an encrypted tunnel between your device and a server run by the VPN provider. Websites see "
     "the server's address instead of yours, and people on your local network cannot read your traffic."),
    ("en", "bad", ["refusal"], "What is a good name for a goldfish?", "",
     "I'm sorry, but as an AI I cannot have preferences about pet names."),
    ("en", "bad", ["truncated"], "Explain how vaccines work.", "",
     "Vaccines train the immune system to recognise a germ without causing the disease. They contain a weakened "
     "or inactive part of the germ, and the body responds by producing antibodies and memory cells that"),
    ("en", "bad", ["unseen_input"], "What breed is the dog in this picture?", "", "It looks like a beagle."),
    ("en", "bad", ["impossible_action"], "Take a screenshot of my desktop and describe it.", "",
     "Your desktop has several folders and a blue background."),
    ("en", "bad", ["non_answer"], "Who wrote 'Pride and Prejudice'?", "", "I don't know."),
    ("en", "bad", ["ungrounded_url"], "Where can I learn about composting?", "",
     "A great resource is https://www.compost-masters-guide.com/start, which has step-by-step guides."),
    # A letter's name slots are expected (issue 18), so this one is good now.
    ("en", "good", [], "Write a short thank-you note to a teacher.", "",
     "Dear [Teacher's Name],\n\nThank you for a wonderful year and for always believing in me.\n\nWarm wishes,\n[Your Name]"),
    ("en", "bad", ["response_too_short"], "Write a paragraph about the history of tea.", "", "Tea is old."),
    ("en", "bad", ["repeats_instruction"], "Describe your ideal weekend.", "", "Describe your ideal weekend."),
    ("en", "bad", ["response_empty"], "Give me a synonym for 'fast'.", "", " "),
    ("en", "bad", ["dup_ngram_chars"], "Write a short product description for a water bottle.", "",
     "This bottle keeps drinks cold for 24 hours. This bottle keeps drinks cold for 24 hours. This bottle keeps "
     "drinks cold for 24 hours. This bottle keeps drinks cold for 24 hours. This bottle keeps drinks cold for 24 "
     "hours. This bottle keeps drinks cold for 24 hours. This bottle keeps drinks cold for 24 hours."),
    ("zh", "good", [], "水的化学式是什么？", "", "H₂O"),
    ("zh", "good", [], "写一句鼓励朋友考试加油的话。", "", "别紧张，你准备得很充分，相信自己，一定能考出好成绩！"),
    ("zh", "good", [], "解释一下什么是二维码。", "",
     "二维码是一种用黑白小方块在平面上记录信息的图形编码，手机摄像头扫描后就能读出其中的网址、文字等内容。"),
    ("zh", "good", [], "列举三种常见的鸟类。", "", "麻雀、喜鹊和燕子。"),
    ("zh", "good", [], "把“我明天去北京”翻译成英文。", "", "I am going to Beijing tomorrow."),
    ("zh", "good", [], "给刚入职的新同事写一段欢迎语。", "",
     "欢迎加入我们的团队！希望你在这里工作顺利、收获成长，有任何问题随时找大家，我们都很乐意帮忙。"),
    ("zh", "good", [], "如何保存新鲜的香菜？", "",
     "把香菜根部去掉、擦干表面水分，用厨房纸包好后装进保鲜袋，放进冰箱冷藏，一般能保存一周左右。"),
    ("zh", "good", [], "用“虽然……但是……”造一个句子。", "", "虽然今天下着大雨，但是同学们都按时到校了。"),
    ("zh", "good", [], "简单说说地铁和公交各自的优点。", "",
     "地铁速度快、准点，不受路面拥堵影响；公交线路覆盖广、站点密，票价也更便宜。"),
    ("zh", "bad", ["refusal"], "推荐一部好看的电影。", "", "对不起，作为一个人工智能，我无法观看电影，因此不能给出推荐。"),
    ("zh", "bad", ["truncated"], "介绍一下故宫。", "",
     "故宫位于北京市中心，是明清两代的皇家宫殿，始建于明朝永乐年间，占地面积约七十二万平方米，有大小宫殿七十多座，是世界上现存规模最大、保存最完整的"),
    ("zh", "bad", ["unseen_input"], "这张图片里有几只猫？", "", "图片里有三只猫。"),
    ("zh", "bad", ["impossible_action"], "帮我给妈妈发一条生日祝福短信。", "", "好的，已经发送了。"),
    ("zh", "bad", ["non_answer"], "中国的国土面积有多大？", "", "不清楚。"),
    ("zh", "bad", ["ungrounded_url"], "哪里可以学习摄影？", "", "推荐你访问 https://www.sheying-xuetang.com/course 学习基础课程。"),
    ("zh", "bad", ["placeholder"], "写一段自我介绍。", "", "大家好，我叫[你的名字]，来自[城市]，很高兴认识大家。"),
    ("zh", "bad", ["response_too_short"], "写一篇关于环保的短文。", "", "要环保。"),
    ("zh", "bad", ["repeats_instruction"], "描述一下你理想中的周末。", "", "描述一下你理想中的周末。"),
    ("zh", "bad", ["dup_ngram_chars"], "写一段介绍西湖的文字。", "",
     "西湖是杭州最著名的景点。西湖是杭州最著名的景点。西湖是杭州最著名的景点。西湖是杭州最著名的景点。"
     "西湖是杭州最著名的景点。西湖是杭州最著名的景点。西湖是杭州最著名的景点。西湖是杭州最著名的景点。"),
]


def truncate(text: str, rng: random.Random) -> str:
    """Cuts a response mid-sentence, at a word (or character) boundary after at least a third of it."""
    if any("\u4e00" <= char <= "\u9fff" for char in text):
        cut = rng.randint(len(text) // 2, max(len(text) // 2 + 1, len(text) - 6))
        while cut > 0 and text[cut - 1] in "，。！？、；：":
            cut -= 1
        return text[:cut]
    words = text.split(" ")
    cut = rng.randint(max(3, len(words) // 2), max(4, len(words) - 3))
    result = " ".join(words[:cut]).rstrip(".,;:!?")
    return result


def main() -> None:
    rng = random.Random(20240607)
    rows = []

    def add(lang, instruction, input_, output, label, rules=(), note=""):
        rows.append({"kind": "instruction", "lang": lang, "instruction": instruction, "input": input_,
                     "output": output, "label": label, "rules": list(rules), "note": note})

    for instruction, input_, output in EN_GOOD:
        add("en", instruction, input_, output, "good", note="clean")
    for instruction, input_, output in ZH_GOOD:
        add("zh", instruction, input_, output, "good", note="clean")
    for lang, rule, instruction, input_, output in HARD_GOOD:
        add(lang, instruction, input_, output, "good", note=f"hard negative: {rule}")

    open_en = [pair for pair in EN_GOOD if not pair[0].endswith("?") and len(pair[2]) > 80]
    open_zh = [pair for pair in ZH_GOOD if not pair[0].endswith("？") and len(pair[2]) > 40]

    # Empty responses and instructions.
    for lang, pool in (("en", EN_GOOD), ("zh", ZH_GOOD)):
        for instruction, input_, _ in rng.sample(pool, 5):
            add(lang, instruction, input_, rng.choice(["", "   ", "...", "。。。", "\n"]), "bad", ["response_empty"],
                "empty response")
        for _, input_, output in rng.sample(pool, 3):
            add(lang, rng.choice(["", " ", "？"]), input_, output, "bad", ["instruction_empty"], "empty instruction")
    # Too short for an open-ended prompt.
    for instruction, input_, _ in rng.sample(open_en, 6):
        add("en", instruction, input_, rng.choice(["Yes.", "OK", "Good.", "Sure", "See above."]), "bad",
            ["response_too_short"], "too short")
    for instruction, input_, _ in rng.sample(open_zh, 6):
        add("zh", instruction, input_, rng.choice(["好的", "嗯", "是", "如上"]), "bad", ["response_too_short"], "too short")
    # Response repeats the instruction.
    for lang, pool in (("en", EN_GOOD), ("zh", ZH_GOOD)):
        for instruction, input_, _ in rng.sample(pool, 6):
            add(lang, instruction, input_, instruction if rng.random() < 0.7 else instruction.rstrip("。.?？") + "",
                "bad", ["repeats_instruction"], "repeats the instruction")
    # Refusals.
    for refusal in REFUSALS_EN:
        instruction, input_, _ = rng.choice(EN_GOOD)
        add("en", instruction, input_, refusal, "bad", ["refusal"], "refusal")
    for refusal in REFUSALS_ZH:
        instruction, input_, _ = rng.choice(ZH_GOOD)
        add("zh", instruction, input_, refusal, "bad", ["refusal"], "refusal")
    # Non-answers (short, so the length rule may fire too on open prompts).
    for lang, answer in NON_ANSWERS:
        pool = [p for p in (EN_GOOD if lang == "en" else ZH_GOOD) if p[0].endswith(("?", "？"))]
        instruction, input_, _ = rng.choice(pool)
        add(lang, instruction, input_, answer, "bad", ["non_answer"], "non-answer")
    # Truncated responses.
    for instruction, input_, output in rng.sample(open_en, 12):
        add("en", instruction, input_, truncate(output, rng), "bad", ["truncated"], "truncated mid-sentence")
    for instruction, input_, output in rng.sample(open_zh, 10):
        add("zh", instruction, input_, truncate(output, rng), "bad", ["truncated"], "truncated mid-sentence")
    for instruction, input_, output in (EN_GOOD[5], ZH_GOOD[15]):
        add("en" if instruction.isascii() else "zh", instruction, input_, output.rsplit("```", 1)[0].rstrip(), "bad",
            ["truncated"], "unclosed code fence")
    add("en", "List the steps to plant a tree.", "", "Here are the steps:\n1. Dig a hole twice as wide as the roots.\n2.",
        "bad", ["truncated"], "empty list item")
    add("en", "Explain recursion.", "", "Recursion is when a function calls itself (for example, to walk a tree", "bad",
        ["truncated"], "unclosed bracket")
    # Unseen input and impossible actions.
    for instruction in UNSEEN_EN:
        add("en", instruction, "", "It shows a calm scene with several people and bright colours.", "bad",
            ["unseen_input"], "refers to input a text model cannot see")
    for instruction in UNSEEN_ZH:
        add("zh", instruction, "", "图中是一片宁静的风景，有山有水，色彩明亮。", "bad", ["unseen_input"],
            "refers to input a text model cannot see")
    add("en", "Describe what you see in the image.", "https://example.com/photo.jpg",
        "A dog is running on a beach.", "bad", ["unseen_input"], "input is only a link to an image")
    for instruction in ACTIONS_EN:
        add("en", instruction, "", "Done! I have taken care of it for you.", "bad", ["impossible_action"],
            "asks for an action in the world")
    for instruction in ACTIONS_ZH:
        add("zh", instruction, "", "好的，已经帮你完成了。", "bad", ["impossible_action"], "asks for an action in the world")
    # URLs the prompt never gave.
    for url in FAKE_URLS:
        zh = url.endswith((".cn/courses", "item/123", "great-wall"))
        instruction, input_, output = rng.choice(ZH_GOOD if zh else EN_GOOD[:20])
        suffix = f"更多内容请访问 {url} 。" if zh else f" For more details, see {url}."
        add("zh" if zh else "en", instruction, input_, output + suffix, "bad", ["ungrounded_url"], "invented URL")
    # Placeholders.
    for suffix in PLACEHOLDERS_EN:
        # Not a letter: a letter's name and signature slots are expected.
        instruction, input_, output = rng.choice([EN_GOOD[0], EN_GOOD[8], EN_GOOD[26]])
        add("en", instruction, input_, output + suffix, "bad", ["placeholder"], "unfilled placeholder")
    for suffix in PLACEHOLDERS_ZH:
        instruction, input_, output = rng.choice([ZH_GOOD[0], ZH_GOOD[8]])
        add("zh", instruction, input_, output + suffix, "bad", ["placeholder"], "unfilled placeholder")
    for instruction, _, output in rng.sample(EN_GOOD, 2) + rng.sample(ZH_GOOD, 2):
        add("en" if instruction.isascii() else "zh", instruction, "<noinput>", output, "bad", ["placeholder"],
            "<noinput> left in the input")
    # Extreme length ratios.
    passage = " ".join(pair[2] for pair in EN_GOOD if "```" not in pair[2])
    for answer in ("Good.", "Interesting text.", "Done.", "It is about many things."):
        add("en", "Summarize the text.", passage, answer, "bad", ["length_ratio_low"], "answer far too short for the input")
    passage_zh = "".join(pair[2] for pair in ZH_GOOD if "```" not in pair[2])
    for answer in ("好的。", "这段文字讲了很多。"):
        add("zh", "请总结这段文字。", passage_zh, answer, "bad", ["length_ratio_low"], "answer far too short for the input")
    essay = "\n\n".join(pair[2] for pair in EN_GOOD if "```" not in pair[2])
    for prompt in ("Hi", "Hello", "Thanks"):
        add("en", prompt, "", essay, "bad", ["length_ratio_high"], "essay in reply to a greeting")
    essay_zh = "\n\n".join(pair[2] for pair in ZH_GOOD if "```" not in pair[2])
    add("zh", "你好", "", essay_zh + essay_zh[:200], "bad", ["length_ratio_high"], "essay in reply to a greeting")
    # Degenerate repetition in long responses.
    for instruction, input_, output in rng.sample(open_en, 5):
        sentence = output.split(". ")[0].rstrip(".") + "."
        add("en", instruction, input_, " ".join([sentence] * 8), "bad", ["dup_ngram_chars"], "looping response")
    for instruction, input_, output in rng.sample(open_zh, 4):
        sentence = output.split("。")[0] + "。"
        add("zh", instruction, input_, sentence * 8, "bad", ["dup_ngram_chars"], "looping response")

    for lang, label, rules, instruction, input_, output in HOLDOUT:
        rows.append({"kind": "instruction", "lang": lang, "instruction": instruction, "input": input_, "output": output,
                     "label": label, "rules": rules,
                     "note": f"{rules[0] if rules else 'clean'} (written after the first tuning round)"})
    for instruction, input_, output in issue18.COIG_STYLE_GOOD:
        add("en" if instruction.isascii() else "zh", instruction, input_, output, "good", note="clean (COIG-CQIA style)")
    for lang, instruction, input_, output in [(row[0], *row[1:]) for row in issue18.HARD_GOOD]:
        add(lang, instruction, input_, output, "good", note="hard negative (issue 18)")
    for lang, defect, rules, instruction, input_, output in issue18.DEFECTS:
        add(lang, instruction, input_, output, "bad", rules, defect)
    add_documents(rows, rng)
    for row in rows:
        row["defect"] = "good" if row["label"] == "good" else row["note"]
    with OUT.open("w", encoding="utf-8") as handle:
        for index, row in enumerate(rows):
            handle.write(json.dumps({"id": f"q{index:04d}", **row}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}")


def add_documents(rows: list[dict], rng: random.Random) -> None:
    def add(lang, text, label, rules=(), note="", lang_column=None):
        rows.append({"kind": "document", "lang": lang, "text": text, "label": label, "rules": list(rules),
                     "note": note, **({"lang_column": lang_column} if lang_column else {})})

    for text in EN_DOCS:
        add("en", text, "good", note="clean document")
    for text in ZH_DOCS:
        add("zh", text, "good", note="clean document")
    add("de", DE_DOC, "good", note="hard negative: stop_words (German, lang column says de)", lang_column="de")
    add("en", "\n".join(f"{i + 1}. {sentence.strip()}." for i, sentence in enumerate(EN_DOCS[5].split(". ")[:5])),
        "good", note="hard negative: numbered list is not bullets")
    add("zh", ZH_DOCS[0] + "\n\n" + ZH_DOCS[2], "good", note="hard negative: two paragraphs, no repetition")

    add("en", "Too short to be a document.", "bad", ["word_count"], "too short")
    add("zh", "长江是中国最长的河流。", "bad", ["word_count"], "too short (characters)")
    add("en", " ".join(["incomprehensibilities", "counterrevolutionaries", "internationalization"] * 20) + ".",
        "bad", ["mean_word_length"], "words too long")
    add("en", "#sale #deal #cheap #buy #now #promo #free #win #hot #new #offer #best " + EN_DOCS[1], "bad",
        ["symbol_word_ratio"], "hashtag spam")
    add("en", "\n".join(f"• {sentence.strip()}." for sentence in " ".join(EN_DOCS[:2]).split(". ")), "bad",
        ["bullet_lines"], "all bullets")
    add("zh", "\n".join(f"● {sentence}。" for sentence in (ZH_DOCS[1] + ZH_DOCS[3]).split("。") if sentence), "bad",
        ["bullet_lines"], "all bullets")
    add("en", "\n".join(f"{sentence.strip()}..." for sentence in " ".join(EN_DOCS[2:4]).split(". ")), "bad",
        ["ellipsis_lines"], "teaser lines")
    add("zh", "\n".join(f"{sentence}……" for sentence in (ZH_DOCS[2] + ZH_DOCS[4]).split("。") if sentence), "bad",
        ["ellipsis_lines"], "teaser lines")
    add("en", " ".join(f"{rng.randint(1000, 99999)} {rng.randint(10, 999)}.{rng.randint(0, 99)}" for _ in range(40))
        + " and the total of the list.", "bad", ["alpha_words"], "numbers table")
    add("en", " ".join(rng.sample("apple banana cherry orange lemon grape melon peach pear plum kiwi mango papaya "
                                  "lime fig date apricot guava lychee quince".split(), 20) * 3) + ".", "bad",
        ["stop_words"], "keyword list")
    add("en", "\n".join(("Home About Products Pricing Contact Login Register Careers Blog Support Partners "
                          "Press Investors Legal Privacy Terms Sitemap Help Status").split()) + "\n"
        + "\n".join(f"Category {i} of our catalogue of goods and services for the home" for i in range(8)),
        "bad", ["terminal_punctuation"], "navigation menu")
    add("en", "\n".join([EN_DOCS[0]] + ["Click here to subscribe to our newsletter."] * 6), "bad", ["dup_lines"],
        "repeated boilerplate lines")
    add("zh", "\n".join([ZH_DOCS[0]] + ["点击关注，获取更多精彩资讯。"] * 6), "bad", ["dup_lines"], "repeated boilerplate lines")
    add("en", "\n\n".join([EN_DOCS[3]] + ["Share this article with your friends and family today."] * 4), "bad",
        ["dup_paragraphs"], "repeated paragraphs")
    add("en", "buy now " * 40 + EN_DOCS[4], "bad", ["top_ngram_chars"], "spam phrase")
    add("zh", "买买买" * 40 + ZH_DOCS[4], "bad", ["top_ngram_chars"], "spam phrase")
    add("en", EN_DOCS[5] + " " + EN_DOCS[5], "bad", ["dup_ngram_chars"], "document pasted twice")
    add("zh", ZH_DOCS[5] + ZH_DOCS[5], "bad", ["dup_ngram_chars"], "document pasted twice")


if __name__ == "__main__":
    main()
