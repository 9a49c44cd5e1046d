"""The novelty pool split across Ray actors decides exactly as one index does, and Self-Instruct with a
split pool generates the same rows as with one in the driver."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.jobs.augment.driver import read_generated, run_augment
from sftforge.jobs.augment.novelty_actors import DistributedNoveltyPool, novelty_pools
from sftforge.operators.augment import AugmentConfig
from sftforge.operators.augment.novelty import NoveltyIndex
from sftforge.operators.llm_client import LLMConfig, RetryPolicy

from tests.support import augment_model
from tests.support.openai_server import OpenAITestServer

ROOT = Path(__file__).resolve().parents[3]
SEEDS = str(ROOT / "jobs" / "demo" / "seed_tasks.jsonl")
WORDS = ["write", "a", "short", "poem", "about", "the", "sea", "explain", "how", "tides", "work", "list", "three"]


def test_partitions_decide_as_one_index(ray_session):
    rng = random.Random(4)

    def text() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 9)))

    pool = DistributedNoveltyPool(3, 0.7, num_cpus=0)
    try:
        single = NoveltyIndex(0.7)
        seeds = [text() for _ in range(40)]
        pool.extend("en", seeds)
        single.extend(seeds)
        for _ in range(4):
            candidates = [text() for _ in range(30)]
            split = pool.filter_round("en", candidates)
            one = single.filter_round(candidates)
            assert [v.novel for v in split] == [v.novel for v in one]
            assert pool.sizes["en"] == len(single)
        assert 0 < sum(v.novel for v in one) < len(one)
        assert pool.filter_round("en", []) == []
    finally:
        pool.close()


def test_a_single_partition_is_an_index_in_the_driver():
    pools = novelty_pools(["en", "zh"], 0.7, 1)
    assert all(isinstance(index, NoveltyIndex) for index in pools.values())
    with pytest.raises(ValueError):
        DistributedNoveltyPool(0)


def test_self_instruct_with_a_split_pool_generates_the_same_rows(ray_session, tmp_path):
    llm_values = {"model": "test-model", "api_key_env": None, "seed": 0, "max_in_flight": 4, "timeout_s": 5,
                  "retry": RetryPolicy(max_attempts=3, max_total_s=20, initial_backoff_s=0.01, max_backoff_s=0.05)}
    rows = {}
    with OpenAITestServer(reply=augment_model.reply) as server:
        for partitions in (1, 2):
            config = AugmentConfig(progress=False, self_instruct={
                "seed_tasks": SEEDS, "target_rows": 24, "prompts_per_batch": 4, "novelty_partitions": partitions,
            })
            llm = LLMConfig(base_url=server.url, **llm_values)
            outcome = run_augment(config, llm, tmp_path / f"work{partitions}")
            rows[partitions] = pa.concat_tables(list(read_generated(outcome))).to_pylist()
    assert len(rows[1]) == 24
    assert rows[1] == rows[2]
