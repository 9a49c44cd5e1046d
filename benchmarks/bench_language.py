"""Language stage benchmark: accuracy against bare fastText, and throughput inside Ray.

    python benchmarks/bench_language.py [--quick] [--data ../shared/data] [--skip-ray] [--skip-accuracy]

Accuracy: the ``langid_sentences`` corpus (75 languages, 1,000 real sentences each; lingua's test set),
per language and as the mean over the languages the fastText model knows, for bare ``lid.176.ftz``
and for the stage, with what each second opinion adds (script, CLD2, lingua) and the published
figures of other detectors beside them. Throughput: sentences/s of the stage inside Ray (local
``ray.init(num_cpus=2)``, the stage's actor pool) against a bare fastText batch ``predict`` over the
same texts in the same process, printed as a ratio, on the hard case (those sentences: half of them
short or ambiguous enough to need a second opinion) and on the common case (real English news
prompts and Chinese Q&A answers from ``news/`` and ``ruozhiba/``). Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import ray
import ray.data
from sftforge.jobs.runner import ActorBudget, apply_stage
from sftforge.operators import schema
from sftforge.operators.language.codes import label_to_code
from sftforge.operators.language.config import LanguageConfig, default_model_path
from sftforge.operators.language.filter import LanguageFilter
from sftforge.operators.language.identifier import LanguageIdentifier

REPO = Path(__file__).resolve().parents[1]


def load_sentences(folder: Path, per_language: int | None) -> dict[str, list[str]]:
    sentences = {}
    for path in sorted(folder.glob("*.txt")):
        lines = [line.rstrip("\n") for line in path.open(encoding="utf-8") if line.strip()]
        sentences[path.stem] = lines[:per_language] if per_language else lines
    return sentences


def published_accuracy(folder: Path) -> dict[str, dict[str, float]]:
    """lingua's published per-language accuracy (%) of other detectors, keyed by ISO 639-1 code."""
    from lingua import Language

    path = folder / "_lingua_sentences_accuracy.csv"
    if not path.is_file():
        return {}
    result = {}
    with path.open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            code = Language.from_str(row["language"]).iso_code_639_1.name.lower()
            result[code] = {key: float(row[key]) for key in ("lingua-high-accuracy", "cld2", "cld3")}
    return result


