"""Self-Instruct's rounds across Ray worker actors, against a real server on 127.0.0.1.

Covers the same requests and rows with one and two workers, a worker actor killed mid-round (Ray
restarts it; the run finishes with the same rows and asks nothing twice), and a SIGKILLed driver whose
re-run repeats no request of a finished round.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.augment.driver import ProgressBoard, read_generated
from sftforge.jobs.augment.self_instruct_rounds import SelfInstructGenerator
from sftforge.jobs.augment.self_instruct_work import SelfInstructWorker
from sftforge.jobs.augment.self_instruct_workers import WorkerPool, deal
from sftforge.operators import schema
from sftforge.operators.augment import AugmentConfig
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.llm_client import LLMConfig, RetryPolicy

from tests.support import augment_model
from tests.support.openai_server import OpenAITestServer

ROOT = Path(__file__).resolve().parents[3]
SEEDS = str(ROOT / "jobs" / "demo" / "seed_tasks.jsonl")
QUICK_RETRY = RetryPolicy(max_attempts=3, max_total_s=20, initial_backoff_s=0.01, max_backoff_s=0.05,
                          repair_attempts=1)


def llm_for(server, cache: Path, **overrides) -> LLMConfig:
    values = {"base_url": server.url, "model": "test-model", "api_key_env": None, "seed": 0, "cache": str(cache),
              "retry": QUICK_RETRY, "max_in_flight": 4, "timeout_s": 5}
    return LLMConfig(**{**values, **overrides})


def si_config(workers: int, **overrides) -> si.SelfInstructConfig:
    values = {"seed_tasks": SEEDS, "target_rows": 24, "prompts_per_batch": 4, "workers": workers}
    return si.SelfInstructConfig(**{**values, **overrides})


def kill_once(marker: Path, driver_pid: int) -> type[SelfInstructWorker]:
    """A worker that SIGKILLs its own process once, after its first classification and instance calls
    were answered (and cached) and before it returns them. Defined here so that Ray ships it by value."""

    class KillOnce(SelfInstructWorker):
        def instances(self, round_number, specs):
            results = super().instances(round_number, specs)
            if os.getpid() != driver_pid and not marker.exists():
                marker.write_text("killed")
                os.kill(os.getpid(), signal.SIGKILL)
            return results

    return KillOnce


def grow(config: si.SelfInstructConfig, llm: LLMConfig, work: Path, worker_class=SelfInstructWorker) -> list[dict]:
    generator = SelfInstructGenerator(config, llm, work, worker_class=worker_class)
    generator.resume()
    board = ProgressBoard(False)
    generator.run(board)
    assert generator.outcome.stopped is None
    return pa.concat_tables(list(read_generated(generator.outcome))).to_pylist()


def asked(server) -> Counter:
    return Counter((entry.last_user_message(), entry.body.get("seed")) for entry in server.log)


def test_prompts_are_dealt_by_number():
    assert deal(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    assert deal([1], 2) == [[1], []]


@pytest.mark.ray
def test_one_and_two_workers_ask_the_same_and_a_killed_worker_changes_nothing(ray_session, tmp_path):
    with OpenAITestServer(reply=augment_model.reply) as server:
        one = grow(si_config(1), llm_for(server, tmp_path / "c1"), tmp_path / "w1")
        requests_one = asked(server)
        server.reset()
        two = grow(si_config(2), llm_for(server, tmp_path / "c2"), tmp_path / "w2")
        requests_two = asked(server)
        server.reset()
        marker = tmp_path / "killed"
        killed = grow(si_config(2), llm_for(server, tmp_path / "c3"), tmp_path / "w3",
                      worker_class=kill_once(marker, os.getpid()))
        repeated = [entry for entry in server.log if entry.attempt > 0]
    assert marker.exists()  # a worker actor died mid-run
    assert len(one) == 24 and {row[schema.ORIGIN] for row in one} == {"self_instruct"}
    assert requests_one == requests_two  # the same questions, whatever the number of workers
    assert one == two == killed
    assert not repeated  # the restarted actor's calls came from the response cache


def test_the_worker_count_is_not_part_of_the_fingerprint(tmp_path):
    with OpenAITestServer(reply=augment_model.reply) as server:
        llm = llm_for(server, tmp_path / "cache")
        folders = {SelfInstructGenerator(si_config(workers), llm, tmp_path).checkpoints.root
                   for workers in (1, 2, 5)}
    assert len(folders) == 1


def test_a_coordinator_only_in_this_process_keeps_the_worker_in_the_driver(tmp_path):
    from sftforge.operators.llm_client import coordinator as coordination

    with OpenAITestServer(reply=augment_model.reply) as server:
        llm = llm_for(server, tmp_path / "cache", coordinator="test-in-process")
        coordination.register_local("test-in-process", coordination.coordinator_for(llm))
        pool = WorkerPool(si_config(3), llm, None)
        try:
            assert pool.local is not None and pool.size == 1 and not pool.actors
        finally:
            pool.close()
            coordination.unregister_local("test-in-process")


# --- A SIGKILLed driver -----------------------------------------------------------------------------

DRIVER = ("import sys, ray; ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False); "
          "from sftforge.jobs.augment.driver import main; sys.exit(main(sys.argv[2:]))")


@pytest.mark.ray
def test_a_sigkilled_driver_resumes_without_repeating_finished_rounds(ray_session, tmp_path):
    target, per_batch, in_flight, workers = 60, 2, 2, 2
    address = ray_session.get_runtime_context().gcs_address
    with OpenAITestServer(reply=augment_model.reply, latency=0.05, concurrency=2) as server:
        llm = llm_for(server, tmp_path / "cache", max_in_flight=in_flight)
        config = AugmentConfig(progress=False, work_dir=str(tmp_path / "work"),
                               self_instruct={"seed_tasks": SEEDS, "target_rows": target, "workers": workers,
                                              "prompts_per_batch": per_batch, "languages": ["en"]})
        (tmp_path / "augment.json").write_text(config.model_dump_json(), encoding="utf-8")
        (tmp_path / "llm.json").write_text(llm.model_dump_json(), encoding="utf-8")
        command = [sys.executable, "-c", DRIVER, address, "--config", str(tmp_path / "augment.json"),
                   "--llm", str(tmp_path / "llm.json"), "--work-dir", str(tmp_path / "work"), "--no-progress"]
        env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        folder = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            folders = list((tmp_path / "work").glob("self_instruct-*"))
            if folders and len(list(folders[0].glob("done-*.json"))) >= 2:
                folder = folders[0]
                break
            time.sleep(0.02)
        assert folder is not None, f"no round finished: {process.stderr.read().decode() if process.poll() is not None else ''}"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        finished = sorted(folder.glob("done-*.json"))
        finished_batches = [int(path.stem.split("-")[1]) for path in finished]
        finished_instructions = {
            text for batch in finished_batches
            for text in pq.read_table(folder / f"state-{batch:06d}.parquet").column("instruction").to_pylist()
        }
        rows_before = sum(json.loads(path.read_text())["rows"] for path in finished)
        assert rows_before < target, "the run finished before it could be killed"
        sent_before = server.count

        rerun = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        report = json.loads(rerun.stdout[rerun.stdout.index("{"):])
        after = server.log[sent_before:]

    method = report["methods"]["self_instruct"]
    assert report["rows_generated"] == target and method["resumed_rows"] == rows_before
    assert after  # the re-run had rounds left to ask
    for entry in after:
        prompt = entry.last_user_message()
        if "Continue the list with" in prompt:
            assert entry.body.get("seed", 0) // per_batch not in finished_batches
        else:
            assert not any(f"Task: {text}" in prompt for text in finished_instructions), prompt[-200:]
    # The unfinished round's answered calls came from the cache: only calls in flight at the kill repeat.
    assert len([entry for entry in after if entry.attempt > 0]) <= in_flight * workers
