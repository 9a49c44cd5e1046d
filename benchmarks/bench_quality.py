"""Quality stage: per-rule hits on defects and on real good data, held-out precision and recall, rows/s.

1. The labelled set: ``benchmarks/data/quality_labelled.jsonl`` (written for this project) plus rows made
   at run time from the shared corpora (``benchmarks/quality_derived.py``: sampled good pairs, and
   defects derived from other pairs). Each row is labelled good or with its kind of defect. A fixed hash
   of the row id puts half of the rows in a held-out half that is never used to tune the rules.
2. The real good corpora from ``--data`` (``../shared/data``), all of them: the 1,465 Ruozhiba QA pairs
   and the 175 Self-Instruct seed tasks; every rejection there is a false positive.
3. Per rule: hits on the defect rows, hits on each good corpus, and precision and recall on the held-out
   half; then the headline figures and recall per kind of defect.
4. Throughput: the stage inside Ray (local runtime, 2 CPUs) against a pass-through stage on the same
   in-memory Dataset, alternately, and the bare stage without Ray; the ratio is what to compare.

    python benchmarks/bench_quality.py [--no-throughput] [--quick] [--data ../shared/data] [--show-errors]
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from quality_derived import derived_rows, good_corpora, held_out  # noqa: E402
from sftforge.operators import schema  # noqa: E402
from sftforge.operators.base import Stage, StageConfig, StageResult  # noqa: E402
from sftforge.operators.quality.report import rule_names  # noqa: E402
from sftforge.operators.quality.scorer import QualityConfig, QualityScorer  # noqa: E402

LABELLED = ROOT / "benchmarks" / "data" / "quality_labelled.jsonl"
#: Release targets of issue 18.
TARGET_RECALL, TARGET_PRECISION, TARGET_GOOD_REJECTION = 0.95, 0.98, 0.005


def family(rule: str) -> str:
    """Groups the per-n and per-variant rules the labelled set names as one."""
    if rule.startswith("top_") and rule.endswith("gram_chars"):
        return "top_ngram_chars"
    if rule.startswith("dup_") and rule.endswith("gram_chars"):
        return "dup_ngram_chars"
    return {"dup_line_chars": "dup_lines", "dup_paragraph_chars": "dup_paragraphs"}.get(rule, rule)


def load_labelled(data: Path) -> list[dict]:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["source"] = "written"
        row["defect"] = row.get("defect", "good").split(" (")[0]
    return rows + derived_rows(data)


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


def predicted(rows: list[dict], config: QualityConfig | None = None) -> dict[str, set[str]]:
    """The rule families each row fails (empty set: kept)."""
    result = QualityScorer(config or QualityConfig())(to_table(rows))
    fired = {row["id"]: set() for row in rows}
    rejected = result.rejected
    for doc, reason in zip(rejected.column(schema.DOC_ID).to_pylist(),
                           rejected.column(schema.REJECT_REASON).to_pylist()):
        fired[doc] = {family(rule) for rule in rule_names(reason)}
    return fired


def _ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.3f}" if denominator else "  -  "


def report(rows: list[dict], corpora: dict[str, list[dict]], show: str | None) -> None:
    fired = predicted(rows)
    corpus_fired = {name: predicted(source) for name, source in corpora.items()}
    pairs = [row for row in rows if row["kind"] == "instruction"]
    print(f"labelled set: {len(rows)} rows, {len(pairs)} SFT pairs ({sum(r['lang'] == 'zh' for r in pairs)} Chinese), "
          f"{len(rows) - len(pairs)} documents; {sum(r['label'] == 'bad' for r in rows)} defects; "
          f"{sum(held_out(r['id']) for r in rows)} held out; sources {dict(Counter(r['source'] for r in rows))}")
    held = [row for row in rows if held_out(row["id"])]
    rules = sorted({rule for row in rows for rule in row["rules"]} | {r for f in fired.values() for r in f}
                   | {r for c in corpus_fired.values() for f in c.values() for r in f})
    names = list(corpora)
    print(f"\n{'rule':<22}{'defects hit':>12}{'good hit':>9}" + "".join(f"{name[:18]:>20}" for name in names)
          + f"{'held-out P':>12}{'held-out R':>12}")
    for rule in sorted(rules, key=lambda r: -sum(r in fired[row["id"]] for row in rows if row["label"] == "bad")):
        defect_hits = sum(rule in fired[row["id"]] for row in rows if row["label"] == "bad")
        good_hits = sum(rule in fired[row["id"]] for row in rows if row["label"] == "good")
        corpus_hits = [sum(rule in f for f in corpus_fired[name].values()) for name in names]
        flagged = [row for row in held if rule in fired[row["id"]]]
        expected = [row for row in held if rule in row["rules"]]
        precision = _ratio(sum(row["label"] == "bad" for row in flagged), len(flagged))
        recall = _ratio(sum(rule in fired[row["id"]] for row in expected), len(expected))
        print(f"{rule:<22}{defect_hits:>12}{good_hits:>9}" + "".join(f"{hits:>20}" for hits in corpus_hits)
              + f"{precision:>12}{recall:>12}")
    print()
    for name, subset in (("tuning half", [r for r in rows if not held_out(r["id"])]), ("held-out half", held)):
        counts = Counter(("bad" if row["label"] == "bad" else "good", bool(fired[row["id"]])) for row in subset)
        tp, fn, fp = counts[("bad", True)], counts[("bad", False)], counts[("good", True)]
        right = sum(set(row["rules"]) <= fired[row["id"]] if row["label"] == "bad" else not fired[row["id"]]
                    for row in subset)
        print(f"{name:<14} {len(subset):>5} rows: recall on defects {_ratio(tp, tp + fn)} ({tp}/{tp + fn}), "
              f"precision {_ratio(tp, tp + fp)} ({tp}/{tp + fp}); expected rule(s) fired on {right}/{len(subset)}")
    for name in names:
        source = corpora[name]
        rejected = sum(bool(f) for f in corpus_fired[name].values())
        print(f"good corpus {name}: {rejected}/{len(source)} rejected ({rejected / len(source):.2%}); "
              f"by rule {dict(Counter(r for f in corpus_fired[name].values() for r in f))}")
    print("\nheld-out recall per kind of defect:")
    kinds = defaultdict(Counter)
    for row in held:
        if row["label"] == "bad":
            kinds[f"{row['defect']} [{row['lang']}]"][bool(fired[row["id"]])] += 1
    for kind, hits in sorted(kinds.items(), key=lambda item: item[0]):
        print(f"  {kind:<48} {hits[True]:>4}/{hits[True] + hits[False]:<4}")
    if show:
        subset = held if show == "held-out" else [r for r in rows if not held_out(r["id"])]
        for row in subset:
            got = fired[row["id"]]
            if (row["label"] == "bad" and not got) or (row["label"] == "good" and got):
                text = (row.get("output") or row.get("text") or "")[-90:].replace("\n", " ")
                print(f"  miss {row['id']} {row['defect']} expected={row['rules']} fired={sorted(got)}: "
                      f"{(row.get('instruction') or '')[:50]!r} -> ...{text!r}")
        for name in names:
            for row in corpora[name]:
                if corpus_fired[name][row["id"]]:
                    print(f"  good {name} {row['id']} fired={sorted(corpus_fired[name][row['id']])}: "
                          f"...{row['output'][-70:]!r}")


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
    default_data = next((path for path in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data")
                         if path.is_dir()), ROOT.parent / "shared" / "data")
    parser.add_argument("--data", default=str(default_data), help="reference corpora folder (../shared/data)")
    parser.add_argument("--rows", type=int, default=20000, help="rows for the throughput run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small throughput run (4000 rows, 1 repeat)")
    parser.add_argument("--no-throughput", action="store_true", help="skip the Ray throughput run")
    parser.add_argument("--show-errors", nargs="?", const="tuning", choices=("tuning", "held-out"),
                        help="print the rows the rules got wrong in one half (tuning by default)")
    args = parser.parse_args()
    data = Path(args.data)
    rows = load_labelled(data)
    corpora = good_corpora(data)
    if not corpora:
        print(f"no shared corpora under {data}: the labelled set has only its written rows")
    report(rows, corpora, args.show_errors)
    if not args.no_throughput:
        count, repeats = (4000, 1) if args.quick else (args.rows, args.repeats)
        throughput([row for source in corpora.values() for row in source] + rows, count, repeats)


if __name__ == "__main__":
    main()