def bare_predict(model, texts: list[str]) -> tuple[list[str], float]:
    """Bare fastText: one batch ``predict`` (newlines replaced, as it requires); labels and CPU seconds.

    CPU time, not wall time: other jobs share this machine's cores, and the in-process comparisons
    below are about work done, not about who got the core.
    """
    lines = [text.replace("\n", " ") for text in texts]
    start = time.process_time()
    labels, _ = model.predict(lines, k=1)
    return [label_to_code(label[0]) for label in labels], time.process_time() - start


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def accuracy(
    gold: list[str], predicted: list[str], languages: list[str], parity: int | None = None
) -> dict[str, float]:
    hits, totals = defaultdict(int), defaultdict(int)
    seen = defaultdict(int)
    for truth, guess in zip(gold, predicted):
        index = seen[truth]
        seen[truth] += 1
        if parity is not None and index % 2 != parity:
            continue
        totals[truth] += 1
        hits[truth] += truth == guess
    return {language: hits[language] / totals[language] for language in languages if totals[language]}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_accuracy(sentences: dict[str, list[str]], published: dict[str, dict[str, float]]) -> None:
    texts = [text for lines in sentences.values() for text in lines]
    gold = [language for language, lines in sentences.items() for _ in lines]
    bare_model = LanguageIdentifier(use_cld2=False, use_lingua=False, use_script=False).model
    known = {label_to_code(label) for label in bare_model.get_labels()}
    languages = sorted(sentences)
    supported = [language for language in languages if language in known]
    print(
        f"\n== Accuracy: {len(texts):,} sentences, {len(languages)} languages, "
        f"{len(supported)} known to {default_model_path().name}"
    )
    print(f"   not known to the model (left out of the means): {', '.join(sorted(set(languages) - known))}")

    bare, bare_seconds = bare_predict(bare_model, texts)
    bare_accuracy = accuracy(gold, bare, languages)

    # Each row adds one second opinion; the last is the stage's default.
    variants = [
        ("fastText + script", {"use_cld2": False, "use_lingua": False}),
        ("+ CLD2", {"use_lingua": False}),
        ("+ lingua (low accuracy)", {"lingua_accuracy": "low", "lingua_preload": True}),
        ("+ lingua (high accuracy) = stage", {"lingua_preload": True}),
    ]
    print("   sent/s per CPU-second in this process; 'vs bare' against bare fastText measured just before")
    print(
        f"\n{'detector':34} {'mean acc':>8} {'even':>7} {'odd':>7} {'sent/s':>9} {'vs bare':>8}  decided by"
    )
    print(
        f"{'bare fastText lid.176.ftz':34} {mean(bare_accuracy[l] for l in supported):8.2%} "
        f"{mean(accuracy(gold, bare, supported, 0).values()):7.2%} "
        f"{mean(accuracy(gold, bare, supported, 1).values()):7.2%} {len(texts) / bare_seconds:9,.0f} {1.0:8.2f}"
    )
    stage_accuracy = {}
    for name, settings in variants:
        load_start = time.perf_counter()
        identifier = LanguageIdentifier(**settings)
        identifier.identify([lines[0] for lines in sentences.values()] * 2)  # lazy models of every language
        load_seconds, rss_after = time.perf_counter() - load_start, rss_mb()
        bare_seconds = min(bare_predict(bare_model, texts)[1] for _ in range(2))  # side by side
        found, seconds, share = timed_identify(identifier, texts)
        predicted = [item.lang for item in found]
        scores = accuracy(gold, predicted, languages)
        print(
            f"{name:34} {mean(scores[l] for l in supported):8.2%} "
            f"{mean(accuracy(gold, predicted, supported, 0).values()):7.2%} "
            f"{mean(accuracy(gold, predicted, supported, 1).values()):7.2%} {len(texts) / seconds:9,.0f} "
            f"{bare_seconds / seconds:8.2f}  {share}  (load + warm-up {load_seconds:.1f}s, peak RSS {rss_after:,.0f} MB)"
        )
        stage_accuracy = scores

    # The stage itself on an Arrow batch, as the pipeline calls it: the same labels.
    table = pa.table(
        {
            schema.DOC_ID: [str(i) for i in range(len(texts))],
            schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
            schema.TEXT: texts,
        }
    )
    stage = LanguageFilter(LanguageConfig(min_score=0.0))
    result = stage(table)
    labels = dict(
        zip(result.kept.column(schema.DOC_ID).to_pylist(), result.kept.column(schema.LANG).to_pylist())
    )
    via_stage = [labels.get(str(i), "und") for i in range(len(texts))]
    print(
        f"LanguageFilter on one Arrow batch: mean {mean(accuracy(gold, via_stage, supported).values()):.2%}"
    )

    if published:
        for detector in ("lingua-high-accuracy", "cld2", "cld3"):
            values = [
                published[l][detector] / 100
                for l in supported
                if l in published and published[l][detector] == published[l][detector]
            ]
            print(
                f"published {detector:22} mean {mean(values):.2%} over the {len(values)} of these languages it covers"
            )

    print(f"\n{'lang':5} {'bare':>7} {'stage':>7} {'lingua-hi':>9} {'cld2':>7}")
    for language in languages:
        row = published.get(language, {})
        marker = "" if language in known else "   (not in the model)"
        print(
            f"{language:5} {bare_accuracy.get(language, 0):7.1%} {stage_accuracy.get(language, 0):7.1%} "
            f"{row.get('lingua-high-accuracy', float('nan')):8.1f}% {row.get('cld2', float('nan')):6.1f}%{marker}"
        )
    worst = sorted(supported, key=lambda l: stage_accuracy[l])[:5]
    print(
        "worst five (stage): "
        + ", ".join(f"{l} {stage_accuracy[l]:.1%} (bare {bare_accuracy[l]:.1%})" for l in worst)
    )
    print(
        f"MEAN over {len(supported)} languages: bare lid.176 {mean(bare_accuracy[l] for l in supported):.2%}, "
        f"stage {mean(stage_accuracy[l] for l in supported):.2%}"
    )


