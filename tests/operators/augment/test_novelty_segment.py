"""NoveltySegment: every pair at or above the threshold is found, on random and adversarial sequences."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sftforge.operators.augment.novelty_segment import NoveltySegment, bitmaps, occurrence_elements
from sftforge.operators.augment.rouge import rouge_l


def all_pairs(queries, records, threshold):
    """The naive answer: every (query, record) with ROUGE-L F1 >= threshold."""
    return {
        (q, r)
        for q, query in enumerate(queries)
        for r, record in enumerate(records)
        if query and rouge_l(query, record) >= threshold
    }


def found_pairs(segment, queries):
    found, _, _ = segment.matches(queries, first_only=False)
    return {(q, r) for q, matches in enumerate(found) for r, _ in matches}


sequences = st.lists(st.lists(st.integers(0, 7), min_size=1, max_size=24), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=sequences, queries=sequences, threshold=st.sampled_from([0.7, 0.5, 0.35, 0.9, 1.0]))
def test_every_pair_at_or_above_the_threshold_is_found(records, queries, threshold):
    segment = NoveltySegment.of(records, threshold)
    assert found_pairs(segment, queries) == all_pairs(queries, records, threshold)


@settings(max_examples=100, deadline=None)
@given(records=sequences, data=st.data())
def test_near_copies_of_records_are_found(records, data):
    # Edits of the records themselves: scores cluster around the threshold, where an unsafe filter fails.
    queries = []
    for record in records:
        query = list(record)
        for _ in range(data.draw(st.integers(0, 4))):
            action = data.draw(st.sampled_from(["replace", "insert", "delete", "swap"]))
            at = data.draw(st.integers(0, max(len(query) - 1, 0)))
            if action == "replace" and query:
                query[at] = data.draw(st.integers(0, 40))
            elif action == "insert":
                query.insert(at, data.draw(st.integers(0, 40)))
            elif action == "delete" and len(query) > 1:
                del query[at]
            elif action == "swap" and len(query) > 1:
                query[at], query[at - 1] = query[at - 1], query[at]
        queries.append(query)
    segment = NoveltySegment.of(records, 0.7)
    assert found_pairs(segment, queries) == all_pairs(queries, records, 0.7)


def test_scores_exactly_at_the_threshold_are_matches():
    record = list(range(10))
    segment = NoveltySegment.of([record], 0.7)
    at_threshold = [0, 1, 2, 3, 4, 5, 6, 90, 91, 92]  # LCS 7 of 10 + 10: F1 = 0.7
    below = [0, 1, 2, 3, 4, 5, 90, 91, 92, 93]
    found, _, _ = segment.matches([at_threshold, below])
    assert [r for r, _ in found[0]] == [0] and found[0][0][1] == pytest.approx(0.7)
    assert found[1] == []


def test_order_matters_not_only_the_shared_tokens():
    # Same multiset, reversed: the count filter passes, the LCS decides.
    record = list(range(12))
    segment = NoveltySegment.of([record], 0.7)
    found, best, compared = segment.matches([record[::-1]])
    assert found == [[]] and compared[0] == 1 and best[0] == pytest.approx(2 / 24)


def test_unknown_tokens_never_match_and_repeated_tokens_count_per_occurrence():
    segment = NoveltySegment.of([[1, 1, 1, 2], [3, 4, 5]], 0.7)
    found, _, _ = segment.matches([[1, 1, 1, -1], [-1, -2, -3], [1, 2]])
    assert [[r for r, _ in f] for f in found] == [[0], [], []]  # 2*3/8 = 0.75; 2*2/6 = 0.67


def test_a_frame_shared_by_many_records_does_not_hide_the_copy():
    rng = random.Random(0)
    frame = [100, 101, 102, 103, 104, 105, 106, 107]
    records = [frame + [rng.randrange(1000, 5000) for _ in range(6)] for _ in range(3000)]
    queries = [list(records[k]) for k in range(0, 3000, 300)]
    for query in queries:
        query[-1] = 9999
    queries.append(frame + [9000, 9001, 9002, 9003, 9004, 9005])  # shares only the frame: 16/28 < 0.7
    segment = NoveltySegment.of(records, 0.7)
    assert found_pairs(segment, queries) == all_pairs(queries, records, 0.7)


def test_occurrence_elements_number_repeats_within_each_sequence():
    tokens = np.array([5, 5, 7, 5, 5, -1], dtype=np.int64)
    owner = np.array([0, 0, 0, 0, 1, 1], dtype=np.int64)
    elements = occurrence_elements(tokens, owner)
    assert (elements >> 20).tolist()[:5] == [5, 5, 7, 5, 5]
    assert (elements & ((1 << 20) - 1)).tolist()[:5] == [0, 1, 0, 2, 0]
    assert elements[5] == -1


def test_bitmap_xor_never_exceeds_the_symmetric_difference():
    rng = random.Random(3)
    for _ in range(200):
        a = rng.sample(range(500), rng.randrange(1, 40))
        b = rng.sample(range(500), rng.randrange(1, 40))
        elements = np.array(a + b, dtype=np.int64)
        words = bitmaps(elements, np.array([0, len(a), len(a) + len(b)]))
        differ = sum((int(x) ^ int(y)).bit_count() for x, y in zip(words[0], words[1]))
        assert differ <= len(set(a) ^ set(b))


def test_empty_sequences_are_refused():
    with pytest.raises(ValueError):
        NoveltySegment.of([[1], []], 0.7)
