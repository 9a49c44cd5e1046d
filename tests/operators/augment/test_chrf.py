"""chrF: character n-gram F-score (beta 2), whitespace-insensitive, for English and Chinese."""

from __future__ import annotations

import pytest
from sftforge.operators.augment.chrf import chrf


def test_identical_and_disjoint_texts():
    assert chrf("The cat sat.", "The cat sat.") == 100.0
    assert chrf("The cat sat.", "Thecat  sat.") == 100.0
    assert chrf("abc", "xyz") == 0.0
    assert chrf("", "abc") == 0.0


def test_hand_computed_value():
    # hyp "ab", ref "abc": order 1: P=2/2, R=2/3; order 2: P=1/1, R=1/2; orders >= 3 absent from hyp.
    precision, recall = 1.0, (2 / 3 + 1 / 2) / 2
    expected = 100 * 5 * precision * recall / (4 * precision + recall)
    assert chrf("ab", "abc") == pytest.approx(expected)


def test_recall_weighs_more_than_precision():
    reference = "the quick brown fox jumps"
    shorter = "the quick brown"  # precise, incomplete
    longer = "the quick brown fox jumps over the lazy dog"  # complete, imprecise
    assert chrf(longer, reference) > chrf(shorter, reference)


def test_chinese_paraphrase_scores_between_copy_and_unrelated():
    original = "请用三句话总结这篇文章的主要内容。"
    paraphrase = "请用三句话概括这篇文章的要点。"
    unrelated = "今天天气很好，我们去公园散步吧。"
    assert 20 < chrf(paraphrase, original) < 95
    assert chrf(unrelated, original) < chrf(paraphrase, original)
