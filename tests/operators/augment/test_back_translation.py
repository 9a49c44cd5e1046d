"""Round-trip back-translation: prompts, parsing, pivot checks and the chrF / length acceptance band."""

from __future__ import annotations

import pytest
from sftforge.operators.augment import back_translation as bt
from sftforge.operators.augment import filters

CONFIG = bt.RoundTripConfig()


def test_translation_prompt_is_written_in_the_texts_language():
    english = bt.translation_request("a", "Summarize the article in three sentences.", "zh")
    chinese = bt.translation_request("b", "用三句话总结这篇文章。", "en")
    assert english.template.name == "round_trip.translate.en"
    assert "into Chinese (Simplified)" in english.template.render(english.variables)[0]["content"]
    assert chinese.template.name == "round_trip.translate.zh"
    assert "翻译成英文" in chinese.template.render(chinese.variables)[0]["content"]
    german = bt.translation_request("c", "Fasse den Artikel in drei Sätzen zusammen.", "en")
    assert german.template.name == "round_trip.translate.en"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Translation: Summarise the article in three sentences.", "Summarise the article in three sentences."),
        ('"Summarise the article."', "Summarise the article."),
        ("```\n用三句话概括这篇文章。\n```", "用三句话概括这篇文章。"),
        ("译文：用三句话概括这篇文章。", "用三句话概括这篇文章。"),
        ("“用三句话概括这篇文章。”", "用三句话概括这篇文章。"),
    ],
)
def test_parse_translation(reply, expected):
    assert bt.parse_translation(reply) == expected


def test_pivot_checks():
    source = "Summarize the article in three sentences."
    assert bt.pivot_reason(source, "用三句话总结这篇文章。", "zh") == (None, None)
    assert bt.pivot_reason(source, "summarize the article in three sentences", "zh")[0] == filters.COPIED_SOURCE
    assert bt.pivot_reason(source, "The article says that ...", "zh")[0] == filters.WRONG_LANGUAGE
    assert bt.pivot_reason(source, "", "zh")[0] == filters.UNPARSEABLE
    # Pivots other than English and Chinese are not language-checked, only copy-checked.
    assert bt.pivot_reason(source, "Résume l'article en trois phrases.", "fr") == (None, None)


@pytest.mark.parametrize(
    ("original", "result", "language", "reason"),
    [
        ("Summarize the article in three sentences.", "Sum up the article in three sentences.", "en", None),
        ("Summarize the article in three sentences.", "summarize the article in three sentences!", "en",
         filters.UNCHANGED),
        ("Summarize the article in three sentences.", "Bake bread with flour.", "en", filters.MEANING_DRIFT),
        ("Summarize the article in three sentences.", "用三句话总结这篇文章。", "en", filters.WRONG_LANGUAGE),
        ("用三句话总结这篇文章。", "用三句话概括这篇文章。", "zh", None),
        ("用三句话总结这篇文章。", "用三句话总结这篇文章", "zh", filters.UNCHANGED),
        ("用三句话总结这篇文章。", "今天天气很好。", "zh", filters.MEANING_DRIFT),
        ("", "", "zh", filters.UNPARSEABLE),
    ],
)
def test_round_trip_acceptance(original, result, language, reason):
    assert bt.round_trip_reason(original, result, language, CONFIG)[0] == reason


def test_length_ratio_bound():
    config = bt.RoundTripConfig(min_chrf=1, max_chrf=99, max_length_ratio=1.5)
    original = "Summarize the article in three sentences."
    longer = "Summarize the article in three sentences, and then also list every person named in the article."
    reason, detail = bt.round_trip_reason(original, longer, "en", config)
    assert reason == filters.LENGTH_RATIO and "> 1.5" in detail


def test_config_validation():
    with pytest.raises(ValueError, match="another language"):
        bt.RoundTripConfig(pivot={"en": "en"})
    with pytest.raises(ValueError, match="not one of"):
        bt.RoundTripConfig(pivot={"en": "xx"})
    with pytest.raises(ValueError, match="below"):
        bt.RoundTripConfig(min_chrf=90, max_chrf=80)
