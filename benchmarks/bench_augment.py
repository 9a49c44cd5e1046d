"""Benchmarks of augmentation at scale (issue 15), each section a table of figures side by side.

1. The Self-Instruct novelty filter, side by side on pools of 10k, 100k and 1M instructions
   (``novelty_pool.py`` says how they are made; half the candidates are near copies of pool entries):
   candidates/s of ``NoveltyIndex`` in one process and with the pool split across 2 worker processes
   (one per core, as across actors), of the filter of commit ``OLD`` (the previous ``NoveltyIndex``),
   and of the full scan; then agreement of the decisions with the full scan (an exact LCS with every
   pool entry, no filter) on a sample of the candidates: 10,000 at the 10k pool by default; and with an
   exact reference fast enough for 10,000 candidates at every pool (``augment_novelty_reference.py``).
2. Round trip through the per-row actor-pool stage (``AugmentStep`` on real Ray, ``--workers`` actors
   each with an engine at ``--concurrency``) against the test server with latency ``--latency`` in its
   own process: requests/s against the ideal ``workers * concurrency / latency``, overall and between
   10% and 90% of the requests; the driver's CPU share, peak RSS and RSS at 10/50/100% of progress with
   its private and object-store parts (the rows are counted on the workers, as the release writer takes
   the blocks by reference; ``--rows-to-driver``: the driver reads every block).
3. Self-Instruct grown to ``--si-target`` accepted instructions through ``run_augment``: wall time, the
   share the driver spends in the novelty filter, per-round rates, and the time to 1M rows projected
   from them; driver RSS at 10/50/100%. (``augment_runs.py`` has both runs, ``augment_replies.py`` what
   the server answers.)
4. Generation against the chat-completions test server (a separate process, so that it does not share
   the GIL with the client): requests/s of the augmentation driver against the server's ideal
   ``concurrency / latency``, without a cache, with a cold cache, and a re-run on a warm cache.

    python benchmarks/bench_augment.py            # full sizes (pools to 1M, 100k parents, 200k tasks)
    python benchmarks/bench_augment.py --quick    # small sizes, a few minutes
    python benchmarks/bench_augment.py --skip novelty,self_instruct --parents 20000

The machine may be shared: compare the columns of one row, measured one after the other.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa
from augment_novelty_reference import PrefixFilterScan
from augment_replies import default_data
from novelty_pool import FullScan, InstructionMaker, PartitionedPool, old_novelty_index
from sftforge.operators.augment.novelty import NoveltyIndex

OLD = "787562a"  # main before the segmented index


def _rate(function, items: list, batch: int = 500) -> tuple[float, list]:
    """Items per CPU second of ``function`` over batches of ``items`` (CPU time, not wall time: the
    machine may be shared), and its results."""
    results = []
    started = time.process_time()
    for k in range(0, len(items), batch):
        results += function(items[k : k + batch])
    return len(items) / max(time.process_time() - started, 1e-9), results


def bench_novelty(
    sizes: list[int], data: Path, count: int, agree: dict[int, int], old_count: dict[int, int], old_max: int,
    reference: int,
) -> None:
    maker = InstructionMaker(data)
    Old = old_novelty_index(ROOT, OLD)
    print(
        f"novelty filter (ROUGE-L >= 0.7), {count:,} candidates per pool, half of them near copies; "
        f"old = NoveltyIndex at {OLD}"
        + ("" if Old else " (not available: no git)")
        + f", pools <= {old_max:,}"
    )
    print("rates are candidates per CPU second (2 proc: per round, the slower worker's CPU time + the merge)")
    print("agree: with the full scan (naive exact LCS with every pool entry) on a sample; agree ref: with the "
          "exact prefix-filter reference (augment_novelty_reference.py) on the first candidates")
    print(
        f"{'pool':>9} {'build cpu s':>11} {'new/s':>8} {'new 2 proc/s':>13} {'old/s (n)':>16} {'new/old':>8} "
        f"{'full scan/s':>12} {'agree (n)':>16} {'rejected':>9} {'exact ref/s':>12} {'agree ref (n)':>17}"
    )
    for size in sizes:
        rng = random.Random(size)
        pool = [maker.make(rng) for _ in range(size)]
        candidates = [
            maker.near_copy(rng, rng.choice(pool)) if k % 2 else maker.make(rng) for k in range(count)
        ]
        started = time.process_time()
        index = NoveltyIndex(0.7, keep_texts=False)
        index.extend(pool)
        build = time.process_time() - started
        new_rate, verdicts = _rate(index.pool_verdicts, candidates)
        rejected = sum(not v.novel for v in verdicts) / len(verdicts)
        del index
        gc.collect()
        partitioned = PartitionedPool(pool, 2)
        _, split = _rate(partitioned.filter_round, candidates)
        split_rate = len(candidates) / partitioned.cpu_seconds
        partitioned.close()
        old_rate, old_n, old_same = float("nan"), min(old_count.get(size, 0), count), 0
        if not (Old and old_n and size <= old_max):
            old_n = 0
        else:
            old = Old(0.7, keep_texts=False)
            old.extend(pool)
            old_rate, old_verdicts = _rate(
                lambda batch, old=old: [old.check(c) for c in batch], candidates[:old_n]
            )
            old_same = sum(a.novel == b.novel for a, b in zip(old_verdicts, verdicts))
            del old
            gc.collect()
        scan = FullScan(pool)
        sample = min(agree.get(size, 0), count)
        scan_rate, truth = _rate(lambda batch, scan=scan: [scan.novel(c) for c in batch], candidates[:sample])
        same = sum(t == v.novel for t, v in zip(truth, verdicts))
        started = time.process_time()
        exact = PrefixFilterScan(pool)
        ref_build = time.process_time() - started
        ref_n = min(reference, count)
        ref_rate, ref_truth = _rate(lambda batch, exact=exact: [exact.novel(c) for c in batch], candidates[:ref_n])
        ref_same = sum(t == v.novel for t, v in zip(ref_truth, verdicts))
        ref_scan = sum(t == r for t, r in zip(truth, ref_truth))
        del exact
        # The 2-process run resolves each batch as a round; against a fixed pool only near copies of
        # each other within a batch can differ, so it is compared with the one-process verdicts.
        pool_only = sum(a.novel == b.novel for a, b in zip(split, verdicts))
        print(
            f"{size:>9,} {build:11.1f} {new_rate:8,.0f} {split_rate:13,.0f} {old_rate:10,.0f} ({old_n:>4}) "
            f"{new_rate / old_rate:7.1f}x {scan_rate:12,.1f} {same:>7,}/{sample:<7,} {rejected:8.0%} "
            f"{ref_rate:12,.0f} {ref_same:>8,}/{ref_n:<7,}"
            f"   [same decisions: old {old_same:,}/{old_n:,}; 2-proc rounds {pool_only:,}/{count:,}; "
            f"exact ref vs full scan {ref_scan:,}/{sample:,}; ref build {ref_build:.0f} cpu s]"
        )
        del scan, pool
        gc.collect()
    print(f"driver max RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


def bench_generation(parents: int, latency: float, concurrency: int) -> None:
    from openai_process import ServerProcess
    from sftforge.jobs.augment.driver import run_augment
    from sftforge.operators import schema
    from sftforge.operators.augment import AugmentConfig
    from sftforge.operators.llm_client import LLMConfig
    from sftforge.operators.read.records import content_id

    rng = random.Random(0)
    words = [
        "river",
        "mountain",
        "harvest",
        "violin",
        "glacier",
        "orchard",
        "compass",
        "lantern",
        "meadow",
        "bicycle",
        "volcano",
    ]
    rows = []
    for i in range(parents):
        instruction = f"Describe the {rng.choice(words)} and the {rng.choice(words)} in story number {i}."
        rows.append(
            {
                schema.DOC_ID: content_id(schema.KIND_INSTRUCTION, [instruction, "", "x"]),
                schema.KIND: schema.KIND_INSTRUCTION,
                schema.INSTRUCTION: instruction,
                schema.INPUT: "",
                schema.OUTPUT: "An answer.",
            }
        )
    table = pa.Table.from_pylist(rows)
    ideal = concurrency / latency
    print(
        f"\ngeneration (paraphrase, one request per parent): {parents:,} parents, server latency {latency}s, "
        f"concurrency {concurrency}: ideal {ideal:,.0f} requests/s"
    )
    print(f"{'run':<28} {'requests':>9} {'seconds':>8} {'calls/s':>9} {'of ideal':>9}")
    with (
        ServerProcess(latency=latency, concurrency=concurrency) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        runs = [
            ("no cache", None, "a"),
            ("cache, cold", f"{tmp}/cache", "b"),
            ("cache, warm (re-run)", f"{tmp}/cache", "c"),
        ]
        # Baseline: the same requests through the engine alone, in one call (no batches, no parsing).
        from sftforge.operators.augment import paraphrase
        from sftforge.operators.llm_client import LLMEngine

        llm = LLMConfig(
            base_url=server.url, api_key_env=None, model="bench", max_in_flight=concurrency, timeout_s=60
        )
        requests = [
            paraphrase.paraphrase_request(f"{i}", row[schema.INSTRUCTION], "en", 3, temperature=0.7)
            for i, row in enumerate(rows)
        ]
        with LLMEngine(llm, stage="bench") as engine:
            started = time.perf_counter()
            engine.run(requests)
            elapsed = time.perf_counter() - started
        print(
            f"{'engine alone, one call':<28} {parents:>9,} {elapsed:8.2f} {parents / elapsed:9,.0f} "
            f"{parents / elapsed / ideal:8.2f}x"
        )
        for label, cache, work in runs:
            llm = LLMConfig(
                base_url=server.url,
                api_key_env=None,
                model="bench",
                cache=cache,
                max_in_flight=concurrency,
                timeout_s=60,
            )
            config = AugmentConfig(
                progress=False, paraphrase={"target_rows": 10**9, "parents_per_batch": 8 * concurrency}
            )
            before = server.stats()["requests"]
            started = time.perf_counter()
            run_augment(config, llm, f"{tmp}/{work}", lambda: [table])
            elapsed = time.perf_counter() - started
            sent = server.stats()["requests"] - before
            rate = parents / elapsed
            share = f"{rate / ideal:8.2f}x" if sent else "   (none)"
            print(f"{label:<28} {sent:>9,} {elapsed:8.2f} {rate:9,.0f} {share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--quick", action="store_true", help="small sizes everywhere (a few minutes)")
    parser.add_argument("--candidates", type=int, default=10_000, help="candidates per pool")
    parser.add_argument(
        "--agree", type=int, default=10_000, help="candidates checked by full scan at the 10k pool"
    )
    parser.add_argument("--reference", type=int, default=10_000,
                        help="candidates checked by the exact prefix-filter reference, at every pool")
    parser.add_argument(
        "--sizes", type=lambda text: [int(x) for x in text.split(",")], help="pool sizes, e.g. 10000,100000"
    )
    parser.add_argument(
        "--old-max-pool", type=int, default=100_000, help="largest pool the old filter is run on"
    )
    parser.add_argument("--parents", type=int, help="round-trip parents (default 100,000; --quick 2,000)")
    parser.add_argument("--latency", type=float, default=1.0,
                        help="server latency of the round trip, s (1 s: 2 x 64 in flight need ~0.8 of a core)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight per worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-rows", type=int, default=512, help="rows per batch of the actor pool")
    parser.add_argument("--rows-to-driver", action="store_true",
                        help="round trip: the driver reads every block (default: counted on the workers)")
    parser.add_argument("--si-target", type=int,
                        help="Self-Instruct accepted instructions (default 200,000; --quick 2,000)")
    parser.add_argument("--si-latency", type=float, default=0.05)
    parser.add_argument("--si-concurrency", type=int, default=256)
    parser.add_argument("--si-prompts", type=int, default=256, help="generation prompts per round")
    parser.add_argument("--si-workers", type=int, default=2,
                        help="Self-Instruct worker actors on a local Ray (0: one worker in the driver, no Ray)")
    parser.add_argument("--si-worker-cpus", type=float, default=0.5, help="CPUs each worker actor reserves")
    parser.add_argument("--skip", default="", help="comma list of: novelty, round_trip, self_instruct, driver")
    args = parser.parse_args()
    # A stopped benchmark (SIGTERM, as `timeout` sends) unwinds, so its server process and Ray stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    skip = set(args.skip.split(",")) - {""}
    if "novelty" not in skip:
        sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
        # The full scan and the old filter slow down with the pool: smaller samples at larger pools.
        agree = {size: max(args.agree * 10_000 // max(size, 10_000), 1) for size in sizes}
        old_count = {size: max(args.candidates * 10_000 // max(size, 10_000) // 2, 200) for size in sizes}
        reference = min(args.reference, 1_000) if args.quick else args.reference
        bench_novelty(sizes, args.data, args.candidates, agree, old_count, args.old_max_pool, reference)
    if "round_trip" not in skip:
        from augment_runs import bench_round_trip

        parents = args.parents or (2_000 if args.quick else 100_000)
        bench_round_trip(parents, args.latency, args.concurrency, args.workers, args.batch_rows, args.rows_to_driver)
    if "self_instruct" not in skip:
        from augment_runs import bench_self_instruct

        target = args.si_target or (2_000 if args.quick else 200_000)
        bench_self_instruct(target, args.si_latency, args.si_concurrency, args.si_prompts, args.data,
                            args.si_workers, args.si_worker_cpus)
    if "driver" not in skip and not args.quick:
        bench_generation(parents=5000, latency=0.2, concurrency=64)
    print(f"load average at the end: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
