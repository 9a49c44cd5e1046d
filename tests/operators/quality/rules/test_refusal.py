"""Refusals decline the task; saying what the model is does not. One-character Chinese non-answers."""

from __future__ import annotations

import pytest
from sftforge.operators.quality.rules import non_answers, refusals


@pytest.mark.parametrize(
    "response",
    [
        # Issue 18's false positives: complete answers that mention being an AI assistant.
        "作为人工智能助手，我没有实体身体，因此不存在洗澡时是否穿内裤的个人习惯。但从卫生常识来看，洗澡时通常不穿内裤。",
        "一分钟是60秒，这一标准被全球广泛采用。作为AI助手，我也遵循这一标准时间定义。因此这个说法是正确的。",
        "我是一个AI助手，不会做梦。人在快速眼动睡眠阶段最容易做梦。",
        "As an AI assistant I don't get tired, but people do: a short walk every hour helps.",
        "I'm an AI, so I have no favourite colour of my own. Many people pick blue.",
        "I don't have personal opinions, but many people think the film is too long.",
        "作为AI助手，我没有个人喜好，不过很多人喜欢在春天去杭州旅游。",
    ],
)
def test_identity_mentions_are_not_refusals(response):
    flags, _ = refusals([response])
    assert not flags[0]


@pytest.mark.parametrize(
    "response, phrase",
    [
        ("As an AI language model, I cannot help with that request.", "As an AI language model, I cannot help"),
        ("I'm sorry, but as an AI I cannot have preferences about pet names.", "as an AI I cannot have"),
        ("As an AI, I don't have personal opinions.", "As an AI, I don't have personal opinions"),
        ("对不起，作为一个人工智能，我无法观看电影，因此不能给出推荐。", "作为一个人工智能，我无法"),
        ("作为人工智能助手，我没有个人观点。", "作为人工智能助手，我没有个人观点"),
        ("我是一个AI语言模型，无法回答您的问题。", "我是一个AI语言模型，无法"),
    ],
)
def test_declining_after_an_identity_mention_is_a_refusal(response, phrase):
    flags, evidence = refusals([response])
    assert flags[0]
    assert evidence[0] == phrase


@pytest.mark.parametrize("response", ["嗯", "哦。", "啊", "略", "呃……", "好。", "嗯嗯"])
def test_one_character_chinese_non_answers(response):
    flags, _ = non_answers([response])
    assert flags[0]


@pytest.mark.parametrize("response", ["是", "对", "B", "4画", "北京"])
def test_one_character_answers_to_closed_questions_are_left_to_the_length_rule(response):
    flags, _ = non_answers([response])
    assert not flags[0]
