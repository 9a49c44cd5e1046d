"""Paraphrase: prompt, numbered-reply parsing, and selection of rewrites (EN and ZH)."""

from __future__ import annotations

import pytest
from sftforge.operators.augment import filters
from sftforge.operators.augment import paraphrase as pp

CONFIG = pp.ParaphraseConfig(paraphrases_per_instruction=2)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_prompt(language):
    request = pp.paraphrase_request("p", "Name three rivers in Europe.", language, 3, temperature=0.9)
    content = request.template.render(request.variables)[0]["content"]
    assert request.template.name == f"paraphrase.rewrite.{language}"
    assert "3" in content and "Name three rivers in Europe." in content
    assert request.temperature == 0.9


def test_parse_paraphrases():
    assert pp.parse_paraphrases("Rewrite 1: List three European rivers.\nRewrite 2: Which three rivers...") == [
        "List three European rivers.", "Which three rivers...",
    ]
    assert pp.parse_paraphrases("改写 1：列出欧洲的三条河流。\n改写2：说出欧洲三条河的名字。") == [
        "列出欧洲的三条河流。", "说出欧洲三条河的名字。",
    ]
    assert pp.parse_paraphrases("I cannot do that.") == []


def test_select_english():
    parent = "Name three rivers in Europe."
    candidates = [
        "name three rivers in europe",  # unchanged
        "List three rivers that flow through Europe.",
        "List three rivers that flow through Europe!",  # duplicate of the previous
        "Bake a chocolate cake.",  # meaning drift
        "列出欧洲的三条河流。",  # wrong language
        "Tell me the names of three rivers in Europe.",
        "Give the names of three European rivers.",  # over the limit of 2
    ]
    kept, dropped = pp.select_paraphrases(parent, candidates, "en", CONFIG)
    assert kept == ["List three rivers that flow through Europe.", "Tell me the names of three rivers in Europe."]
    assert [reason for _, reason, _ in dropped] == [
        filters.UNCHANGED, filters.DUPLICATE, filters.MEANING_DRIFT, filters.WRONG_LANGUAGE, "over_limit",
    ]


def test_select_chinese():
    parent = "列出欧洲的三条河流。"
    kept, dropped = pp.select_paraphrases(parent, ["请说出欧洲的三条河流。", "列出欧洲的三条河流", "今天吃什么？"], "zh", CONFIG)
    assert kept == ["请说出欧洲的三条河流。"]
    assert [reason for _, reason, _ in dropped] == [filters.UNCHANGED, filters.MEANING_DRIFT]
