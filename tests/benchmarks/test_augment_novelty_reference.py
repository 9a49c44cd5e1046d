"""The prefix-filter novelty reference of the benchmark decides exactly as the plain full scan."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from sftforge.operators.augment.novelty import naive_scan, rouge_tokens

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from augment_novelty_reference import PrefixFilterScan, plain_lcs

WORDS = ["a", "the", "of", "river", "moon", "write", "poem", "list", "three", "why", "sky", "blue", "cat"]
CJK = list("山河湖海风雨花草")


def _text(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return "".join(rng.choice(CJK) for _ in range(rng.randrange(1, 12)))
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 14)))


def _near(rng: random.Random, text: str) -> str:
    units = text.split() if " " in text else list(text)
    for _ in range(rng.randrange(0, 3)):
        at = rng.randrange(len(units))
        if rng.random() < 0.4 and len(units) > 1:
            del units[at]
        elif rng.random() < 0.5:
            units.insert(at, rng.choice(WORDS))
        else:
            units[at] = rng.choice(WORDS)
    return (" " if " " in text else "").join(units)


def test_plain_lcs_is_the_textbook_value():
    assert plain_lcs([1, 2, 3, 4], [2, 4, 3]) == 2
    assert plain_lcs([], [1]) == 0
    assert plain_lcs([5, 5, 5], [5, 5]) == 2


@pytest.mark.parametrize("threshold", [0.7, 0.5, 1.0])
def test_it_agrees_with_the_full_scan_on_a_small_pool(threshold):
    rng = random.Random(7)
    pool = [_text(rng) for _ in range(400)] + ["", "!!!"]
    candidates = [_near(rng, rng.choice(pool[:400])) if k % 2 else _text(rng) for k in range(1500)]
    candidates += ["", "???", "zebra unknown words only", "river river river river"]
    reference = PrefixFilterScan(pool, threshold)
    pool_tokens = [rouge_tokens(text) for text in pool]
    expected = [naive_scan(text, pool_tokens, threshold).novel for text in candidates]
    assert [reference.novel(text) for text in candidates] == expected
    assert 0 < sum(expected) < len(expected)  # both decisions occur
    assert reference.pairs_checked < len(candidates) * len(pool)  # it does prune
