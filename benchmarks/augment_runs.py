"""The generation runs of ``bench_augment.py``: round trip through the distributed per-row stage, and
Self-Instruct grown through its public entry, both against the test server in its own process, with the
driver's RSS sampled against progress."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
from augment_measure import FilterTimer, ProcessCpu, ProgressSampler, cpu_seconds, rss_mib

# --- Round trip ------------------------------------------------------------------------------------


def round_trip_parents(count: int, folder: Path, files: int = 16) -> None:
    """``count`` distinct English instruction rows, as ``files`` Parquet files (the read streams them as
    that many blocks, spread over the actors)."""
    from sftforge.operators import schema
    from sftforge.operators.read.records import content_id

    rng = random.Random(0)
    words = ["river", "mountain", "harvest", "violin", "glacier", "orchard", "compass", "lantern", "meadow",
             "bicycle", "volcano"]
    rows = []
    for i in range(count):
        instruction = f"Describe the {rng.choice(words)} and the {rng.choice(words)} in story number {i}."
        rows.append({schema.DOC_ID: content_id(schema.KIND_INSTRUCTION, [instruction, "", "An answer."]),
                     schema.KIND: schema.KIND_INSTRUCTION, schema.INSTRUCTION: instruction, schema.INPUT: "",
                     schema.OUTPUT: "An answer."})
    table = pa.Table.from_pylist(rows, schema=schema.BASE_SCHEMA)
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-count // files)
    for k in range(files):
        pq.write_table(table.slice(k * step, step), folder / f"part-{k:05d}.parquet")


def start_ray() -> None:
    """A local Ray for one run (``ProcessCpu.poll`` puts its workers at nice 0)."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    # The workers inherit it (no runtime_env to set up): they import this folder's modules.
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    for attempt in range(4):  # on a loaded host the raylet may miss Ray's fixed 30 s startup wait
        try:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
            return
        except Exception as error:
            if "timed out during startup" not in str(error) or attempt == 3:
                raise
            print(f"Ray did not start ({error}); trying again", flush=True)
            ray.shutdown()


def _count_rows(batch: pa.Table) -> pa.Table:
    return pa.table({"rows": [batch.num_rows]})


