"""The per-row methods as an actor-pool stage, against a real server on 127.0.0.1 and real Ray actors.

Covers parents that do not depend on the number of workers, an actor killed mid-run (same rows), the
target across workers, and endpoint failures (never dead letters; the batch is asked again next run).
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.jobs.augment.row_stage import (
    AugmentRows,
    BatchStore,
    build_row_methods,
    endpoint_outage,
    method_url,
    parent_hash,
    start_target_counter,
)
from sftforge.operators import schema
from sftforge.operators.augment import AugmentConfig
from sftforge.operators.llm_client import EndpointOutage, LLMConfig, RetryPolicy
from sftforge.operators.read.records import content_id

from tests.support import augment_model
from tests.support.openai_server import SERVER_ERROR, OpenAITestServer, always

QUICK_RETRY = RetryPolicy(max_attempts=2, max_total_s=10, initial_backoff_s=0.01, max_backoff_s=0.02,
                          repair_attempts=1)
TOPICS = ["rain", "bread", "tides", "magnets", "volcanoes", "bees", "clocks", "bridges", "glaciers", "comets",
          "yeast", "rivers", "owls", "deserts", "lenses", "kites", "coral", "salt", "moss", "thunder"]


def parents(count: int = 40) -> pa.Table:
    rows = []
    for i in range(count):
        instruction = f"Explain how {TOPICS[i % len(TOPICS)]} work number {i} in a few simple sentences."
        output = f"A short answer about {TOPICS[i % len(TOPICS)]}."
        rows.append({schema.DOC_ID: content_id(schema.KIND_INSTRUCTION, [instruction, "", output]),
                     schema.KIND: schema.KIND_INSTRUCTION, schema.INSTRUCTION: instruction, schema.INPUT: "",
                     schema.OUTPUT: output})
    return pa.Table.from_pylist(rows, schema=schema.BASE_SCHEMA)


def llm_for(server, cache: Path, **overrides) -> LLMConfig:
    values = {"base_url": server.url, "model": "test-model", "api_key_env": None, "seed": 0, "cache": str(cache),
              "retry": QUICK_RETRY, "max_in_flight": 4, "timeout_s": 5}
    return LLMConfig(**{**values, **overrides})


class KillOnce(AugmentRows):
    """Dies (SIGKILL) on its second batch, once per test: Ray restarts it and retries the batch."""

    def __init__(self, *args, marker: str):
        super().__init__(*args)
        self.marker = Path(marker)
        self.batches = 0

    def __call__(self, batch):
        self.batches += 1
        if self.batches == 2 and not self.marker.exists():
            self.marker.write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(batch)


def run_stage(config: AugmentConfig, llm: LLMConfig, work: Path, table: pa.Table, workers: int,
              actor=AugmentRows, **actor_kwargs) -> tuple[pa.Table, str]:
    import ray
    import ray.data

    methods = build_row_methods(config, llm)
    run_id = uuid.uuid4().hex[:8]
    name = f"target-{run_id}"
    handle = start_target_counter(name, {m.method: m.config.target_rows for m in methods})
    try:
        ds = ray.data.from_arrow(table).repartition(8).map_batches(
            actor, fn_constructor_args=(config, llm, str(work), run_id, name),
            fn_constructor_kwargs=actor_kwargs or None, batch_format="pyarrow", batch_size=5,
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=0.25)
        out = pa.concat_tables(ray.get(ds.to_arrow_refs()), promote_options="default")
    finally:
        ray.kill(handle)
    return out, run_id


def _last_run(store: BatchStore) -> str:
    runs = store.fs.ls(store._path("runs"), detail=True)
    return max(runs, key=lambda entry: entry["mtime"])["name"].rsplit("/", 1)[1]


def generated_ids(table: pa.Table) -> set[str]:
    return {row[schema.DOC_ID] for row in table.to_pylist() if row[schema.ORIGIN] is not None}


@pytest.mark.ray
def test_parents_and_rows_are_the_same_on_one_and_two_workers_and_after_a_killed_actor(ray_session, tmp_path):
    table = parents()
    config = AugmentConfig(progress=False, paraphrase={"sample_rate": 0.5, "target_rows": 1000})
    expected_parents = {doc_id for doc_id in table.column(schema.DOC_ID).to_pylist()
                        if parent_hash("paraphrase", doc_id) / 2**64 < 0.5}
    with OpenAITestServer(reply=augment_model.reply) as server:
        one, _ = run_stage(config, llm_for(server, tmp_path / "c1"), tmp_path / "w1", table, workers=1)
        two, _ = run_stage(config, llm_for(server, tmp_path / "c2"), tmp_path / "w2", table, workers=2)
        killed, run_id = run_stage(config, llm_for(server, tmp_path / "c3"), tmp_path / "w3", table, workers=2,
                                   actor=KillOnce, marker=str(tmp_path / "killed"))
    assert (tmp_path / "killed").exists()
    rows = [row for row in one.to_pylist() if row[schema.ORIGIN] == "paraphrase"]
    assert {row[schema.PARENT_ID] for row in rows} == expected_parents and len(rows) == len(expected_parents)
    assert generated_ids(one) == generated_ids(two) == generated_ids(killed)
    for out in (one, two, killed):  # every input row passes through once
        assert out.num_rows == table.num_rows + len(rows)
    # The markers of the killed run count each batch once: they add up to the rows in the data.
    llm = llm_for(server, tmp_path / "c3")
    store = BatchStore(method_url(str(tmp_path / "w3"), build_row_methods(config, llm)[0]))
    assert sum(info["rows"] for _, info in store.marks(run_id)) == len(rows)


@pytest.mark.ray
def test_target_holds_across_workers_with_at_most_one_batch_overshoot(ray_session, tmp_path):
    config = AugmentConfig(progress=False, paraphrase={"target_rows": 6})
    with OpenAITestServer(reply=augment_model.reply) as server:
        out, _ = run_stage(config, llm_for(server, tmp_path / "c"), tmp_path / "w", parents(), workers=2)
        # A re-run (as after a killed driver) replays the finished batches and repeats no request.
        again, _ = run_stage(config, llm_for(server, tmp_path / "c"), tmp_path / "w", parents(), workers=2)
        assert all(entry.attempt == 0 for entry in server.log)
    made = len(generated_ids(out))
    assert 6 <= made <= 6 + 2 * 5  # batches of 5 parents, one row each, two workers
    assert generated_ids(out) <= generated_ids(again)


@pytest.mark.ray
def test_endpoint_failures_are_not_dead_letters_and_are_asked_again(ray_session, tmp_path):
    table = parents(10)
    config = AugmentConfig(progress=False, paraphrase={})
    down = always(SERVER_ERROR)
    with OpenAITestServer(reply=augment_model.reply, faults=down) as server:
        store = BatchStore(method_url(str(tmp_path / "w"), build_row_methods(config, llm_for(server, tmp_path))[0]))
        with pytest.raises(Exception) as raised:
            run_stage(config, llm_for(server, tmp_path / "c"), tmp_path / "w", table, workers=1)
        # Ray Data wraps what the actor raised; the outage is also kept beside the run's markers.
        outage = endpoint_outage(raised.value) or store.outage(_last_run(store))
        assert isinstance(outage, EndpointOutage) and outage.stage == "augment.paraphrase" and outage.failed > 0
        kept, run_id = run_stage(config, llm_for(server, tmp_path / "c", on_failure="keep"), tmp_path / "w", table,
                                 workers=1)
        assert kept.num_rows == table.num_rows and not generated_ids(kept)  # parents pass, nothing rejected
        marks = store.marks(run_id)
        assert marks and all(not info["counters"].get("dead.llm_server_error") for _, info in marks)
        assert sum(info["counters"]["calls_failed_endpoint"] for _, info in marks) == table.num_rows
        assert all(store.dead(key).num_rows == 0 for key, _ in marks)
        server.settings.faults = None  # the endpoint is back: the re-run asks again and generates
        again, _ = run_stage(config, llm_for(server, tmp_path / "c"), tmp_path / "w", table, workers=1)
    assert len(generated_ids(again)) == table.num_rows


def test_progress_line_shows_rows_rates_cost_and_eta():
    from collections import Counter

    from sftforge.jobs.augment.row_stage import progress_line

    usage = Counter(parents=50, candidates=60, requests=100, prompt_tokens=800, completion_tokens=200, cost=0.5)
    line = progress_line("round_trip", 40, 100, usage, elapsed=10.0)
    assert line == ("augment round_trip: 40/100 rows, 50 parents, 60 candidates, acceptance 80%, 10.0 req/s, "
                    "100 tok/s, cost 0.5000, ETA 15s")
    assert progress_line("round_trip", 100, 100, usage, 10.0).endswith("ETA done")
