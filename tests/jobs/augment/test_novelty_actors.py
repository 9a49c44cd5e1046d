"""The novelty pool split across Ray actors decides exactly as one index does, also when a partition
actor is SIGKILLed mid-run (Ray restarts it and the driver rebuilds its share), and Self-Instruct with a
split pool generates the same rows as with one in the driver."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.jobs.augment.driver import ProgressBoard, read_generated, run_augment
from sftforge.jobs.augment.novelty_actors import DistributedNoveltyPool, NoveltyPartition, novelty_pools
from sftforge.jobs.augment.self_instruct_rounds import SelfInstructGenerator
from sftforge.operators.augment import AugmentConfig
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.novelty import NoveltyIndex
from sftforge.operators.llm_client import LLMConfig, RetryPolicy

from tests.support import augment_model
from tests.support.openai_server import OpenAITestServer

ROOT = Path(__file__).resolve().parents[3]
SEEDS = str(ROOT / "jobs" / "demo" / "seed_tasks.jsonl")
WORDS = ["write", "a", "short", "poem", "about", "the", "sea", "explain", "how", "tides", "work", "list", "three"]


def _decides_as_one_index(pool: DistributedNoveltyPool, seed: int, rounds: int) -> list:
    """Seeds ``pool`` and one ``NoveltyIndex`` alike, checks ``rounds`` rounds of candidates on both and
    asserts equal verdicts and sizes; returns the last round's verdicts."""
    rng = random.Random(seed)

    def text() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 9)))

    single = NoveltyIndex(0.7)
    seeds = [text() for _ in range(40)]
    pool.extend("en", seeds)
    single.extend(seeds)
    one = []
    for _ in range(rounds):
        candidates = [text() for _ in range(30)]
        split = pool.filter_round("en", candidates)
        one = single.filter_round(candidates)
        assert [v.novel for v in split] == [v.novel for v in one]
        assert pool.sizes["en"] == len(single)
    return one


def test_partitions_decide_as_one_index(ray_session):
    pool = DistributedNoveltyPool(3, 0.7, num_cpus=0)
    try:
        one = _decides_as_one_index(pool, seed=4, rounds=4)
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


def kill_once(marker: Path, driver_pid: int, method: str, after: int) -> type[NoveltyPartition]:
    """A partition that SIGKILLs its own process once, in a call of ``method`` made when its share holds
    more than ``after`` texts. Defined here so that Ray ships it by value."""

    class KillOnce(NoveltyPartition):
        def _maybe_die(self, language: str) -> None:
            if os.getpid() != driver_pid and not marker.exists() and len(self._index(language)) > after:
                marker.write_text("killed")
                os.kill(os.getpid(), signal.SIGKILL)

        def verdicts(self, language, texts, size=None):
            if method == "verdicts":
                self._maybe_die(language)
            return super().verdicts(language, texts, size)

        def extend(self, language, texts, size_before=0):
            if method == "extend":
                self._maybe_die(language)
            return super().extend(language, texts, size_before)

    return KillOnce


@pytest.mark.parametrize("method", ["verdicts", "extend"])
def test_a_killed_partition_is_rebuilt_and_decides_as_one_index(ray_session, tmp_path, method):
    marker = tmp_path / "killed"
    pool = DistributedNoveltyPool(2, 0.7, num_cpus=0,
                                  partition_class=kill_once(marker, os.getpid(), method, after=25))
    try:
        _decides_as_one_index(pool, seed=5, rounds=5)
        assert marker.exists(), "the partition was never killed"
        assert pool.restarts >= 1
    finally:
        pool.close()


def test_self_instruct_survives_a_killed_partition_with_the_same_rows(ray_session, tmp_path):
    llm_values = {"model": "test-model", "api_key_env": None, "seed": 0, "max_in_flight": 4, "timeout_s": 5,
                  "retry": RetryPolicy(max_attempts=3, max_total_s=20, initial_backoff_s=0.01, max_backoff_s=0.05)}
    marker = tmp_path / "killed"
    rows = {}
    with OpenAITestServer(reply=augment_model.reply) as server:
        llm = LLMConfig(base_url=server.url, **llm_values)
        for partitions, partition_class in ((1, NoveltyPartition),
                                            (2, kill_once(marker, os.getpid(), "verdicts", after=6))):
            # Two rounds at least: the partition dies in a later round's check, its share grown past the seeds.
            config = si.SelfInstructConfig(seed_tasks=SEEDS, target_rows=48, prompts_per_batch=4,
                                           novelty_partitions=partitions, workers=1)
            generator = SelfInstructGenerator(config, llm, tmp_path / f"work{partitions}",
                                              partition_class=partition_class)
            try:
                generator.resume()
                generator.run(ProgressBoard(False))
            finally:
                generator.close()
            assert generator.outcome.stopped is None
            rows[partitions] = pa.concat_tables(list(read_generated(generator.outcome))).to_pylist()
    assert marker.exists(), "the partition was never killed"
    assert len(rows[1]) == 48
    assert rows[1] == rows[2]