class TimedLanguageFilter(LanguageFilter):
    """The stage, logging when each batch's processing starts and ends (after the worker's setup)."""

    def __init__(self, config: LanguageConfig, log_dir: str):
        super().__init__(config)
        self.log_dir = log_dir

    def process(self, table: pa.Table):
        started, cpu = time.time(), time.process_time()
        result = super().process(table)
        with open(os.path.join(self.log_dir, f"{os.getpid()}.log"), "a") as log:
            log.write(f"{started} {time.time()} {table.num_rows} {time.process_time() - cpu}\n")
        return result


def common_case_texts(data: Path) -> list[str]:
    """Real documents of the kind sftforge mostly sees: English news prompts, Chinese Q&A answers."""
    texts = []
    for path, field in (
        (data / "news" / "t0_news_prompts.jsonl", "prompt"),
        (data / "ruozhiba" / "ruozhiba_qa.jsonl", "answer"),
    ):
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                texts.extend(json.loads(line)[field] for line in handle if line.strip())
    return texts


def timed_identify(identifier: LanguageIdentifier, texts: list[str]) -> tuple[list, float, str]:
    """The identifications, the CPU seconds they took, and which detector decided what share."""
    start = time.process_time()
    found = identifier.identify(texts)
    seconds = time.process_time() - start
    decided = defaultdict(int)
    for item in found:
        decided[item.decided_by] += 1
    share = ", ".join(f"{key} {count / len(found):.1%}" for key, count in sorted(decided.items()))
    return found, seconds, share


def run_in_process(name: str, texts: list[str]) -> None:
    """CPU cost of the stage's identifier against bare fastText on the same texts, in this process."""
    identifier = LanguageIdentifier(lingua_preload=True)
    model = identifier.model
    identifier.identify(texts[:200])
    bare = min(bare_predict(model, texts)[1] for _ in range(2))
    _, seconds, share = timed_identify(identifier, texts)
    print(
        f"{name}: {len(texts):,} texts, bare fastText {len(texts) / bare:,.0f}/CPU-s, stage identifier "
        f"{len(texts) / seconds:,.0f}/CPU-s, ratio {bare / seconds:.2f}  ({share})"
    )


