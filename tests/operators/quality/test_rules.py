"""The pure quality signals, on plain strings, English and Chinese."""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import pytest
from sftforge.operators.quality import rules
from sftforge.operators.text import cjk_ratio, is_cjk


def test_cjk_class_matches_is_cjk_on_every_code_point():
    pattern = re.compile(f"[{rules.CJK_PY}]")
    for code in range(0x1000, 0x30000):
        char = chr(code)
        assert bool(pattern.match(char)) == is_cjk(char), hex(code)


def test_cjk_fractions_agree_with_cjk_ratio():
    texts = ["你好，世界", "hello world", "混合 mixed 文本 text", "", "   ", "日本語のテキスト", "한국어 문장"]
    assert np.allclose(rules.cjk_fractions(texts), [cjk_ratio(text) for text in texts])


def test_tokens_count_cjk_characters_and_drop_punctuation():
    tokens = rules.tokenize(["你好，世界。hello world", "The cat, the hat.", "", None])
    assert tokens.words.tolist() == [6, 4, 0, 0]
    assert rules.count_units(["写一首诗", "Write a poem about autumn"]).tolist() == [4, 5]


def test_count_units_equals_token_count_on_random_mixed_text():
    rng = random.Random(11)
    alphabet = list("abc xyz 你好世界，。！、“”…—·-'#12 \n\t") + ["ab", "日本", "한국"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    assert rules.count_units(texts).tolist() == rules.tokenize(texts).words.tolist()


def test_word_signals_english():
    signals = rules.word_signals(["The cat and the dog sat with a hat. ### ...", "12345 67890 $$$ ok"])
    assert signals["words"].tolist() == [9, 4]  # "###" and "..." are punctuation, not words
    assert signals["stop_words"].tolist() == [3, 0]  # the, and, with
    assert signals["symbol_word_ratio"][0] == pytest.approx(4 / 9)  # three '#' and one '...'
    assert signals["alpha_words"][1] == pytest.approx(1 / 4)


def test_word_signals_chinese_ignore_punctuation():
    signals = rules.word_signals(["长江是中国最长的河流，全长约六千三百公里。"])
    assert signals["words"][0] == 19
    assert signals["alpha_words"][0] == 1.0


def test_line_signals():
    text = "• one\n• two\n• three\nwait...\nwait...\n\nDone.\n\nDone."
    signals = rules.line_signals([text, "一行。\n二行…\n三行"])
    assert signals["lines"][0] == 7
    assert signals["bullet_lines"][0] == pytest.approx(3 / 7)
    assert signals["ellipsis_lines"][0] == pytest.approx(2 / 7)
    assert signals["dup_lines"][0] == pytest.approx(2 / 7)  # the second "wait..." and "Done."
    assert signals["dup_paragraphs"][0] == pytest.approx(1 / 3)
    assert signals["terminal_punctuation"][1] == pytest.approx(2 / 3)  # 。 and … end lines, 三行 does not


def _reference_ngrams(words: list[str], n: int) -> tuple[float, float]:
    """Gopher's signals computed the slow, obvious way."""
    words = [word.lower() for word in words]
    total = sum(len(word) for word in words)
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams or total == 0:
        return 0.0, 0.0
    counts = Counter(grams)
    gram, count = max(counts.items(), key=lambda item: (item[1], sum(map(len, item[0]))))
    top = min(count * sum(map(len, gram)) / total, 1.0) if count >= 2 else 0.0
    seen, covered = set(), [False] * len(words)
    for i, gram in enumerate(grams):
        if gram in seen:
            for j in range(i, i + n):
                covered[j] = True
        seen.add(gram)
    dup = sum(len(word) for word, flag in zip(words, covered) if flag) / total
    return top, dup


def test_ngram_signals_match_a_reference_on_random_texts():
    rng = random.Random(7)
    vocabulary = ["buy", "now", "the", "cat", "sat", "on", "a", "mat", "very", "good"]
    texts = [" ".join(rng.choice(vocabulary[: rng.randint(2, 10)]) for _ in range(rng.randint(0, 60)))
             for _ in range(40)]
    signals = rules.ngram_signals(rules.tokenize(texts))
    for row, text in enumerate(texts):
        for n in (2, 3, 4):
            top, _ = _reference_ngrams(text.split(), n)
            counted = max(Counter(tuple(text.split()[i:i + n]) for i in range(len(text.split()) - n + 1)).values(), default=0)
            if counted >= 2:
                # Ties between equally frequent n-grams may pick another n-gram of another length.
                assert signals["top"][n][row] == pytest.approx(top, abs=0.35)
            else:
                assert signals["top"][n][row] == 0.0
        for n in (5, 7, 10):
            _, dup = _reference_ngrams(text.split(), n)
            assert signals["dup"][n][row] == pytest.approx(dup), (text, n)


def test_ngram_signals_on_chinese_count_characters():
    signals = rules.ngram_signals(rules.tokenize(["买买买买买买买买买买买买", "春眠不觉晓，处处闻啼鸟。"]))
    assert signals["dup"][5][0] > 0.5
    assert signals["dup"][5][1] == 0.0
    assert signals["top"][2][1] == 0.0


def test_ngram_signals_only_for_selected_rows():
    signals = rules.ngram_signals(rules.tokenize(["a b a b a b a b", "a b a b a b a b"]), rows=np.array([True, False]))
    assert signals["top"][2][0] == 1.0
    assert np.isnan(signals["top"][2][1])


@pytest.mark.parametrize(
    "instruction, closed",
    [
        ("Classify the sentiment of the review.", True),
        ("What is the capital of France?", True),
        ("How many legs does a spider have?", True),
        ("Why is the sky blue?", False),
        ("Write a story about a dragon.", False),
        ("Explain photosynthesis.", False),
        ("判断下面这句话的情感是积极还是消极。", True),
        ("北京是中国的首都吗？", True),
        ("为什么冬天人们更容易感冒？", False),
        ("写一篇关于春天的文章。", False),
    ],
)
def test_closed_tasks(instruction, closed):
    assert rules.closed_tasks([instruction])[0] == closed


def test_instruction_overlap():
    overlap = rules.instruction_overlap(
        ["Translate 'good morning' into German.", "Sort these letters: c b a", "What is the capital of France?",
         "请解释什么是光合作用。", "Is the sky red or blue?", "计算：12乘以15等于多少？",
         "Repeat after me: the quick brown fox."],
        ["Translate 'good morning' into German.", "a b c", "The capital of France is Paris.",
         "请解释什么是光合作用", "Blue", "12乘以15等于180。", "The quick brown fox."],
    )
    assert overlap[0] == 1.0
    assert overlap[1] == 0.0
    assert overlap[2] < 0.8
    assert overlap[3] == 1.0
    assert np.isnan(overlap[4])  # a one-word answer is not "of comparable length"
    assert overlap[5] < 0.8  # restating the question before answering it
    assert np.isnan(overlap[6])  # asked to repeat


@pytest.mark.parametrize(
    "response, phrase",
    [
        ("As an AI language model, I cannot help with that request.", "As an AI language model, I cannot help"),
        ("I'm sorry, but I can't help with that.", "I'm sorry, but I can't help"),
        ("I cannot fulfill this request.", "I cannot fulfill this"),
        ("I don't have personal opinions.", "I don't have personal opinions"),
        ("作为一个AI语言模型，我无法提供这方面的帮助。", "作为一个AI语言模型，我无法"),
        ("抱歉，我不能为您提供这个信息。", "抱歉，我不能为您"),
        ("我无法回答这个问题。", "我无法回答"),
    ],
)
def test_refusals_found(response, phrase):
    flags, evidence = rules.refusals([response])
    assert flags[0]
    assert evidence[0] == phrase


@pytest.mark.parametrize(
    "response",
    [
        "I'm sorry, but I can't attend the meeting on Friday; could we move it to Monday?",
        "I cannot stress this enough: sleep matters.",
        "As an AI researcher, Dr. Lee studies neural networks.",
        "很抱歉，我不能参加周五的会议。",
        "I don't have personal opinions, but many people think the film is too long.",
        "他说：“我无法相信这是真的。”",
        "Sure! Here are three ideas.",
    ],
)
def test_refusals_not_found(response):
    assert not rules.refusals([response])[0][0]


def test_non_answers():
    flags, evidence = rules.non_answers(
        ["N/A", "I don't know.", "不知道", "我不知道。", "I don't know, maybe Paris?", "None of the above.", "No",
         "I don't know much about cars, but here is a long explanation of how engines work in general terms."]
    )
    assert flags.tolist() == [True, True, True, True, True, False, False, False]
    assert evidence[0] == "N/A" and evidence[2] == "不知道"


@pytest.mark.parametrize(
    "response, cjk, expected",
    [
        ("Once upon a time there was a dog named Biscuit who lived in a village. One morning he chased a rabbit and",
         False, 'ends with "and"'),
        ("Here is the code:\n```python\nprint('hi')", False, "unclosed code fence"),
        ("The steps are as follows:", False, 'ends with ":"'),
        ("He said (quietly, to nobody in particular) that he would (perhaps", False, 'unclosed "("'),
        ("1. Preheat the oven.\n2. Mix the flour.\n3.", False, "empty list item"),
        ("It was late. The rain had stopped and the streets were empty when she finally decided to walk home",
         False, "ends mid-sentence"),
        ("他喜欢的水果有苹果、香蕉和", True, 'ends with "和"'),
        ("这是第一句话。这是一个很长的句子但是它没有写完就突然停在了这里没有任何标点符号结尾", True, "ends mid-sentence"),
    ],
)
def test_truncations_found(response, cjk, expected):
    flags, evidence = rules.truncations([response], np.array([cjk]))
    assert flags[0]
    assert evidence[0] == expected


@pytest.mark.parametrize(
    "response, cjk",
    [
        ("Paris", False),
        ("The answer is 42", False),
        ("Invitation to be a panelist for the CVPR 2023 workshop on Multimodal Learning", False),
        ("amazingly, astonishingly, unexpectedly, incredibly, unbelievably", False),
        ("```python\nprint('hi')\n```", False),
        ("1. Apples\n2. Bananas\n3. Cherries", False),
        ("秋风轻轻吹过田野，\n稻谷弯腰笑迎丰收，\n归雁排成一行向南飞", True),
        ("光合作用是绿色植物利用光能制造有机物的过程。", True),
    ],
)
def test_truncations_not_found(response, cjk):
    assert not rules.truncations([response], np.array([cjk]))[0][0]


@pytest.mark.parametrize(
    "instruction, input_, evidence",
    [
        ("Describe the painting in the attached image.", "", "the attached image"),
        ("What is happening in this photo?", "", "this photo"),
        ("Summarize the following article.", "", "the following article"),
        ("Analyze the chart below.", "https://example.com/chart.png", "the chart below"),
        ("描述这张图片中的人物。", "", "这张图片"),
        ("请总结附件中的文件。", "", "附件中"),
        ("用一句话概括下面这段话的意思。", "", "下面这段话"),
    ],
)
def test_unseen_inputs_found(instruction, input_, evidence):
    flags, found = rules.unseen_inputs([instruction], [input_])
    assert flags[0]
    assert found[0] == evidence


@pytest.mark.parametrize(
    "instruction, input_",
    [
        ("Summarize the following article.", "Bees visit flowers to collect nectar and pollen, and carry pollen."),
        ("Translate this sentence into French: “The cat sleeps on the warm windowsill.”", ""),
        ("What is an image processing pipeline?", ""),
        ("Describe a picture of a sunset over the sea.", ""),
        ("Write a review of this video game.", ""),
        ("Sum the following article in brief: The video shows the photo of a cat that went viral last week.", ""),
        ("用一句话概括下面这段话的意思。", "外卖方便了生活，但也带来了大量塑料垃圾。"),
        ("图片格式有哪些？", ""),
    ],
)
def test_unseen_inputs_not_found(instruction, input_):
    assert not rules.unseen_inputs([instruction], [input_])[0][0]


@pytest.mark.parametrize(
    "instruction, evidence",
    [
        ("Draw a picture of a cat.", "Draw"),
        ("Please take a photo of the sunset.", "Please take a photo"),
        ("Go to www.example.org and tell me the price.", "Go to"),
        ("Send an email to my boss saying I am sick.", "Send an email to"),
        ("请帮我画一幅山水画。", "请帮我画一"),
        ("打开这个链接并总结内容。", "打开这个"),
        ("给我打个电话。", "给我打个电话"),
    ],
)
def test_impossible_actions_found(instruction, evidence):
    flags, found = rules.impossible_actions([instruction])
    assert flags[0]
    assert found[0] == evidence


@pytest.mark.parametrize(
    "instruction",
    [
        "Draw a conclusion from the passage.",
        "Plot the data using matplotlib.",
        "Paint a picture of life in 1900 with words.",
        "Where should I go to study abroad?",
        "用Python画一个圆。",
        "画蛇添足是什么意思？",
        "下载Python需要注意什么？",
        "Explain how to open a bank account.",
    ],
)
def test_impossible_actions_not_found(instruction):
    assert not rules.impossible_actions([instruction])[0][0]


def test_ungrounded_urls():
    counts, evidence = rules.ungrounded_urls(
        ["Give me a link to the official Python tutorial.", "Summarize https://foo.org/a", "What is on python.org?",
         "Write code that fetches prices.", "给我一个学习网站", "Show an example link"],
        ["See https://totally-made-up-docs.example.com/start.html.", "At https://foo.org/a/b it says",
         "Visit https://docs.python.org/3/.", "```python\nrequests.get('https://api.made-up.io/v1')\n```",
         "可以访问 https://www.fake-learning-site.cn/courses 学习。", "Like https://example.com/page"],
        allowed_hosts=["example.com"],
    )
    assert counts.tolist() == [1, 0, 0, 0, 1, 0]
    assert evidence[0] == "https://totally-made-up-docs.example.com/start.html"
    assert evidence[4] == "https://www.fake-learning-site.cn/courses"


def test_placeholders():
    flags, evidence = rules.placeholders(
        ["Write a cover letter.", "Write a form letter template.", "Describe a cat.", "写一封求职信。",
         "Cite a source.", "Greet the user.", "Write a cover letter.", "Explain photosynthesis."],
        ["", "", "<noinput>", "", "", "", "", ""],
        ["Dear [Hiring Manager], ... Sincerely, [Your Name]", "Dear [Your Name], ...", "Cats are small.",
         "尊敬的[收件人姓名]：您好！", "See [Title](https://example.com) and [1].", "Hello there!",
         "Dear [Hiring Manager],\n[Insert a project you led here]\nSincerely, [Your Name]",
         "Plants turn light into sugar.\n\nBest regards,\n[Your Name]"],
    )
    assert flags.tolist() == [False, False, True, False, False, False, True, True]
    assert evidence[2] == "<noinput>"
    assert evidence[6] == "[Insert a project you led here]"
    assert evidence[7] == "[Your Name]"


def test_blank_and_short_responses():
    assert rules.blank_responses(["", "   ", "...", "ok", "好", "42"]).tolist() == [True, True, True, False, False, False]
    assert rules.response_chars(["a b c", "你 好", ""]).tolist() == [3, 2, 0]
