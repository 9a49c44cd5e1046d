"""ROUGE-L and the novelty index: exact LCS, tokenisation of English and Chinese, agreement with a full scan,
rounds, and a pool split into partitions."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sftforge.operators.augment.novelty import (
    NoveltyIndex,
    NoveltyVerdict,
    filter_round,
    lcs_length,
    merge_verdicts,
    naive_scan,
    resolve_round,
    rouge_l,
    rouge_l_text,
    rouge_tokens,
)


def lcs_by_table(a, b) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def test_bit_parallel_lcs_equals_the_dynamic_programme():
    rng = random.Random(7)
    for _ in range(2000):
        a = [rng.randrange(4) for _ in range(rng.randrange(0, 90))]
        b = [rng.randrange(4) for _ in range(rng.randrange(0, 90))]
        assert lcs_length(a, b) == lcs_by_table(a, b)


def test_tokens_are_words_in_english_and_characters_in_chinese():
    assert rouge_tokens("Write a POEM about the sea, don't rhyme!") == [
        "write",
        "a",
        "poem",
        "about",
        "the",
        "sea",
        "don",
        "t",
        "rhyme",
    ]
    assert rouge_tokens("写一首关于大海的诗") == list("写一首关于大海的诗")
    assert rouge_tokens("用Python写一个函数。") == ["用", "python", "写", "一", "个", "函", "数"]


def test_rouge_l_is_the_lcs_f1():
    assert rouge_l_text("the cat sat", "the cat sat down") == pytest.approx(2 * 3 / 7)
    assert rouge_l_text("猫坐在垫子上", "狗坐在垫子上") == pytest.approx(5 / 6)
    assert rouge_l([], ["a"]) == 0.0
    assert rouge_l_text("Same text.", "same TEXT") == 1.0


def test_threshold_is_inclusive():
    index = NoveltyIndex(0.7)
    index.add("a b c d e f g h i j")
    # 7 of 10 tokens in order, length 10: F1 = 0.7 exactly, which the paper rejects (>= 0.7).
    verdict = index.check("a b c d e f g x y z")
    assert not verdict.novel and verdict.score == pytest.approx(0.7)
    assert verdict.match == "a b c d e f g h i j"
    assert index.check("a b c d e f x y z w").novel


@pytest.mark.parametrize(
    "alphabet",
    [
        [
            "alpha",
            "beta",
            "gamma",
            "delta",
            "epsilon",
            "zeta",
            "eta",
            "theta",
            "iota",
            "kappa",
            "lambda",
            "mu",
        ],
        list("天地人和春夏秋冬山水花鸟"),
    ],
)
def test_index_decisions_equal_the_full_scan(alphabet):
    rng = random.Random(11)
    joiner = "" if len(alphabet[0]) == 1 else " "

    def text() -> str:
        return joiner.join(rng.choice(alphabet) for _ in range(rng.randrange(2, 14)))

    index = NoveltyIndex(0.7)
    pool_tokens = []
    for _ in range(1000):  # crosses several re-rankings (64, 128, ..., 512)
        candidate = text()
        verdict = index.add_if_novel(candidate)
        expected = naive_scan(candidate, pool_tokens)
        assert verdict.novel == expected.novel, candidate
        if verdict.novel:
            pool_tokens.append(rouge_tokens(candidate))
    assert len(index) == len(pool_tokens)
    assert 0 < len(pool_tokens) < 1000  # both decisions happened


def test_candidates_compared_are_few_on_a_varied_pool():
    rng = random.Random(3)
    words = [f"w{i}" for i in range(5000)]
    index = NoveltyIndex(0.7)
    for _ in range(5000):
        index.add(" ".join(rng.sample(words, 12)))
    verdict = index.check(" ".join(rng.sample(words, 12)))
    assert verdict.novel
    assert verdict.compared < 200  # a full scan would compare 5,000


def test_empty_text_is_novel_and_not_indexed():
    index = NoveltyIndex()
    index.add("...")
    assert len(index) == 0
    assert index.check("!!!").novel


def test_threshold_is_validated():
    with pytest.raises(ValueError):
        NoveltyIndex(0)


def test_index_decisions_equal_the_full_scan_on_templated_instructions():
    # Shared template words are what make prefix, positional and count filters work hard.
    rng = random.Random(5)
    words = [f"w{i}" for i in range(60)]
    templates = [
        "Explain how {} relate to each other.",
        "Write a short poem about {} for children.",
        "用一句话总结{}的关系。",
    ]

    def text() -> str:
        template = rng.choice(templates)
        if template.startswith("用"):
            return template.format(
                "".join(rng.choice("山水花鸟风月雨雪") for _ in range(rng.randrange(3, 12)))
            )
        return template.format(" ".join(rng.sample(words, rng.randrange(3, 10))))

    index = NoveltyIndex(0.7)
    pool_tokens = []
    for _ in range(800):
        candidate = text()
        verdict = index.add_if_novel(candidate)
        assert verdict.novel == naive_scan(candidate, pool_tokens).novel, candidate
        if verdict.novel:
            pool_tokens.append(rouge_tokens(candidate))
    assert 50 < len(pool_tokens) < 800


# --- batches, rounds and partitions -----------------------------------------------------------------

WORDS = ["write", "a", "poem", "about", "the", "sea", "explain", "how", "tides", "work", "写", "诗", "海"]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)


def naive_round(candidates, pool_tokens, threshold=0.7):
    """The reference: each candidate in turn against the pool and the earlier accepted ones."""
    pool_tokens = list(pool_tokens)
    decisions = []
    for candidate in candidates:
        novel = naive_scan(candidate, pool_tokens, threshold).novel
        decisions.append(novel)
        if novel and rouge_tokens(candidate):
            pool_tokens.append(rouge_tokens(candidate))
    return decisions


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pool=st.lists(texts, max_size=60),
    rounds=st.lists(st.lists(texts, max_size=25), min_size=1, max_size=3),
    tail_size=st.sampled_from([1, 4, 256]),
    partitions=st.integers(1, 3),
)
def test_rounds_equal_the_naive_sequential_scan(pool, rounds, tail_size, partitions):
    index = NoveltyIndex(0.7, tail_size=tail_size)
    index.extend(pool)
    shards = [NoveltyIndex(0.7, tail_size=tail_size) for _ in range(partitions)]
    for k, text in enumerate(pool):
        shards[k % partitions].add(text)
    pool_tokens = [rouge_tokens(text) for text in pool if rouge_tokens(text)]
    for number, candidates in enumerate(rounds):
        expected = naive_round(candidates, pool_tokens)
        split = filter_round(candidates, shards)
        assert [v.novel for v in index.filter_round(candidates)] == expected
        assert [v.novel for v in split] == expected
        for k, (text, verdict) in enumerate(zip(candidates, split)):
            if verdict.novel:
                shards[(number + k) % partitions].add(text)  # any placement gives the same decisions
                if rouge_tokens(text):
                    pool_tokens.append(rouge_tokens(text))


def test_within_round_duplicates_keep_only_the_first():
    index = NoveltyIndex(0.7)
    index.add("explain how tides work on the moon")
    verdicts = index.filter_round(
        [
            "write a poem about the sea at night",
            "Write a poem about the SEA at night!",  # the same as the first: rejected
            "write a poem about the sea at noon",  # near copy of the first: rejected
            "explain how tides work on the moon today",  # near copy of the pool: rejected
            "list three famous bridges in europe",
        ]
    )
    assert [v.novel for v in verdicts] == [True, False, False, False, True]
    assert verdicts[1].match == "write a poem about the sea at night" and verdicts[1].score == 1.0
    assert verdicts[3].match == "explain how tides work on the moon"
    assert len(index) == 3


def test_a_candidate_rejected_by_the_pool_does_not_reject_later_ones():
    # B copies the pool and is rejected; C copies B but not the pool: C is accepted.
    pool = "a b c d e f g h i j"
    b = "a b c d e f g x y z"  # 0.7 with the pool
    c = "q r s d e f g x y z"  # 0.7 with b, 0.4 with the pool
    index = NoveltyIndex(0.7)
    index.add(pool)
    assert [v.novel for v in index.filter_round([b, c])] == [False, True]
    assert naive_round([b, c], [rouge_tokens(pool)]) == [False, True]


def test_merge_verdicts_is_novel_only_when_every_partition_says_so():
    novel, copy = NoveltyVerdict(True, 0.2, None, 3), NoveltyVerdict(False, 0.8, "x", 1)
    merged = merge_verdicts([[novel, novel], [novel, copy]])
    assert [v.novel for v in merged] == [True, False]
    assert merged[1].match == "x" and merged[1].compared == 4 and merged[0].score == 0.2
    assert resolve_round(["p", "q"], merged) == merged  # fewer than two novel: nothing to resolve


def test_a_pool_grown_one_by_one_stays_in_few_segments():
    index = NoveltyIndex(0.7, keep_texts=False, tail_size=8)
    for k in range(1000):
        index.add(f"item {k} of the list number {k * 7}")
    assert len(index) == 1000 and index.segments <= 8
    assert not index.check("item 500 of the list number 3500").novel


def test_a_big_round_against_a_big_tail_decides_as_the_naive_scan():
    # 150 candidates x 300 tail entries: the tail is queried as a throwaway segment.
    rng = random.Random(9)

    def text() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 10)))

    pool = [text() for _ in range(300)]
    index = NoveltyIndex(0.7, tail_size=1000)
    index.extend(pool)
    assert index.segments == 0
    candidates = [text() for _ in range(150)]
    expected = naive_round(candidates, [rouge_tokens(t) for t in pool if rouge_tokens(t)])
    assert [v.novel for v in index.filter_round(candidates)] == expected
    assert 0 < sum(expected) < len(expected)