def run_throughput(
    corpora: dict[str, list[str]], repeats: int = 3, block_rows: int = 8192, modes: tuple[str, ...] = ("high", "low")
) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

    model = LanguageIdentifier(use_cld2=False, use_lingua=False).model
    print("\n== Throughput inside Ray: ray.init(num_cpus=2), the job's path (apply_stage with the job's actor")
    print(f"   budget: on 2 CPUs the pool of 2 workers of 0.5 CPU starts full), blocks and batches of {block_rows} rows.")
    print("   Each repeat measures bare fastText (one batch predict, wall clock) just before and just after the")
    print("   stage and divides by their mean. steady: each worker's rows / (its last batch done - its first")
    print("   batch started), summed; per CPU-s: rows / CPU seconds the workers spent in the stage; cold: rows /")
    print("   the whole run, actor start and model loading included. Medians over the repeats.")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        logging_level="ERROR",
    )
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # one "execution finished" line per repeat
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.issue_detectors_config.detectors = []

    def bare_rates(texts: list[str]) -> tuple[float, float]:
        start = time.perf_counter()
        cpu = bare_predict(model, texts)[1]
        return len(texts) / (time.perf_counter() - start), len(texts) / cpu

    try:
        for corpus, texts in corpora.items():
            table = pa.table(
                {
                    schema.DOC_ID: [str(i) for i in range(len(texts))],
                    schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
                    schema.TEXT: texts,
                }
            )
            blocks = [table.slice(start, block_rows) for start in range(0, table.num_rows, block_rows)]
            for mode in modes:
                config = LanguageConfig(
                    min_score=0.0, max_actors=2, num_cpus=0.5, lingua_accuracy=mode, lingua_preload=True
                )
                ratios, per_cpu_ratios, cold_ratios, steady_rates, bare_walls, busy = [], [], [], [], [], []
                for _ in range(repeats):
                    before_wall, before_cpu = bare_rates(texts)
                    with tempfile.TemporaryDirectory() as log_dir:
                        stage = TimedLanguageFilter(config, log_dir)
                        ds = apply_stage(
                            ray.data.from_arrow(blocks), stage, batch_size=block_rows, budget=ActorBudget.for_cluster()
                        )
                        start = time.perf_counter()
                        rows = ds.count()
                        cold_seconds = time.perf_counter() - start
                        workers = [
                            [tuple(map(float, line.split())) for line in path.read_text().splitlines()]
                            for path in Path(log_dir).glob("*.log")
                        ]
                    after_wall, after_cpu = bare_rates(texts)
                    bare_wall, bare_cpu = (before_wall + after_wall) / 2, (before_cpu + after_cpu) / 2
                    spans = [span for worker in workers for span in worker]
                    assert rows == len(texts) == sum(span[2] for span in spans), (rows, len(texts))
                    # Workers finish their setup at different times: one worker's model loading is not the
                    # other's throughput.
                    steady = sum(
                        sum(span[2] for span in worker)
                        / (max(span[1] for span in worker) - min(span[0] for span in worker))
                        for worker in workers
                    )
                    per_cpu = len(texts) / sum(span[3] for span in spans)
                    steady_rates.append(steady)
                    bare_walls.append(bare_wall)
                    busy.append(len(workers))
                    ratios.append(steady / bare_wall)
                    per_cpu_ratios.append(per_cpu / bare_cpu)
                    cold_ratios.append(len(texts) / cold_seconds / bare_wall)
                print(
                    f"{corpus:16} lingua {mode:4} | bare fastText {statistics.median(bare_walls):8,.0f}/s | stage: "
                    f"{max(busy)} worker(s) busy, steady {statistics.median(steady_rates):8,.0f}/s, "
                    f"RATIO {statistics.median(ratios):.2f} (repeats {', '.join(f'{r:.2f}' for r in ratios)}); "
                    f"per CPU-s ratio {statistics.median(per_cpu_ratios):.2f}; "
                    f"cold ratio {statistics.median(cold_ratios):.2f}"
                )
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="200 sentences per language")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--block-rows", type=int, default=LanguageConfig().batch_rows,
                        help="rows per block and per batch in Ray (default: the stage's batch_rows)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lingua", choices=("high", "low", "both"), default="both")
    args = parser.parse_args()
    folder = args.data / "langid_sentences"
    if not folder.is_dir():
        sys.exit(f"no langid_sentences under {args.data} (pass --data)")
    sentences = load_sentences(folder, 200 if args.quick else None)
    if not args.skip_accuracy:
        run_accuracy(sentences, published_accuracy(folder))
    texts = [text for lines in sentences.values() for text in lines]
    common = common_case_texts(args.data)
    if not args.skip_in_process:
        print("\n== CPU cost in this process (no Ray)")
        run_in_process("langid sentences", texts)
        if common:
            run_in_process("common case", common)
    if not args.skip_ray:
        corpora = {"langid sentences": texts}
        if common:
            # 6,465 texts are one batch of the stage: eight copies give both workers a steady stream.
            corpora["common case x8"] = common * 8
        modes = ("high", "low") if args.lingua == "both" else (args.lingua,)
        run_throughput(corpora, args.repeats, args.block_rows, modes)


if __name__ == "__main__":
    main()
