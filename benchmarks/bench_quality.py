"""Quality stage: precision and recall per rule on a labelled set, flag rates on real data, rows/s in Ray.

1. ``benchmarks/data/quality_labelled.jsonl`` (written for this project: 300+ SFT pairs and 30+ documents,
   English and Chinese, each labelled good or bad with the rules that must fire): per-rule precision
   and recall, and overall precision and recall of the reject decision.
2. Real text from ``--data`` (``../shared/data``: the Self-Instruct seed tasks, human-written; the
   Ruozhiba QA answers, model-written), all presumed good: the share each rule rejects, a proxy for
   false positives, with examples.
3. Throughput: the stage inside Ray (local runtime, 2 CPUs) against a pass-through stage on the same
   in-memory Dataset, alternately, and the bare stage without Ray; the ratio is what to compare.

    python benchmarks/bench_quality.py [--quick] [--data ../shared/data] [--rows 20000] [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sftforge.operators import schema  # noqa: E402
from sftforge.operators.base import Stage, StageConfig, StageResult  # noqa: E402
from sftforge.operators.quality.report import rule_names  # noqa: E402
from sftforge.operators.quality.scorer import QualityConfig, QualityScorer  # noqa: E402

LABELLED = ROOT / "benchmarks" / "data" / "quality_labelled.jsonl"


def family(rule: str) -> str:
    """Groups the per-n and per-variant rules the labelled set names as one."""
    if rule.startswith("top_") and rule.endswith("gram_chars"):
        return "top_ngram_chars"
    if rule.startswith("dup_") and rule.endswith("gram_chars"):
        return "dup_ngram_chars"
    return {"dup_line_chars": "dup_lines", "dup_paragraph_chars": "dup_paragraphs"}.get(rule, rule)


def load_labelled() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]


def to_table(rows: list[dict]) -> pa.Table:
    return pa.table({
        schema.DOC_ID: [row.get("id", f"r{i}") for i, row in enumerate(rows)],
        schema.KIND: [row.get("kind", schema.KIND_INSTRUCTION) for row in rows],
        schema.TEXT: [row.get("text") for row in rows],
        schema.INSTRUCTION: [row.get("instruction") for row in rows],
        schema.INPUT: [row.get("input") for row in rows],
        schema.OUTPUT: [row.get("output") for row in rows],
        schema.LANG: pa.array([row.get("lang_column") for row in rows], pa.string()),
    })


def predicted_rules(table: pa.Table, config: QualityConfig) -> dict[str, list[str]]:
    result = QualityScorer(config)(table)
    rejected = result.rejected
    predicted = {doc: [] for doc in table.column(schema.DOC_ID).to_pylist()}
    for doc, reason in zip(rejected.column(schema.DOC_ID).to_pylist(), rejected.column(schema.REJECT_REASON).to_pylist()):
        predicted[doc] = rule_names(reason)
    return predicted


def labelled_report(rows: list[dict], show_errors: bool) -> None:
    predicted = predicted_rules(to_table(rows), QualityConfig())
    per_rule = defaultdict(lambda: Counter())
    overall = Counter()
    errors = []
    for row in rows:
        fired = {family(rule) for rule in predicted[row["id"]]}
        expected = set(row["rules"])
        bad = row["label"] == "bad"
        rejected = bool(fired)
        overall["tp" if bad and rejected else "fp" if rejected else "fn" if bad else "tn"] += 1
        for rule in expected:
            per_rule[rule]["tp" if rule in fired else "fn"] += 1
        for rule in fired - expected:
            per_rule[rule]["fp_good" if not bad else "also_on_bad"] += 1
        if (bad and not expected <= fired) or (not bad and rejected):
            errors.append((row, sorted(fired)))
    pairs = sum(1 for row in rows if row["kind"] == "instruction")
    print(f"labelled set: {len(rows)} rows ({pairs} SFT pairs, {len(rows) - pairs} documents; "
          f"{sum(r['lang'] == 'en' for r in rows)} en, {sum(r['lang'] == 'zh' for r in rows)} zh), "
          f"{sum(r['label'] == 'bad' for r in rows)} bad")
    print(f"{'rule':<22}{'positives':>10}{'TP':>5}{'FN':>5}{'FP(good)':>10}{'precision':>11}{'recall':>8}"
          f"{'also on other bad rows':>24}")
    for rule in sorted(per_rule, key=lambda r: (-sum(per_rule[r][k] for k in ("tp", "fn")), r)):
        counts = per_rule[rule]
        tp, fn, fp = counts["tp"], counts["fn"], counts["fp_good"]
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        print(f"{rule:<22}{tp + fn:>10}{tp:>5}{fn:>5}{fp:>10}{precision:>11.3f}{recall:>8.3f}{counts['also_on_bad']:>24}")
    tp, fp, fn, tn = overall["tp"], overall["fp"], overall["fn"], overall["tn"]
    print(f"overall reject decision: precision {tp / (tp + fp):.3f}, recall {tp / (tp + fn):.3f} "
          f"(TP {tp}, FP {fp}, FN {fn}, TN {tn})")
    # The rules were tuned on the "tuning" rows; the held-out rows were written afterwards and never
    # used for tuning, so they are the honest estimate.
    for split in ("tuning", "holdout"):
        subset = [row for row in rows if row.get("split", "tuning") == split]
        counts = Counter()
        exact = 0
        for row in subset:
            fired = {family(rule) for rule in predicted[row["id"]]}
            bad = row["label"] == "bad"
            counts["tp" if bad and fired else "fp" if fired else "fn" if bad else "tn"] += 1
            exact += (set(row["rules"]) <= fired) if bad else not fired
        tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
        print(f"  {split:<8} {len(subset):>4} rows: reject precision {tp / (tp + fp) if tp + fp else float('nan'):.3f}, "
              f"recall {tp / (tp + fn) if tp + fn else float('nan'):.3f}; right rule(s) on {exact}/{len(subset)} rows")
    for kind in ("instruction", "document"):
        for lang in ("en", "zh"):
            subset = [row for row in rows if row["kind"] == kind and row["lang"] == lang]
            if not subset:
                continue
            hit = Counter()
            for row in subset:
                rejected = bool(predicted[row["id"]])
                hit[(row["label"], rejected)] += 1
            bad = hit[("bad", True)] + hit[("bad", False)]
            flagged = hit[("bad", True)] + hit[("good", True)]
            print(f"  {kind:<11} {lang}: precision {hit[('bad', True)] / flagged if flagged else float('nan'):.3f}, "
                  f"recall {hit[('bad', True)] / bad if bad else float('nan'):.3f} ({len(subset)} rows)")
    if show_errors:
        for row, fired in errors:
            text = (row.get("output") or row.get("text") or "")[:90].replace("\n", " ")
            print(f"  miss {row['id']} {row['label']} expected={row['rules']} fired={fired}: "
                  f"{(row.get('instruction') or '')[:60]!r} -> {text!r}")


def real_rows(data: Path) -> dict[str, list[dict]]:
    sets = {}
    seeds = data / "self_instruct" / "seed_tasks.jsonl"
    if seeds.is_file():
        rows = []
        for line in seeds.read_text(encoding="utf-8").splitlines():
            task = json.loads(line)
            for number, instance in enumerate(task["instances"]):
                rows.append({"id": f"{task['id']}-{number}", "kind": "instruction", "instruction": task["instruction"],
                             "input": instance["input"], "output": instance["output"]})
        sets["self-instruct seeds (en, human)"] = rows
    ruozhiba = data / "ruozhiba" / "ruozhiba_qa.jsonl"
    if ruozhiba.is_file():
        rows = [{"id": item["id"], "kind": "instruction", "instruction": item["question"], "input": "",
                 "output": item["answer"]} for item in map(json.loads, ruozhiba.read_text(encoding="utf-8").splitlines())]
        sets["ruozhiba QA (zh, model answers)"] = rows
        sets["ruozhiba answers as documents (zh)"] = [
            {"id": f"doc-{row['id']}", "kind": "document", "text": row["output"]} for row in rows]
    return sets


def real_report(data: Path) -> list[dict]:
    sets = real_rows(data)
    if not sets:
        print(f"\nreal data: none found under {data} (skipped)")
        return []
    print(f"\nreal data from {data} (presumed good: every rejection is a candidate false positive)")
    for name, rows in sets.items():
        predicted = predicted_rules(to_table(rows), QualityConfig())
        rejected = [row for row in rows if predicted[row["id"]]]
        rules = Counter(family(rule) for row in rejected for rule in predicted[row["id"]])
        print(f"  {name}: {len(rows)} rows, rejected {len(rejected)} ({len(rejected) / len(rows):.1%}); "
              f"by rule: {dict(rules.most_common(8))}")
        for row in rejected[:3]:
            answer = (row.get("output") or row.get("text") or "")[-70:].replace("\n", " ")
            print(f"     e.g. {predicted[row['id']][:3]} ...{answer!r}")
    return [row for rows in sets.values() for row in rows]


class PassThroughConfig(StageConfig):
    pass


class PassThrough(Stage[PassThroughConfig]):
    """The baseline: the same runner and Dataset, no work."""

    name = "pass"

    def process(self, table: pa.Table) -> StageResult:
        return self.partition(table, [None] * table.num_rows)


def throughput(rows: list[dict], count: int, repeats: int) -> None:
    import ray
    import ray.data
    from sftforge.jobs.runner import apply_stage

    table = to_table([dict(row, id=f"t{i}") for i, row in enumerate(rows[i % len(rows)] for i in range(count))])
    mix = Counter(table.column(schema.KIND).to_pylist())
    chars = sum(len(v or "") for name in (schema.TEXT, schema.INSTRUCTION, schema.INPUT, schema.OUTPUT)
                for v in table.column(name).to_pylist()) / count
    stage = QualityScorer(QualityConfig())
    start = time.perf_counter()
    stage(table)
    bare = count / (time.perf_counter() - start)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        source = ray.data.from_arrow(table).repartition(8).materialize()
        timings = defaultdict(list)
        for _ in range(repeats):
            for name, make in (("pass-through", lambda: PassThrough(PassThroughConfig())),
                               ("quality", lambda: QualityScorer(QualityConfig()))):
                start = time.perf_counter()
                out = apply_stage(source, make(), batch_size=1024).materialize()
                assert out.count() == count
                timings[name].append(time.perf_counter() - start)
    finally:
        ray.shutdown()
    base = count / statistics.median(timings["pass-through"])
    quality = count / statistics.median(timings["quality"])
    print(f"\nthroughput on {count} rows ({mix[schema.KIND_INSTRUCTION]} pairs, {mix[schema.KIND_DOCUMENT]} documents, "
          f"{chars:.0f} chars/row), median of {repeats}:")
    print(f"  bare stage, one process, no Ray: {bare:,.0f} rows/s")
    print(f"  Ray, pass-through stage:          {base:,.0f} rows/s")
    print(f"  Ray, quality stage:               {quality:,.0f} rows/s  (ratio to pass-through {quality / base:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="reference corpora folder")
    parser.add_argument("--rows", type=int, default=20000, help="rows for the throughput run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small throughput run (4000 rows, 1 repeat)")
    parser.add_argument("--show-errors", action="store_true", help="print every row the rules got wrong")
    args = parser.parse_args()
    rows = load_labelled()
    labelled_report(rows, args.show_errors)
    real = real_report(Path(args.data))
    count, repeats = (4000, 1) if args.quick else (args.rows, args.repeats)
    throughput(real + rows if real else rows, count, repeats)


if __name__ == "__main__":
    main()
