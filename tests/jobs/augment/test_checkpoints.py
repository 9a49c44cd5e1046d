"""Checkpoints on an object store: Self-Instruct rounds checkpointed on ``s3://`` (a real S3-compatible
server on 127.0.0.1) and a second run over the same URL that asks nothing of the finished rounds.

Self-Instruct runs its worker in this process when Ray is not running, so no Ray here.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.jobs.augment.checkpoints import (
    STATE_SCHEMA_SELF_INSTRUCT,
    Checkpoints,
    dataset_paths,
    read_bytes,
)
from sftforge.jobs.augment.driver import ProgressBoard, read_dead_letters, read_generated
from sftforge.jobs.augment.self_instruct_rounds import SelfInstructGenerator
from sftforge.jobs.augment.step import augment_work_dir
from sftforge.operators import schema
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.provenance import GENERATED_SCHEMA
from sftforge.operators.llm_client import LLMConfig, RetryPolicy

from tests.support import augment_model
from tests.support.openai_server import OpenAITestServer
from tests.support.s3_server import S3Server

ROOT = Path(__file__).resolve().parents[3]
SEEDS = str(ROOT / "jobs" / "demo" / "seed_tasks.jsonl")
WORK = "s3://augment/release/_augment"


def test_the_default_work_folder_of_an_object_store_output_stays_a_url():
    assert augment_work_dir("s3://bucket/x") == "s3://bucket/x/_augment"
    assert augment_work_dir("s3://bucket/x/") == "s3://bucket/x/_augment"
    assert augment_work_dir("out/releases") == str(Path("out/releases/_augment"))


def _generator(server, target: int) -> SelfInstructGenerator:
    # No response cache: every call of a round that is not checkpointed reaches the server.
    retry = RetryPolicy(max_attempts=1, max_total_s=10, initial_backoff_s=0.01, max_backoff_s=0.02)
    llm = LLMConfig(base_url=server.url, model="test-model", api_key_env=None, seed=0, cache=None, retry=retry,
                    max_in_flight=4, timeout_s=5)
    config = si.SelfInstructConfig(seed_tasks=SEEDS, target_rows=target, prompts_per_batch=2, languages=["en"])
    generator = SelfInstructGenerator(config, llm, WORK)
    generator.resume()
    return generator


def _bodies(server, start: int) -> list[str]:
    return [repr(request.body) for request in server.log[start:]]


@pytest.fixture()
def s3():
    with S3Server() as server:
        server.create_bucket("augment")
        with server.exported():
            yield server


def test_self_instruct_rounds_on_s3_resume_without_asking_finished_rounds_again(s3):
    fs = s3.filesystem()
    with OpenAITestServer(reply=augment_model.reply) as server:
        first = _generator(server, target=4)
        first.run(ProgressBoard(False))
        asked_first = _bodies(server, 0)
        rounds_first = first.checkpoints.finished()
        assert first.outcome.rows == 4 and asked_first and rounds_first

        # A raised target continues from the checkpoints on the store, as a killed run would.
        second = _generator(server, target=8)
        assert second.outcome.resumed_rows == 4 and second.next_batch == len(rounds_first)
        second.run(ProgressBoard(False))
        asked_second = _bodies(server, len(asked_first))

        again = _generator(server, target=8)
        requests_before = server.count
        again.run(ProgressBoard(False))
        assert server.count == requests_before  # every round finished: nothing asked

    assert second.outcome.rows == 8 and second.outcome.stopped is None
    assert asked_second and not set(asked_second) & set(asked_first)
    assert again.outcome.rows == 8 and again.outcome.resumed_rows == 8

    folder = second.checkpoints.url
    assert folder.startswith(f"{WORK}/self_instruct-") and all(part.startswith(folder) for part in second.outcome.parts)
    rounds = second.checkpoints.finished()
    stored = sorted(path.rsplit("/", 1)[-1] for path in fs.ls(folder.removeprefix("s3://")))
    assert stored == sorted(f"{kind}-{batch:06d}.{'json' if kind == 'done' else 'parquet'}"
                            for batch in rounds for kind in ("dead", "done", "part", "state"))
    generated = pa.concat_tables(read_generated(again.outcome))
    assert generated.num_rows == 8 and generated.schema.equals(GENERATED_SCHEMA)
    assert set(generated.column(schema.SOURCE_FILE).to_pylist()) <= {second.checkpoints.source(b) for b in rounds}
    assert len(list(read_dead_letters(again.outcome))) == len(rounds)  # each round's dead letters read back
    paths, filesystem = dataset_paths(again.outcome.parts)
    assert filesystem is not None and all(not path.startswith("s3://") for path in paths)


def test_a_batch_without_its_marker_is_not_finished_on_s3(s3):
    checkpoints = Checkpoints(f"{WORK}/method-0123")
    empty = STATE_SCHEMA_SELF_INSTRUCT.empty_table()
    rows = GENERATED_SCHEMA.empty_table()
    checkpoints.write(0, rows, pa.table({"x": pa.array([], pa.string())}), empty, {"batch": 0, "rows": 0})
    checkpoints.write(1, rows, pa.table({"x": pa.array([], pa.string())}), empty, None)  # killed before its marker
    assert checkpoints.finished() == [0]
    assert checkpoints.info(0) == {"batch": 0, "rows": 0}
    assert checkpoints.state(1).schema.equals(STATE_SCHEMA_SELF_INSTRUCT)
    assert read_bytes(checkpoints.dead(0)).startswith(b"PAR1")  # how the step copies dead letters out
