"""The quality stage on small tables: every rule in English and Chinese, reasons, the combined score."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import ValidationError
from sftforge.operators import schema
from sftforge.operators.quality.scorer import DocumentRules, PairRules, QualityConfig, QualityScorer

EN_DOC = (
    "Rivers shape the land they cross. Over thousands of years a river carves valleys, moves sand and "
    "stones, and builds wide plains where it floods. People have settled along rivers since the first "
    "farms, because the water feeds crops and carries boats. Today many rivers are managed with dams and "
    "levees, which protect towns from floods but also change how fish move and where the sediment ends up."
)
ZH_DOC = (
    "长江是中国最长的河流，全长约六千三百公里，流经青海、西藏、四川、重庆、湖北、湖南、江西、安徽、江苏和上海等地。"
    "长江流域气候温和，雨量充沛，自古以来就是重要的农业区。沿江的城市依靠水运发展商业，今天的长江仍然是中国最繁忙的内河航道之一。"
)
DE_DOC = (
    "Die Stadtbibliothek bleibt am Wochenende geschlossen, weil das Dach repariert wird. Ab Montag können "
    "Leserinnen und Leser wieder Bücher ausleihen, Zeitungen lesen und an den Computern arbeiten. Während "
    "der Bauarbeiten steht im Rathaus eine kleine Ausgabestelle bereit, in der vorbestellte Medien abgeholt "
    "werden können. Die Leitung bittet um Verständnis für die Einschränkungen und dankt allen Besuchern."
)
EN_ANSWER = (
    "Sunlight contains every colour of visible light. Air molecules scatter short blue wavelengths far more "
    "than long red ones, so blue light reaches our eyes from every direction and the whole sky looks blue."
)
ZH_ANSWER = "光合作用是绿色植物利用光能，把二氧化碳和水转化为有机物，并释放出氧气的过程。它主要在叶绿体中进行。"


def documents(*texts: str, lang: list[str | None] | None = None) -> pa.Table:
    columns = {
        schema.DOC_ID: [f"d{i}" for i in range(len(texts))],
        schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
        schema.TEXT: list(texts),
    }
    if lang is not None:
        columns[schema.LANG] = lang
    return pa.table(columns)


def pairs(*rows: tuple[str, str, str]) -> pa.Table:
    return pa.table({
        schema.DOC_ID: [f"p{i}" for i in range(len(rows))],
        schema.KIND: [schema.KIND_INSTRUCTION] * len(rows),
        schema.INSTRUCTION: [row[0] for row in rows],
        schema.INPUT: [row[1] for row in rows],
        schema.OUTPUT: [row[2] for row in rows],
    })


def reasons(table: pa.Table, config: QualityConfig | None = None) -> list[str | None]:
    """The reason of each row, in input order (None when kept)."""
    result = QualityScorer(config or QualityConfig())(table)
    by_id = dict(zip(result.rejected.column(schema.DOC_ID).to_pylist(),
                     result.rejected.column(schema.REJECT_REASON).to_pylist()))
    return [by_id.get(doc_id) for doc_id in table.column(schema.DOC_ID).to_pylist()]


def test_clean_documents_are_kept_in_both_languages():
    result = QualityScorer(QualityConfig())(documents(EN_DOC, ZH_DOC))
    assert result.rejected.num_rows == 0
    scores = result.kept.column(schema.QUALITY_SCORE).to_pylist()
    assert all(0.5 < score <= 1.0 for score in scores)
    assert result.kept.column(schema.QUALITY_WORD_COUNT).to_pylist() == [68, 101]
    assert result.kept.column(schema.QUALITY_MEAN_WORD_LENGTH).to_pylist()[1] is None  # not for Chinese


@pytest.mark.parametrize(
    "text, rule",
    [
        ("Too short to be a document.", "word_count(6<50 words)"),
        (" ".join(["incomprehensibilities"] * 60) + ".", "mean_word_length(21.02>10.00)"),
        ("#tag #tag #tag #tag #tag #tag #tag #tag #tag #tag " + EN_DOC, "symbol_word_ratio(0.13>0.10)"),
        ("\n".join(f"• item number {i} of the list with the words we need" for i in range(12)), "bullet_lines(1.00>0.90)"),
        ("\n".join(f"Story {i}: the hero walks to the castle and then..." for i in range(10)), "ellipsis_lines(1.00>0.30)"),
        (" ".join(str(1000 + i) for i in range(60)) + " the and of it.", "alpha_words(0.06<0.80)"),
        (" ".join(f"Market{i} prices rose quickly yesterday" for i in range(12)) + ".", "stop_words(0<2)"),
        ("\n".join(f"Line {i} has words but ends without a stop and it is of the kind we see" for i in range(6)),
         "terminal_punctuation(0.00<0.12)"),
        ("\n".join([EN_DOC] + ["Click here to subscribe."] * 5), "dup_lines(0.67>0.30)"),
        ("\n\n".join([EN_DOC] + ["Click here to subscribe to our newsletter today."] * 3), "dup_paragraphs(0.50>0.30)"),
        ("buy now " * 40 + EN_DOC, "top_2gram_chars(0.42>0.20)"),
        (EN_DOC + " " + EN_DOC, "dup_5gram_chars(0.50>0.15)"),
    ],
)
def test_document_rules_in_english(text, rule):
    reason = reasons(documents(text))[0]
    assert reason is not None and rule in reason.split("; "), reason


@pytest.mark.parametrize(
    "text, rule",
    [
        ("长江是中国最长的河流。", "word_count(10<80 chars)"),
        ("\n".join(f"• 第{i}条：请关注我们的公众号获取更多精彩内容和最新消息" for i in range(8)), "bullet_lines(1.00>0.90)"),
        ("\n".join(f"第{i}章 主人公走进了城堡然后……" for i in range(8)) + ZH_DOC, "ellipsis_lines"),
        (ZH_DOC + "买买买" * 40, "top_2gram_chars"),
        (ZH_DOC + ZH_DOC, "dup_5gram_chars(0.50>0.15)"),
        ("\n".join([ZH_DOC] + ["点击关注，获取更多资讯。"] * 4), "dup_lines(0.60>0.30)"),
    ],
)
def test_document_rules_in_chinese(text, rule):
    reason = reasons(documents(text))[0]
    assert reason is not None and any(part.startswith(rule) for part in reason.split("; ")), reason


def test_english_only_rules_skip_chinese_and_follow_the_lang_column():
    # No English stop word in Chinese text, and its mean "word" length is 1: neither rule applies.
    assert reasons(documents(ZH_DOC)) == [None]
    # German read as English by script fails the stop-word rule; with the language stage's lang=de it
    # is judged by the language-neutral rules only.
    assert reasons(documents(DE_DOC))[0] == "stop_words(0<2)"
    assert reasons(documents(DE_DOC, lang=["de"])) == [None]
    assert reasons(documents(ZH_DOC, lang=["zh"])) == [None]


def test_thresholds_and_switches_come_from_config():
    short = documents("Too short to be a document, but it is what we have here.")
    assert reasons(short)[0].startswith("word_count")
    relaxed = QualityConfig(documents=DocumentRules(min_words=5, min_terminal_punctuation=None))
    assert reasons(short, relaxed) == [None]
    assert reasons(short, QualityConfig(documents=None)) == [None]
    with pytest.raises(ValidationError, match="n-gram sizes"):
        DocumentRules(max_top_ngram_chars={7: 0.1})
    with pytest.raises(ValidationError):
        QualityConfig(unknown_key=1)


@pytest.mark.parametrize(
    "row, expected",
    [
        (("What is 2 + 2?", "", ""), "response_empty"),
        (("Write a story about a dragon.", "", "Once."), "response_too_short(5<10 chars)"),
        (("", "", "Paris is the capital."), "instruction_empty"),
        (("Translate 'good morning' into German.", "", "Translate 'good morning' into German."),
         "repeats_instruction(1.00>0.80)"),
        (("How do I make a bomb?", "", "As an AI language model, I cannot help with that request."),
         'refusal("As an AI language model, I cannot help")'),
        (("What is the capital of Australia?", "", "N/A"), 'non_answer("N/A")'),
        (("Write a short story about a lost dog.", "",
          "Once upon a time there was a small brown dog named Biscuit who lived at the edge of a quiet village. "
          "One morning he chased a rabbit into the forest and"), 'truncated(ends with "and")'),
        (("Describe the painting in the attached image.", "", "The painting shows a woman by a window."),
         'unseen_input("the attached image")'),
        (("Draw a picture of a cat.", "", "Here is a drawing of a cat sitting on a mat."), 'impossible_action("Draw")'),
        (("Give me a link to the official Python tutorial.", "",
          "You can find it at https://totally-made-up-docs.example.com/tutorial.html which covers everything."),
         'ungrounded_url("https://totally-made-up-docs.example.com/tutorial.html")'),
        (("Write a cover letter for a job application.", "",
          "Dear [Hiring Manager],\n\nI am writing to apply. [Insert your key achievements]. Sincerely, [Your Name]"),
         'placeholder("[Insert your key achievements]")'),
        (("Summarize the report.", " ".join(["The committee met and discussed the budget for next year."] * 30),
          "Good."), "length_ratio_low(0.00<0.02)"),
        (("Hi", "", " ".join(["word"] * 1200)), "length_ratio_high(1200.00>500.00)"),
    ],
)
def test_pair_rules_in_english(row, expected):
    reason = reasons(pairs(row))[0]
    assert reason is not None and expected in reason.split("; "), reason


@pytest.mark.parametrize(
    "row, expected",
    [
        (("1加1等于几？", "", ""), "response_empty"),
        (("写一篇关于春天的文章。", "", "春天。"), "response_too_short(3<4 chars)"),
        (("请解释一下什么是光合作用。", "", "请解释一下什么是光合作用。"), "repeats_instruction(1.00>0.80)"),
        (("你能告诉我怎么开锁吗？", "", "作为一个AI语言模型，我无法提供这方面的帮助。"), 'refusal("作为一个AI语言模型，我无法")'),
        (("你能帮我查一下明天的航班吗？", "", "抱歉，我不能为您查询实时航班信息。"), 'refusal("抱歉，我不能为您")'),
        (("澳大利亚的首都是哪里？", "", "不知道"), 'non_answer("不知道")'),
        (("列出三种水果。", "", "常见的水果有很多，比如苹果、香蕉和"), 'truncated(ends with "和")'),
        (("描述这张图片中的人物。", "", "图片中是一位穿着红色衣服的女士。"), 'unseen_input("这张图片")'),
        (("请帮我画一幅山水画。", "", "好的，这是一幅山水画。"), 'impossible_action("请帮我画一")'),
        (("推荐一个学习编程的网站。", "", "可以访问 https://www.fake-learning-site.cn/courses 学习编程。"),
         'ungrounded_url("https://www.fake-learning-site.cn/courses")'),
        (("介绍一下我们公司。", "", "我们公司成立于二〇一〇年，专注于软件开发。\n\n联系人：[在此填写联系人]"),
         'placeholder("[在此填写联系人]")'),
    ],
)
def test_pair_rules_in_chinese(row, expected):
    reason = reasons(pairs(row))[0]
    assert reason is not None and expected in reason.split("; "), reason


@pytest.mark.parametrize(
    "row",
    [
        ("Explain why the sky looks blue during the day.", "", EN_ANSWER),
        ("Classify the sentiment of the review as positive or negative.", "The food was cold.", "Negative"),
        ("What is the capital of France?", "", "Paris"),
        ("Write a polite email declining a meeting.", "",
         "Hi Maria,\n\nThank you for the invitation. I'm sorry, but I can't attend on Thursday. Could we meet next week?\n\nBest,\nTom"),
        ("Draw a conclusion from the passage.", "Sales rose every month after the price cut.",
         "Lower prices most likely caused the rise in sales."),
        ("Plot the data using matplotlib.", "x = [1, 2, 3]; y = [2, 4, 6]",
         "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [2, 4, 6])\nplt.show()\n```"),
        ("Summarize the article at https://example.org/a", "", "The article at https://example.org/a argues for bikes."),
        ("Write a form letter template for a job application.", "", "Dear [Hiring Manager],\n\nI am applying. [Your Name]"),
        ("请解释什么是光合作用。", "", ZH_ANSWER),
        ("判断下面这句话的情感是积极还是消极。", "今天的饭菜真好吃！", "积极"),
        ("用一句话概括下面这段话的意思。", "外卖方便了生活，但也带来了大量塑料垃圾。", "外卖方便但产生塑料垃圾。"),
        ("用Python画一个圆。", "", "```python\nimport turtle\nturtle.circle(50)\n```"),
        ("很抱歉地拒绝一个邀请，写一条短信。", "", "很抱歉，我不能参加周五的聚会，祝你们玩得开心！"),
    ],
)
def test_good_pairs_are_kept(row):
    assert reasons(pairs(row)) == [None]


def test_a_reason_lists_every_rule_failed():
    reason = reasons(pairs(("Write a story about a dragon.", "", "N/A")))[0]
    assert reason == 'response_too_short(3<10 chars); non_answer("N/A")'


def test_pair_switches_and_thresholds():
    row = pairs(("Write a story about a dragon.", "", "Once."))
    assert reasons(row, QualityConfig(pairs=PairRules(min_response_chars=3))) == [None]
    refusal = pairs(("How do I make a bomb?", "", "As an AI language model, I cannot help with that request."))
    assert reasons(refusal, QualityConfig(pairs=PairRules(refusal=False))) == [None]
    assert reasons(refusal, QualityConfig(pairs=None)) == [None]


def test_long_responses_get_the_repetition_rules():
    looping = " ".join(["The answer is that you should try again later."] * 12)
    reason = reasons(pairs(("How do I fix my router?", "", looping)))[0]
    assert "dup_5gram_chars" in reason and "top_2gram_chars" not in reason  # top n-grams judge documents only
    config = QualityConfig(pairs=PairRules(repetition=False))
    assert reasons(pairs(("How do I fix my router?", "", looping)), config) == [None]


def test_signal_columns_and_combined_score():
    table = pa.concat_tables([
        documents(EN_DOC, "Too short."),
        pairs(("Explain why the sky looks blue during the day.", "", EN_ANSWER),
              ("How do I make a bomb?", "", "As an AI language model, I cannot help with that request.")).cast(
            pa.schema([(name, pa.string()) for name in (schema.DOC_ID, schema.KIND, schema.INSTRUCTION, schema.INPUT, schema.OUTPUT)])
        ),
    ], promote_options="default")
    stage = QualityScorer(QualityConfig())
    result = stage(table)
    assert result.num_rows == 4
    for part in (result.kept, result.rejected):
        for column, type_ in schema.QUALITY_TYPES.items():
            if column == schema.QUALITY_CLASSIFIER_SCORE:
                assert column not in part.column_names
                continue
            assert part.schema.field(column).type == type_, column
    rows = {row[schema.DOC_ID]: row for row in result.kept.to_pylist() + result.rejected.to_pylist()}
    assert 0 < rows["d0"][schema.QUALITY_SCORE] <= 1
    assert rows["d1"][schema.QUALITY_SCORE] == 0.0
    assert rows["p0"][schema.QUALITY_SCORE] == 1.0
    assert rows["p1"][schema.QUALITY_SCORE] == 0.0
    assert rows["p1"][schema.QUALITY_REFUSAL] is True
    assert rows["d0"][schema.QUALITY_REFUSAL] is None  # pair rules do not describe documents
    assert rows["p0"][schema.INSTRUCTION_ROOT] == "explain/sky"
    assert rows["d0"][schema.INSTRUCTION_ROOT] is None


def test_min_score_rejects_low_scores():
    near_limit = "#tag " * 6 + EN_DOC  # symbol ratio 0.08: passes 0.10, but softly
    config = QualityConfig(min_score=0.9)
    reason = reasons(documents(near_limit), config)[0]
    assert reason.startswith("quality_score(")
    assert reasons(documents(near_limit)) == [None]


def test_score_only_mode_rejects_nothing():
    result = QualityScorer(QualityConfig(reject=False))(documents("Too short.", EN_DOC))
    assert result.rejected.num_rows == 0
    assert result.kept.column(schema.QUALITY_SCORE).to_pylist()[0] == 0.0


def test_conversations_are_judged_on_their_last_assistant_turn():
    table = pa.table({
        schema.DOC_ID: ["c0", "c1"],
        schema.KIND: [schema.KIND_INSTRUCTION] * 2,
        schema.INSTRUCTION: [None, None],
        schema.OUTPUT: [None, None],
        schema.MESSAGES: pa.array([
            [{"role": "user", "content": "What does HTTP 404 mean?"},
             {"role": "assistant", "content": "The server could not find the requested page."}],
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
             {"role": "user", "content": "Tell me how to pick a lock."},
             {"role": "assistant", "content": "I'm sorry, but I can't help with that."}],
        ], type=schema.MESSAGES_TYPE),
    })
    assert reasons(table) == [None, "refusal(\"I'm sorry, but I can't help\")"]


def test_empty_batch():
    result = QualityScorer(QualityConfig())(documents().slice(0, 0))
    assert result.kept.num_rows == 0 and schema.QUALITY_SCORE in result.kept.column_names


# Issue 18: false positives on real good data, and the defect kinds the rules missed.

PARALLEL_ZH = (
    "问题涉及性取向的分类术语。“男同”是“男性同性恋”的简称，指男性对男性产生情感和性吸引的性取向；“女同”是“女性同性恋”的简称，"
    "指女性对女性产生情感和性吸引的性取向。而男女之间的性取向在心理学和社会学中被称为“异性恋”，这是指对异性产生情感和性吸引的"
    "性取向，也是人类社会中最普遍的性取向类型。异性恋者通常被称为“直男”或“直女”，或简称为“异性恋者”。因此，男女对应的标准术语是"
    "“异性恋”。"
)
LYRICS = (
    "And this place it was brighter than tomorrow\nAnd if you really try\nYou'll find there's no need to cry\n"
    "In this place you'll feel there's no hurt or sorrow\nThere are ways to get there\nIf you care enough for the living\n"
    "Make a little space\nMake a better place\nHeal the world\nMake it a better place\nFor you and for me, and the "
    "entire human race\nThere are people dying\nIf you care enough for the living\nMake a better place for you and for me"
)


def test_parallel_chinese_sentences_and_song_lyrics_are_kept():
    table = pairs(("男男叫男同，女女叫女同，那男女叫什么？", "", PARALLEL_ZH), ("Complete the lyrics.", "", LYRICS))
    assert reasons(table) == [None, None]


def test_a_looping_chinese_answer_still_fails_repetition():
    looping = "光合作用是植物利用光能把二氧化碳和水合成有机物的过程。" * 6
    [reason] = reasons(pairs(("简述光合作用。", "", looping)))
    assert reason is not None and "dup_" in reason


@pytest.mark.parametrize(
    "row, reason",
    [
        (("Describe the ocean in one paragraph.", "", "The ocean is " + "very " * 20 + "big."),
         "repeated_word(very x20)"),
        (("你觉得这部电影怎么样？", "", "好" * 20), "repeated_word(好 x20)"),
        (("鱼会口渴吗？", "", "嗯"), 'non_answer("嗯")'),
        (("Classify the sentiment of the tweet.", "", "Positive"),
         'unseen_input("Classify the sentiment of the tweet (no input)")'),
        (("根据我发的照片，帮我看看这是什么植物。", "", "这是一株绿萝，叶片呈心形，适合室内养护。"), 'unseen_input("发的照片")'),
        (("What is 15% of 240?", "", "15% of 240 is"), 'truncated(ends with "is")'),
    ],
)
def test_new_defect_kinds(row, reason):
    assert reasons(pairs(row)) == [reason]


def test_repeated_word_writes_its_signal_and_can_be_turned_off():
    table = pairs(("Describe the ocean.", "", "The ocean is " + "very " * 20 + "big."))
    result = QualityScorer(QualityConfig())(table)
    assert result.rejected.column(schema.QUALITY_REPEATED_RUN).to_pylist() == [20]
    assert reasons(table, QualityConfig(pairs=PairRules(max_repeated_run=None))) == [None]
