"""Instruction roots, the diversity summary and diversity-aware selection."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pydantic import ValidationError
from sftforge.operators.quality.diversity import (
    SelectConfig,
    choose_diverse,
    cluster_keys,
    diversity_summary,
    instruction_root,
)


@pytest.mark.parametrize(
    "instruction, root",
    [
        ("Write me three short poems about autumn.", "write/poem"),
        ("Write a Python function that returns the factorial of n.", "write/function"),
        ("Please give an example of a metaphor.", "give/example"),
        ("Can you summarize the following article?", "summarize/article"),
        ("Generate a one-sentence description for each of the following people.", "generate/description"),
        ("Write a short, polite email declining a meeting invitation.", "write/email"),
        ("What is the capital of France?", "what/capital"),
        ("Is there anything I can eat for breakfast?", "is/there"),
        ("写一首关于秋天的诗", "写/诗"),
        ("请翻译下面的英文句子", "翻译/句子"),
        ("把下面的句子翻译成英文。", "翻译/句子"),
        ("用一句话概括下面这段话的意思。", "概括/意思"),
        ("请简单解释什么是光合作用。", "解释/作用"),
        ("给出三个保持身体健康的建议。", "给出/建议"),
        ("为什么冬天人们更容易感冒？", "为什么/冬天"),
        ("Hola, ¿qué tal?", "other/hola"),
        ("", "other/"),
    ],
)
def test_instruction_roots(instruction, root):
    assert instruction_root(instruction) == root


def test_diversity_summary_counts_verbs_and_objects():
    roots = ["write/poem", "write/poem", "write/story", "give/example", "other/hola"]
    summary = diversity_summary(roots)
    assert summary["instructions"] == 5
    assert summary["parsed"] == 0.8
    assert summary["distinct_verbs"] == 2
    assert summary["distinct_roots"] == 4
    assert summary["top_verbs"][0] == {"verb": "write", "share": 0.6, "objects": ["poem", "story"]}
    assert diversity_summary({"write/poem": 2, "write/story": 1, "give/example": 1, "other/hola": 1}) == summary
    assert diversity_summary(["a/b", "c/d"])["root_entropy"] == 1.0
    assert diversity_summary(["a/b", "a/b"])["root_entropy"] == 0.0
    assert diversity_summary([])["instructions"] == 0


def test_selection_goes_round_robin_over_clusters():
    ids = ["a1", "a2", "a3", "a4", "b1", "b2", "c1"]
    clusters = ["a", "a", "a", "a", "b", "b", "c"]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.1]
    selection = choose_diverse(ids, clusters, scores, target_size=4)
    chosen = {doc for doc, keep in zip(ids, selection.selected) if keep}
    # Every cluster's best row first (a1, b1, c1), then the best of the second round (a2 beats b2).
    assert chosen == {"a1", "b1", "c1", "a2"}
    assert selection.rank.tolist() == [0, 1, 2, 3, 0, 1, 0]


def test_selection_keeps_everything_under_the_target_and_caps_clusters():
    ids = [f"r{i}" for i in range(6)]
    clusters = ["a"] * 5 + ["b"]
    assert choose_diverse(ids, clusters, [1.0] * 6, target_size=10).selected.all()
    capped = choose_diverse(ids, clusters, [1.0] * 6, target_size=10, max_per_cluster=2)
    assert capped.selected.sum() == 3


def test_selection_is_deterministic_and_ignores_row_order():
    rng = random.Random(3)
    ids = [f"id{i:03d}" for i in range(200)]
    clusters = [rng.choice("abcdefg") for _ in ids]
    scores = [rng.choice([None, 0.2, 0.5, 0.5, 0.9]) for _ in ids]
    first = choose_diverse(ids, clusters, scores, target_size=50)
    order = list(range(200))
    rng.shuffle(order)
    second = choose_diverse([ids[i] for i in order], [clusters[i] for i in order], [scores[i] for i in order], 50)
    chosen_first = {ids[i] for i in np.nonzero(first.selected)[0]}
    chosen_second = {ids[order[i]] for i in np.nonzero(second.selected)[0]}
    assert chosen_first == chosen_second and len(chosen_first) == 50
    # Seven clusters, 50 rows: the largest cluster cannot have more than its fair share plus one round.
    kept_clusters = [clusters[i] for i in np.nonzero(first.selected)[0]]
    assert max(kept_clusters.count(c) for c in set(kept_clusters)) <= 50 // 7 + 1


def test_cluster_keys_and_config():
    assert cluster_keys(["write/poem", None], "verb") == ["write", "other"]
    assert cluster_keys(["write/poem", None]) == ["write/poem", "other/"]
    with pytest.raises(ValidationError):
        SelectConfig(target_size=0)
    with pytest.raises(ValidationError):
        SelectConfig(target_size=10, cluster_by="topic")
