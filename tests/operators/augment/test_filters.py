"""Self-Instruct's heuristic filters, in English and Chinese, and the language test."""

from __future__ import annotations

import pytest
from sftforge.operators.augment import filters
from sftforge.operators.augment.filters import InstructionFilterConfig

CONFIG = InstructionFilterConfig()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Write a short story about a lighthouse keeper.", "en"),
        ("写一个关于灯塔看守人的短篇故事。", "zh"),
        ("用Python写一个函数，计算列表的平均值。", "zh"),
        ("Schreibe eine kurze Geschichte über einen Leuchtturmwärter und seine Katze.", None),
        ("灯台守についての短い物語を書いてください。", None),
        ("   ", None),
        ("12345", None),
    ],
)
def test_text_language(text, language):
    assert filters.text_language(text) == language


@pytest.mark.parametrize(
    ("text", "language", "reason"),
    [
        ("Give three tips for staying focused while studying.", "en", None),
        ("Name it.", "en", filters.TOO_SHORT),
        ("the word " * 76, "en", filters.TOO_LONG),
        ("Describe the image below in two sentences.", "en", filters.UNSUPPORTED_TASK),
        ("Draw a cat using only ASCII characters please.", "en", filters.UNSUPPORTED_TASK),
        ("Plot the sales figures of the last five years.", "en", filters.UNSUPPORTED_TASK),
        ("Write a program that prints the first ten primes.", "en", filters.BAD_START),
        ("- List three colours of the rainbow.", "en", filters.BAD_START),
        ("¿List three colours of the rainbow in order?", "en", filters.BAD_START),
        ("Écris trois couleurs de l'arc-en-ciel dans l'ordre.", "en", filters.WRONG_LANGUAGE),
        ("给出三条保持专注学习的建议。", "zh", None),
        ("写诗。", "zh", filters.TOO_SHORT),
        ("请描述这张图片里的内容。", "zh", filters.UNSUPPORTED_TASK),
        ("根据附件中的表格计算总销售额。", "zh", filters.UNSUPPORTED_TASK),
        ("请绘制一只猫的简笔画并说明步骤。", "zh", filters.UNSUPPORTED_TASK),
        ("编写一个程序，输出前十个质数。", "zh", filters.BAD_START),
        ("“给出三条学习建议。”", "zh", filters.BAD_START),
        ("Give three tips for studying.", "zh", filters.WRONG_LANGUAGE),
    ],
)
def test_instruction_reason(text, language, reason):
    assert filters.instruction_reason(text, language, CONFIG) == reason


def test_bounds_are_configurable():
    config = InstructionFilterConfig(min_words=2, min_chars=2)
    assert filters.instruction_reason("Name it.", "en", config) is None
    assert filters.instruction_reason("写诗。", "zh", config) is None


def test_unsupported_words_match_whole_words_only():
    assert filters.unsupported_reason("Summarize the profile of a company.", "en", CONFIG) is None
    assert filters.unsupported_reason("Imagine a world without money.", "en", CONFIG) is None


def test_normalized_ignores_case_spacing_and_punctuation():
    assert filters.normalized("Hello,  World!") == filters.normalized("hello world")
    assert filters.normalized("你好，世界。") == "你好世界"