def bench_round_trip(parents: int, latency: float, concurrency: int, workers: int, batch_rows: int,
                     rows_to_driver: bool = False) -> None:
    """Round trip over ``parents`` rows through ``AugmentStep`` (the per-row actor pool) on real Ray.

    The rows are counted on the workers and only the counts reach the driver, as in a pipeline run
    (the release writer's tasks take the blocks by reference); with ``rows_to_driver`` the driver reads
    every block, and its RSS then also counts the object-store pages of the blocks it read (Ray's shared
    memory, not the driver's own: the private part stays flat).
    """
    import ray
    import ray.data
    from openai_process import ServerProcess
    from sftforge.jobs.augment.step import AugmentStep
    from sftforge.jobs.steps.base import RunContext
    from sftforge.operators.augment import AugmentConfig
    from sftforge.operators.llm_client import LLMConfig

    ideal = workers * concurrency / latency
    expected = 2 * parents
    print(f"\nround trip (2 calls per parent) through the per-row actor-pool stage: {parents:,} parents, "
          f"{workers} workers x C={concurrency}, server latency {latency}s in its own process, "
          f"batch_rows {batch_rows}, rows read {'by the driver' if rows_to_driver else 'on the workers'}: "
          f"ideal {ideal:,.0f} requests/s; load {Path('/proc/loadavg').read_text().split()[0]}")
    with (ServerProcess(latency=latency, reply="augment_replies:reply") as server,
          tempfile.TemporaryDirectory(prefix="bench-rt-") as tmp):
        source = Path(tmp, "parents")
        files = max(4 * workers, parents // 4096)
        round_trip_parents(parents, source, files)
        start_ray()
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        try:
            llm = LLMConfig(base_url=server.url, api_key_env=None, model="bench", max_in_flight=concurrency,
                            timeout_s=120)
            config = AugmentConfig(progress=False, workers=workers, batch_rows=batch_rows,
                                   round_trip={"target_rows": 10**9, "parents_per_batch": batch_rows})
            job = SimpleNamespace(augment=config, llm=llm, output=SimpleNamespace(dir=f"{tmp}/out"))
            ctx = RunContext(job, "bench", None, Path(tmp, "staging"))
            step = AugmentStep(job)
            before = server.stats()["requests"]
            ds = step.run(_read_as_sftforge_does(source), ctx)
            if not rows_to_driver:
                ds = ds.map_batches(_count_rows, batch_format="pyarrow", batch_size=None)
            rows = 0
            cpu0 = cpu_seconds()
            processes = ProcessCpu(server.process.pid)

            def progress() -> int:
                processes.poll()
                return server.stats()["requests"] - before

            with ProgressSampler(progress) as sampler:
                for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                    rows += batch.num_rows if rows_to_driver else sum(batch.column("rows").to_pylist())
            elapsed = sampler.samples[-1][0]
            cpu = cpu_seconds() - cpu0
            processes.poll(force=True)
            report = step.outcome().report
        finally:
            ray.shutdown()
        sent = server.stats()["requests"] - before
    rate = sent / elapsed
    first, last = sampler.at(0.1), sampler.at(0.9)
    steady = (last[1] - first[1]) / (last[0] - first[0]) if first and last and last[0] > first[0] else float("nan")
    generated = report.get("rows_by_method", {}).get("round_trip", 0)
    print(f"{'requests':>9} {'expected':>9} {'seconds':>8} {'req/s':>8} {'ideal':>7} {'ratio':>6} "
          f"{'10-90% req/s':>13} {'ratio':>6} {'rows out':>9} {'generated':>9} {'driver cpu':>11} {'peak RSS':>9}")
    print(f"{sent:>9,} {expected:>9,} {elapsed:8.1f} {rate:8,.1f} {ideal:7,.0f} {rate / ideal:6.3f} "
          f"{steady:13,.1f} {steady / ideal:6.3f} {rows:>9,} {generated:>9,} {cpu / elapsed:10.0%} "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8,.0f}M")
    print(sampler.rss_line() + " (progress = requests answered)")
    roles = processes.by_role()
    roles["driver"] = cpu
    per_k = {role: 1000 * seconds / max(sent, 1) for role, seconds in sorted(roles.items())}
    total = sum(per_k.values())
    print("CPU seconds per 1,000 requests: " + ", ".join(f"{role} {value:.2f}" for role, value in per_k.items())
          + f"; total {total:.2f} -> CPU-bound ceiling on 2 free cores {2000 / total:,.0f} requests/s"
          f" ({2000 / total / ideal:.2f} of ideal)")


def _read_paths(batch: pa.Table) -> pa.Table:
    return pa.concat_tables([pq.read_table(path) for path in batch.column("path").to_pylist()])


def _read_as_sftforge_does(folder: Path):
    """One block per file, as ``jobs/read.py`` reads (``from_items`` of the files, then a read per item)."""
    import ray.data

    paths = [{"path": str(path)} for path in sorted(folder.glob("*.parquet"))]
    return ray.data.from_items(paths, override_num_blocks=len(paths)).map_batches(
        _read_paths, batch_format="pyarrow", batch_size=1)


# --- Self-Instruct -----------------------------------------------------------------------------------


class RoundWatcher:
    """Finished Self-Instruct rounds as they land in the checkpoint folder: (seconds, info) each."""

    def __init__(self, work: Path, started: float, timer: FilterTimer | None = None):
        self.work, self.started, self.rounds, self.seen = work, started, [], set()
        self.timer = timer

    def poll(self) -> int:
        for path in sorted(self.work.glob("self_instruct-*/done-*.json")):
            if path.name not in self.seen:
                with contextlib.suppress(OSError, ValueError):
                    info = json.loads(path.read_text())
                    self.seen.add(path.name)
                    info["_cpu"] = (cpu_seconds(), self.timer.cpu if self.timer else 0.0)  # driver, filter
                    self.rounds.append((time.perf_counter() - self.started, info))
        return sum(int(info.get("rows", 0)) for _, info in self.rounds)


def bench_self_instruct(target: int, latency: float, concurrency: int, prompts_per_batch: int, data: Path,
                        workers: int = 2, worker_cpus: float = 0.5) -> None:
    """Self-Instruct to ``target`` accepted instructions (one instance each) through ``run_augment``.

    With ``workers`` >= 1 a local Ray runs and the round's calls go through that many worker actors (each
    with its own engine at ``concurrency`` in flight, reserving ``worker_cpus``: 2 x 0.5 fit the 2 CPUs
    Ray is given, next to the driver and the server, which reserve nothing); with 0, without Ray, one
    worker runs in the driver's process.
    """
    import ray
    from openai_process import ServerProcess
    from sftforge.jobs.augment.driver import run_augment
    from sftforge.operators.augment import AugmentConfig
    from sftforge.operators.llm_client import LLMConfig

    where = (f"{workers} worker actors x C={concurrency} ({worker_cpus} CPU each)" if workers
             else f"one worker in the driver (no Ray), C={concurrency}")
    print(f"\nSelf-Instruct to {target:,} accepted instructions (1 instance each, {prompts_per_batch} prompts "
          f"x 8 new tasks per round) through run_augment, server latency {latency}s, {where}; "
          f"load {Path('/proc/loadavg').read_text().split()[0]}")
    with (ServerProcess(latency=latency, reply="augment_replies:reply") as server,
          tempfile.TemporaryDirectory(prefix="bench-si-") as tmp):
        try:
            if workers:
                start_ray()
            llm = LLMConfig(base_url=server.url, api_key_env=None, model="bench", max_in_flight=concurrency,
                            timeout_s=120)
            config = AugmentConfig(progress=False, self_instruct={
                "seed_tasks": str(data / "self_instruct" / "seed_tasks.jsonl"), "target_rows": target,
                "languages": ["en"], "instances_per_task": 1, "prompts_per_batch": prompts_per_batch,
                "max_stalled_batches": 20, "workers": max(workers, 1), "worker_cpus": worker_cpus})
            processes = ProcessCpu(server.process.pid, actor_marker="SelfInstructWorker")
            timer = FilterTimer()
            watcher = RoundWatcher(Path(tmp, "work"), time.perf_counter(), timer)
            cpu0 = cpu_seconds()
            marks = [target * k // 10 for k in range(1, 11)]

            def progress() -> int:
                rows = watcher.poll()
                processes.poll()
                if marks and rows >= marks[0]:  # a line per 10%: a run stopped early still tells
                    while marks and rows >= marks[0]:
                        marks.pop(0)
                    elapsed = time.perf_counter() - watcher.started
                    print(f"  {rows:>9,} rows, {len(watcher.rounds):>4} rounds, {elapsed:7.1f} s, filter "
                          f"{timer.seconds:6.1f} s ({timer.seconds / elapsed:.0%}), RSS {rss_mib():,.0f} MiB",
                          flush=True)
                return rows

            with timer, ProgressSampler(progress, every=0.5) as sampler:
                watcher.started = sampler.started
                outcome = run_augment(config, llm, Path(tmp, "work"))
            elapsed = sampler.samples[-1][0]
            processes.poll(force=True)  # the actors are gone: what the last polls saw
            cpu = cpu_seconds() - cpu0
        finally:
            if ray.is_initialized():  # when the rounds used actors
                ray.shutdown()
        requests = server.stats()["requests"]
    report = outcome.report()["methods"]["self_instruct"] if hasattr(outcome, "report") else {}
    funnel = report.get("funnel", {})
    rows = outcome.methods["self_instruct"].rows
    print(f"{'rows':>8} {'rounds':>6} {'candidates':>10} {'accepted':>9} {'requests':>9} {'seconds':>8} "
          f"{'rows/s':>7} {'filter s':>9} {'filter share':>12} {'driver cpu':>10} {'filter cpu s':>12} "
          f"{'of driver cpu':>13} {'peak RSS':>9}")
    print(f"{rows:>8,} {len(watcher.rounds):>6} {funnel.get('candidates', 0):>10,} "
          f"{funnel.get('instructions_accepted', 0):>9,} {requests:>9,} {elapsed:8.1f} {rows / elapsed:7.1f} "
          f"{timer.seconds:9.1f} {timer.seconds / elapsed:12.1%} {cpu / elapsed:10.0%} {timer.cpu:12.1f} "
          f"{timer.cpu / max(cpu, 1e-9):13.1%} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8,.0f}M")
    print(f"driver CPU per accepted instruction {1e3 * cpu / max(rows, 1):.2f} ms (filter {1e3 * timer.cpu / max(rows, 1):.2f} "
          f"ms): on one free core, {rows / max(cpu, 1e-9):,.0f} rows/s; 1M rows at this pool-size mix "
          f"{1e6 * cpu / max(rows, 1) / 3600:.2f} h of driver CPU (the filter's share grows with the pool)")
    print(sampler.rss_line() + " (progress = rows)")
    roles = processes.by_role()
    roles["driver"] = cpu
    print("CPU seconds per 1,000 rows: " + ", ".join(
        f"{role} {1000 * seconds / max(rows, 1):.2f}" for role, seconds in sorted(roles.items()))
        + "; of wall: " + ", ".join(f"{role} {seconds / elapsed:.0%}" for role, seconds in sorted(roles.items())))
    _round_rates(watcher.rounds)


def _round_rates(rounds: list[tuple[float, dict]]) -> None:
    """Per-round rates by pool size, and the time to 1M rows projected from them."""
    if len(rounds) < 4:
        print("too few rounds for per-round rates")
        return
    points, previous, pool = [], (0.0, *rounds[0][1]["_cpu"]), 0
    for seconds, info in rounds:
        accepted = int(info.get("counters", {}).get("instructions_accepted", info.get("rows", 0)))
        pool += accepted
        now = (seconds, *info["_cpu"])
        points.append((pool, now[0] - previous[0], accepted, now[1] - previous[1], now[2] - previous[2]))
        previous = now
    points[0] = (*points[0][:3], points[1][3], points[1][4])  # the first round's CPU is not measured
    tenth = max(len(points) // 10, 1)
    print(f"{'pool at':>9} {'rounds':>6} {'s/round':>8} {'accepted/s':>10} {'driver cpu ms/instr':>19} "
          f"{'filter cpu ms/instr':>19}")
    for k in range(0, len(points), tenth):
        chunk = points[k:k + tenth]
        seconds, accepted = sum(p[1] for p in chunk), max(sum(p[2] for p in chunk), 1)
        print(f"{chunk[-1][0]:>9,} {len(chunk):>6} {seconds / len(chunk):8.2f} {accepted / max(seconds, 1e-9):10.1f} "
              f"{1e3 * sum(p[3] for p in chunk) / accepted:19.2f} {1e3 * sum(p[4] for p in chunk) / accepted:19.2f}")
    _project("wall", [(p[0], p[1], p[2]) for p in points], rounds[-1][0])
    _project("driver CPU", [(p[0], p[3], p[2]) for p in points], sum(p[3] for p in points))


def _project(label: str, points: list[tuple[int, float, int]], spent: float) -> None:
    """Seconds to 1M accepted instructions from (pool, seconds, accepted) per round."""
    tenth = max(len(points) // 10, 1)
    # Seconds per accepted instruction as a straight line in the pool size (the filter's cost grows with
    # the pool), fitted on the second half of the run, integrated from 0 to 1M instructions.
    half = points[len(points) // 2:]
    xs = [p[0] for p in half]
    ys = [p[1] / max(p[2], 1) for p in half]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var if var else 0.0
    slope = max(slope, 0.0)
    intercept = mean_y - slope * mean_x
    total = 1_000_000
    projected = intercept * total + slope * total**2 / 2
    last = points[-tenth:]
    flat = sum(p[1] for p in last) / max(sum(p[2] for p in last), 1)
    done = points[-1][0]
    print(f"projected {label} to 1M accepted instructions (= rows at 1 instance each): linear fit of "
          f"s/instruction on pool size (second half: {intercept * 1e3:.2f} ms + {slope * 1e9:.2f} ms per 1M of "
          f"pool) {projected / 3600:.2f} h; measured {spent / 3600:.2f} h to {done:,} then the last tenth's "
          f"rate kept {(spent + flat * max(total - done, 0)) / 3600:.2f} h")
