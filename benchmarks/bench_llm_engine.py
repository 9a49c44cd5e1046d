"""Benchmarks of the LLM engine: throughput against the ideal, the cache, faults, and the local model.

    python benchmarks/bench_llm_engine.py [--quick] [--data ../shared/data] [--skip-local]

1. Throughput. The test server (a separate process, so that it does not share a GIL with the client)
   answers each request after L seconds and processes at most C at once, so no client can do better
   than C / L requests/s. One engine runs with ``max_in_flight = C``; two engines in two processes
   with C/2 each run as an LLM stage's actor pool does; beside them, a bare ``openai.AsyncOpenAI``
   loop with a semaphore of C (no cache, limits, retries or validation) shows what the engine's
   machinery costs. At C=256 one Python process is the limit: the server answers in synchronised
   waves of C, and each wave waits for the client's CPU (the SDK's request building is most of it).
2. Cache. The same requests again with a response cache: new requests received by the server.
3. Faults. 10% of prompts get a fault, the kinds in equal shares (429 with Retry-After, 500, 400, 401,
   hang past the timeout, malformed JSON, truncated body, dropped connection, garbled reply); 500s
   persist on every attempt. Rows answered + rows dead-lettered must equal rows in.
4. Local model. SmolLM2-135M-Instruct on llama.cpp's server: completion tokens/s through the engine
   against the bare client on the same server and prompts (Self-Instruct seed tasks from ``--data``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import openai
from openai_process import ROOT, SERVER_ERROR, ServerProcess
from sftforge.operators.llm_client import (
    LLMConfig,
    LLMEngine,
    LLMRequest,
    LLMService,
    LocalModelConfig,
    PromptTemplate,
    RetryPolicy,
)

ECHO = PromptTemplate(name="bench.echo", version="1", messages=(("user", "Repeat after me: {text}"),))


def requests_for(count: int, tag: str) -> list[LLMRequest]:
    return [LLMRequest(id=f"{tag}-{i}", template=ECHO, variables={"text": f"{tag} sentence {i}"}) for i in range(count)]


def engine_config(url: str, in_flight: int, **overrides) -> LLMConfig:
    values = {"base_url": url, "model": "test-model", "api_key_env": None, "max_in_flight": in_flight, "timeout_s": 30}
    values.update(overrides)
    return LLMConfig(**values)


async def bare_client(url: str, model: str, prompts: list[str], in_flight: int, max_tokens: int | None = None):
    """The baseline: the openai client alone, ``in_flight`` requests at once; returns completion tokens."""
    import httpx2

    client = openai.AsyncOpenAI(
        base_url=url, api_key="sk-no-key-required", max_retries=0, timeout=120,
        http_client=openai.DefaultAsyncHttpxClient(
            limits=httpx2.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        ),
    )
    semaphore = asyncio.Semaphore(in_flight)
    tokens = 0

    async def one(prompt: str) -> None:
        nonlocal tokens
        async with semaphore:
            extra = {"max_tokens": max_tokens} if max_tokens else {}
            reply = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}], temperature=0.0, **extra
            )
            tokens += reply.usage.completion_tokens

    await asyncio.gather(*(one(prompt) for prompt in prompts))
    await client.close()
    return tokens


def _engine_worker(url: str, in_flight: int, count: int, tag: str, barrier, spans) -> None:
    """One worker process of the two-worker row: warms its connections, waits for the other, runs."""
    with LLMEngine(engine_config(url, in_flight)) as engine:
        engine.run(requests_for(in_flight, f"warm-{tag}"))
        barrier.wait()
        start = time.perf_counter()
        results = engine.run(requests_for(count, tag))
        spans.put((start, time.perf_counter(), all(result.ok for result in results)))


def engines_in_processes(url: str, level: int, count: int, processes: int) -> float:
    """Requests/s of ``processes`` engines in their own processes, ``level / processes`` in flight each.

    This is how the pipeline runs an LLM stage: an actor pool, one engine per worker process.
    """
    context = multiprocessing.get_context("spawn")  # fork would copy locks held by the parent's threads
    barrier, spans = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_engine_worker, args=(url, level // processes, count // processes, f"p{i}", barrier, spans))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    finished = [spans.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    assert all(ok for _, _, ok in finished)
    return count / (max(end for _, end, _ in finished) - min(start for start, _, _ in finished))


def bench_throughput(quick: bool) -> None:
    latency = 1.0
    levels = (8, 64, 256) if quick else (8, 32, 64, 128, 256)
    rounds = 4 if quick else 10
    print(f"\n== throughput: server latency L={latency:g}s, server concurrency C, {rounds} rounds of C requests, "
          "connections warm")
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the ratios need the client to get"
          " its CPU: see 'ms CPU/req')")
    print("  engine: one engine, C in flight; 2 workers: two engine processes, C/2 in flight each (an LLM stage's")
    print("  actor pool); bare: openai.AsyncOpenAI alone, C in flight (no cache, limits, retries or validation)")
    print(f"{'C':>5} {'ideal req/s':>12} {'engine/ideal':>13} {'2 workers/ideal':>16} {'bare/ideal':>11} "
          f"{'engine ms CPU/req':>18} {'bare ms CPU/req':>16}")
    for level in levels:
        count = level * rounds
        ideal = level / latency
        with ServerProcess(latency=latency, concurrency=level) as server:
            prompts = [request.variables["text"] for request in requests_for(count, f"bare{level}")]
            asyncio.run(bare_client(server.url, "test-model", prompts[:level], level))
            start, cpu = time.perf_counter(), time.process_time()
            asyncio.run(bare_client(server.url, "test-model", prompts, level))
            bare_rate = count / (time.perf_counter() - start)
            bare_cpu = (time.process_time() - cpu) / count * 1000
            with LLMEngine(engine_config(server.url, level)) as engine:
                engine.run(requests_for(level, f"warm{level}"))
                start, cpu = time.perf_counter(), time.process_time()
                results = engine.run(requests_for(count, f"engine{level}"))
                engine_rate = count / (time.perf_counter() - start)
                engine_cpu = (time.process_time() - cpu) / count * 1000
            assert all(result.ok for result in results)
            pool_rate = engines_in_processes(server.url, level, count, 2)
        print(
            f"{level:>5} {ideal:>12.1f} {engine_rate / ideal:>13.3f} {pool_rate / ideal:>16.3f} "
            f"{bare_rate / ideal:>11.3f} {engine_cpu:>18.2f} {bare_cpu:>16.2f}"
        )


def bench_cache(quick: bool) -> None:
    count = 500 if quick else 2000
    print(f"\n== cache: {count} requests, then the same requests again")
    with ServerProcess(latency=0.05, concurrency=64) as server, tempfile.TemporaryDirectory() as cache:
        config = engine_config(server.url, 64, cache=cache)
        timings = []
        for attempt in ("first run", "re-run"):
            before = server.stats()["requests"]
            with LLMEngine(config) as engine:
                start = time.perf_counter()
                results = engine.run(requests_for(count, "cache"))
                elapsed = time.perf_counter() - start
                ledger = engine.ledger()
            new = server.stats()["requests"] - before
            timings.append(elapsed)
            print(
                f"{attempt:>10}: new requests {new:>5}, cache hits {ledger.get('cache_hits', 0):>5}, "
                f"misses {ledger.get('cache_misses', 0):>5}, answered {sum(r.ok for r in results)}, "
                f"{count / elapsed:,.0f} rows/s"
            )
        print(f"re-run speed-up: {timings[0] / timings[1]:.1f}x")


def bench_faults(quick: bool) -> None:
    count = 1000 if quick else 3000
    print(f"\n== faults: {count} rows, 10% faulted, every kind the server injects in equal shares")
    retry = RetryPolicy(max_attempts=4, max_total_s=60, initial_backoff_s=0.05, max_backoff_s=0.5)
    with ServerProcess(
        latency=0.02, concurrency=128, fault_fraction=0.1, persistent=(SERVER_ERROR,), retry_after=1.0, hang_s=4.0
    ) as server:
        config = engine_config(server.url, 64, timeout_s=2.0, retry=retry)
        with LLMEngine(config) as engine:
            start = time.perf_counter()
            results = engine.run(requests_for(count, "fault"))
            elapsed = time.perf_counter() - start
            ledger = engine.ledger()
        stats = server.stats()
    answered = sum(result.ok for result in results)
    dead = Counter(result.reason for result in results if not result.ok)
    print(f"faults injected by the server: {json.dumps(dict(sorted(stats['faults'].items())))}")
    print(f"rows in {count}, answered {answered}, dead-lettered {sum(dead.values())} {json.dumps(dict(sorted(dead.items())))}")
    print(
        f"answered + dead-lettered = {answered + sum(dead.values())} "
        f"({'OK, nothing lost' if answered + sum(dead.values()) == count else 'MISMATCH'}); "
        f"requests {ledger.get('requests', 0)}, retries {ledger.get('retries', 0)}, {elapsed:.1f}s"
    )


def seed_prompts(data: Path, count: int) -> list[str]:
    path = data / "self_instruct" / "seed_tasks.jsonl"
    if not path.is_file():
        return [f"Write one sentence about the number {i}." for i in range(count)]
    prompts = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            task = json.loads(line)
            instance = (task.get("instances") or [{}])[0]
            prompts.append("\n\n".join(part for part in (task["instruction"], instance.get("input", "")) if part))
            if len(prompts) == count:
                break
    return prompts


def bench_local(quick: bool, data: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        print("\n== local model: skipped (llama-cpp-python not installed; pip install 'sftforge[local-llm]')")
        return
    count = 12 if quick else 32
    max_tokens = 64
    prompts = seed_prompts(data, count)
    template = PromptTemplate(name="bench.local", version="1", messages=(("user", "{prompt}"),))
    config = LLMConfig(backend="local", max_tokens=max_tokens, max_in_flight=2, local=LocalModelConfig(n_ctx=1024))
    print(f"\n== local model: SmolLM2-135M-Instruct Q4_1 on llama.cpp, {count} Self-Instruct seed prompts, "
          f"max_tokens={max_tokens}, 2 in flight")
    with LLMService(config, run_id="bench-local") as service:
        url, model = service.config.base_url, service.config.model
        rows = []
        requests = [LLMRequest(id=str(i), template=template, variables={"prompt": p}) for i, p in enumerate(prompts)]

        def run_bare() -> tuple[int, float]:
            start = time.perf_counter()
            tokens = asyncio.run(bare_client(url, model, prompts, 2, max_tokens))
            return tokens, time.perf_counter() - start

        def run_engine() -> tuple[list, float]:
            with LLMEngine(service.config, stage="bench") as engine:
                start = time.perf_counter()
                found = engine.run(requests)
                return found, time.perf_counter() - start

        for round_ in range(2):  # alternate, so that neither side always runs on a warmer machine
            if round_ % 2 == 0:
                bare_tokens, bare_time = run_bare()
                results, engine_time = run_engine()
            else:
                results, engine_time = run_engine()
                bare_tokens, bare_time = run_bare()
            engine_tokens = sum(result.completion_tokens for result in results)
            rows.append((bare_tokens / bare_time, engine_tokens / engine_time))
            reasons = Counter(result.reason or "answered" for result in results)
            print(
                f"round {round_ + 1}: bare client {bare_tokens} tokens in {bare_time:.1f}s = {bare_tokens / bare_time:.1f} tok/s; "
                f"engine {engine_tokens} tokens in {engine_time:.1f}s = {engine_tokens / engine_time:.1f} tok/s "
                f"(ratio {engine_tokens / engine_time / (bare_tokens / bare_time):.3f}); outcomes {dict(reasons)}"
            )
        bare = sum(row[0] for row in rows) / len(rows)
        through = sum(row[1] for row in rows) / len(rows)
        print(f"mean: bare {bare:.1f} tok/s, engine {through:.1f} tok/s, engine/bare {through / bare:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer levels and rows")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--only", choices=("throughput", "cache", "faults", "local"))
    args = parser.parse_args()
    sections = {
        "throughput": lambda: bench_throughput(args.quick),
        "cache": lambda: bench_cache(args.quick),
        "faults": lambda: bench_faults(args.quick),
        "local": lambda: None if args.skip_local else bench_local(args.quick, args.data),
    }
    for name, run in sections.items():
        if args.only in (None, name):
            run()


if __name__ == "__main__":
    main()
