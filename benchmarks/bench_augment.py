"""Benchmarks of augmentation at scale.

1. The Self-Instruct novelty filter (``NoveltyIndex``: prefix-filtered inverted index + exact ROUGE-L)
   against the naive full ROUGE-L scan, on pools of 10k, 100k and 1M instructions: candidates/s, the
   speed-up, and agreement of the decisions where the naive scan finishes.
2. Generation against the chat-completions test server (a separate process, so that it does not share
   the GIL with the client): requests/s of the augmentation driver against the server's ideal
   ``concurrency / latency``, without a cache, with a cold cache, and a re-run on a warm cache.

Pools are made at run time from varied instruction templates filled with real text from
``--data`` (``../shared/data``: lingua's English and Chinese sentences, news prompts, Ruozhiba questions,
Self-Instruct's seed tasks), in English and Chinese.

    python benchmarks/bench_augment.py            # pools of 10k, 100k and 1M
    python benchmarks/bench_augment.py --quick    # pools of 10k and 100k, smaller generation run
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa
from sftforge.operators.augment.novelty import NoveltyIndex, naive_scan, rouge_tokens

EN_TEMPLATES = [
    "Summarize the following text in one sentence: {s}",
    "Explain to a child what this means: {s}",
    "Is the following statement true or false? {s}",
    "Rewrite the sentence in a more formal tone: {s}",
    "Write three questions a reader might ask about this: {s}",
    "Translate the sentence into French: {s}",
    "Give a title for a story that starts with: {s}",
    "List the key facts mentioned here: {s}",
    "What is the main idea of this passage? {s}",
    "Continue the text with two more sentences: {s}",
    "Find the grammatical subject of the sentence: {s}",
    "Classify the sentiment of this sentence: {s}",
]
ZH_TEMPLATES = [
    "用一句话总结下面的内容：{s}",
    "向小朋友解释这句话的意思：{s}",
    "判断下面的说法是否正确：{s}",
    "把下面的句子改写得更正式：{s}",
    "针对这段话提出三个问题：{s}",
    "把这句话翻译成英文：{s}",
    "为以这句话开头的故事起个标题：{s}",
    "列出这段话提到的关键事实：{s}",
    "这段话的中心思想是什么？{s}",
    "判断这句话的情感倾向：{s}",
]


def load_sentences(data: Path) -> tuple[list[str], list[str]]:
    """English and Chinese sentences from the reference corpora."""
    english, chinese = [], []
    english += (data / "langid_sentences" / "en.txt").read_text(encoding="utf-8").splitlines()
    chinese += (data / "langid_sentences" / "zh.txt").read_text(encoding="utf-8").splitlines()
    for line in (data / "news" / "t0_news_prompts.jsonl").read_text(encoding="utf-8").splitlines():
        prompt = json.loads(line)["prompt"]
        article = prompt.split("Article:", 1)[-1]
        english += [part.strip() for part in article.split(". ") if 20 < len(part.strip()) < 300]
    for line in (data / "ruozhiba" / "ruozhiba_qa.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        chinese.append(record["question"])
        chinese += [part for part in record["answer"].replace("，", "。").split("。") if 8 < len(part) < 120]
    for line in (data / "self_instruct" / "seed_tasks.jsonl").read_text(encoding="utf-8").splitlines():
        english.append(json.loads(line)["instruction"])
    return [s.strip() for s in english if s.strip()], [s.strip() for s in chinese if s.strip()]


def _window(rng: random.Random, text: str, low: int, high: int, spaced: bool) -> str:
    units = text.split() if spaced else list(text)
    start = rng.randrange(max(1, len(units) - low))
    return (" " if spaced else "").join(units[start : start + rng.randrange(low, high)])


def make_instruction(rng: random.Random, english: list[str], chinese: list[str]) -> str:
    """One instruction: a template filled with windows of two random real sentences.

    Two independent windows make most fresh instructions novel, as in a real Self-Instruct pool (where
    every kept instruction is below the threshold against all others); the template words they share
    are what makes the filter's work hard.
    """
    if rng.random() < 0.6:
        filler = f"{_window(rng, rng.choice(english), 3, 10, True)}, {_window(rng, rng.choice(english), 3, 10, True)}"
        return rng.choice(EN_TEMPLATES).format(s=filler)
    filler = f"{_window(rng, rng.choice(chinese), 4, 14, False)}，{_window(rng, rng.choice(chinese), 4, 14, False)}"
    return rng.choice(ZH_TEMPLATES).format(s=filler)


def perturb(rng: random.Random, text: str) -> str:
    """A near copy: one or two tokens replaced, or a word dropped (what models emit all the time)."""
    if " " in text:
        words = text.split()
        for _ in range(rng.randrange(1, 3)):
            words[rng.randrange(len(words))] = rng.choice(["very", "new", "short", "the", "simple"])
        return " ".join(words)
    chars = list(text)
    for _ in range(rng.randrange(1, 3)):
        chars[rng.randrange(len(chars))] = rng.choice("新旧大小好")
    return "".join(chars)


def bench_novelty(sizes: list[int], data: Path, candidates_per_size: int) -> None:
    english, chinese = load_sentences(data)
    print(f"novelty filter: {len(english):,} English and {len(chinese):,} Chinese sentences as fillers")
    print(f"{'pool':>9} {'build s':>8} {'index cand/s':>13} {'compared/cand':>13} {'naive cand/s':>13} "
          f"{'speed-up':>9} {'agree':>12} {'rejected':>9}")
    for size in sizes:
        rng = random.Random(size)
        pool = [make_instruction(rng, english, chinese) for _ in range(size)]
        started = time.perf_counter()
        index = NoveltyIndex(0.7, keep_texts=False)
        index.extend(pool)
        build = time.perf_counter() - started
        candidates = [
            perturb(rng, rng.choice(pool)) if i % 2 else make_instruction(rng, english, chinese)
            for i in range(candidates_per_size)
        ]
        started = time.perf_counter()
        verdicts = [index.check(candidate) for candidate in candidates]
        index_rate = len(candidates) / (time.perf_counter() - started)
        compared = sum(v.compared for v in verdicts) / len(verdicts)
        rejected = sum(not v.novel for v in verdicts) / len(verdicts)
        # The naive scan over the whole pool, on as many of the same candidates as fit in about 20 s.
        naive_budget = 20.0
        pool_tokens = [rouge_tokens(text) for text in pool]
        agree = total = 0
        started = time.perf_counter()
        for candidate, verdict in zip(candidates, verdicts):
            agree += naive_scan(candidate, pool_tokens).novel == verdict.novel
            total += 1
            if time.perf_counter() - started > naive_budget:
                break
        naive_rate = total / (time.perf_counter() - started)
        print(f"{size:>9,} {build:8.1f} {index_rate:13,.0f} {compared:13.1f} {naive_rate:13,.2f} "
              f"{index_rate / naive_rate:8,.0f}x {agree:>5}/{total:<6} {rejected:8.0%}")
        del index, pool, pool_tokens
        gc.collect()


def bench_generation(parents: int, latency: float, concurrency: int) -> None:
    from openai_process import ServerProcess
    from sftforge.jobs.augment.driver import run_augment
    from sftforge.operators import schema
    from sftforge.operators.augment import AugmentConfig
    from sftforge.operators.llm_client import LLMConfig
    from sftforge.operators.read.records import content_id

    rng = random.Random(0)
    words = ["river", "mountain", "harvest", "violin", "glacier", "orchard", "compass", "lantern", "meadow", "bicycle", "volcano"]
    rows = []
    for i in range(parents):
        instruction = f"Describe the {rng.choice(words)} and the {rng.choice(words)} in story number {i}."
        rows.append({schema.DOC_ID: content_id(schema.KIND_INSTRUCTION, [instruction, "", "x"]),
                     schema.KIND: schema.KIND_INSTRUCTION, schema.INSTRUCTION: instruction, schema.INPUT: "",
                     schema.OUTPUT: "An answer."})
    table = pa.Table.from_pylist(rows)
    ideal = concurrency / latency
    print(f"\ngeneration (paraphrase, one request per parent): {parents:,} parents, server latency {latency}s, "
          f"concurrency {concurrency}: ideal {ideal:,.0f} requests/s")
    print(f"{'run':<28} {'requests':>9} {'seconds':>8} {'calls/s':>9} {'of ideal':>9}")
    with ServerProcess(latency=latency, concurrency=concurrency) as server, tempfile.TemporaryDirectory() as tmp:
        runs = [("no cache", None, "a"), ("cache, cold", f"{tmp}/cache", "b"), ("cache, warm (re-run)", f"{tmp}/cache", "c")]
        # Baseline: the same requests through the engine alone, in one call (no batches, no parsing).
        from sftforge.operators.augment import paraphrase
        from sftforge.operators.llm_client import LLMEngine

        llm = LLMConfig(base_url=server.url, api_key_env=None, model="bench", max_in_flight=concurrency, timeout_s=60)
        requests = [paraphrase.paraphrase_request(f"{i}", row[schema.INSTRUCTION], "en", 3, temperature=0.7)
                    for i, row in enumerate(rows)]
        with LLMEngine(llm, stage="bench") as engine:
            started = time.perf_counter()
            engine.run(requests)
            elapsed = time.perf_counter() - started
        print(f"{'engine alone, one call':<28} {parents:>9,} {elapsed:8.2f} {parents / elapsed:9,.0f} "
              f"{parents / elapsed / ideal:8.2f}x")
        for label, cache, work in runs:
            llm = LLMConfig(base_url=server.url, api_key_env=None, model="bench", cache=cache,
                            max_in_flight=concurrency, timeout_s=60)
            config = AugmentConfig(progress=False, paraphrase={"target_rows": 10**9, "parents_per_batch": 8 * concurrency})
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
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="pools of 10k and 100k; a smaller generation run")
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--skip-novelty", action="store_true")
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args()
    if not args.skip_novelty:
        sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
        bench_novelty(sizes, args.data, args.candidates)
    if not args.skip_generation:
        if args.quick:
            bench_generation(parents=1000, latency=0.2, concurrency=32)
        else:
            bench_generation(parents=5000, latency=0.2, concurrency=64)


if __name__ == "__main__":
    main()
