"""Reader and clean stage throughput, single process, against pyarrow reading the same files alone.

    python benchmarks/bench_read_clean.py [--quick] [--data ../shared/data]

Builds JSONL and Parquet shards of ~1 KB English documents (cut from the news prompts) and Chinese
answers (ruozhiba) in a temporary folder, then times, side by side in this process:

* ``pyarrow.json.read_json`` / ``pyarrow.parquet.read_table`` (the floor: no validation, no ids);
* ``sftforge.operators.read.reader.read_unit`` (validation, ids, lineage, rejected rows);
* ``TextCleaner`` on the read rows, plain and with every document wrapped in HTML.

Each figure is the best of a few repeats; the ratios are what to compare between runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
from sftforge.operators import schema
from sftforge.operators.clean.cleaner import TextCleaner
from sftforge.operators.read.planning import plan_read_units
from sftforge.operators.read.reader import read_unit
from sftforge.operators.read.spec import InputSpec

ROOT = Path(__file__).resolve().parent.parent


def best_rate(rows: int, action, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return rows / best


def load_corpora(data: Path, quick: bool) -> dict[str, list[str]]:
    english = []
    with (data / "news" / "t0_news_prompts.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            prompt = json.loads(line)["prompt"]
            english.extend(prompt[i : i + 1000] for i in range(0, len(prompt), 1000))
    chinese = []
    with (data / "ruozhiba" / "ruozhiba_qa.jsonl").open(encoding="utf-8") as handle:
        chinese = [json.loads(line)["answer"] for line in handle]
    if quick:
        english, chinese = english[:3000], chinese[:500]
    return {"en-1KB": english, "zh-answers": chinese}


def write_shards(folder: Path, name: str, texts: list[str]) -> dict[str, Path]:
    jsonl = folder / f"{name}.jsonl"
    with jsonl.open("w", encoding="utf-8") as handle:
        for index, text in enumerate(texts):
            handle.write(
                json.dumps({"text": text, "url": f"https://example.org/{index}"}, ensure_ascii=False)
            )
            handle.write("\n")
    parquet = folder / f"{name}.parquet"
    pq.write_table(
        pa.table({"text": texts, "url": [f"https://example.org/{i}" for i in range(len(texts))]}), parquet
    )
    return {"jsonl": jsonl, "parquet": parquet}


def read_all(path: Path) -> pa.Table:
    units = plan_read_units(InputSpec(path=str(path), kind="document"))
    return pa.concat_tables([table for unit in units for table in read_unit(unit)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and repeats")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    cleaner = TextCleaner()

    print(f"{'corpus':12s} {'step':34s} {'rows/s':>12s} {'vs pyarrow':>11s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, texts in load_corpora(args.data, args.quick).items():
            shards = write_shards(Path(tmp), name, texts)
            rows = len(texts)
            jsonl, parquet = shards["jsonl"], shards["parquet"]
            baselines = {
                "jsonl": best_rate(rows, lambda jsonl=jsonl: pj.read_json(jsonl), repeats),
                "parquet": best_rate(rows, lambda parquet=parquet: pq.read_table(parquet), repeats),
            }
            for fmt, path in shards.items():
                rate = best_rate(rows, lambda path=path: read_all(path), repeats)
                print(f"{name:12s} {'pyarrow ' + fmt:34s} {baselines[fmt]:12,.0f} {1.0:10.2f}x")
                print(f"{name:12s} {'reader ' + fmt:34s} {rate:12,.0f} {rate / baselines[fmt]:10.2f}x")
            table = read_all(shards["parquet"])
            html = table.set_column(
                table.column_names.index(schema.TEXT),
                schema.TEXT,
                pa.array([f"<div><p>{text}</p><br><script>x()</script>&nbsp;</div>" for text in texts]),
            )
            for label, batch in (("clean", table), ("clean (HTML-wrapped)", html)):
                rate = best_rate(rows, lambda batch=batch: cleaner(batch), repeats)
                print(f"{name:12s} {label:34s} {rate:12,.0f} {rate / baselines['parquet']:10.2f}x")


if __name__ == "__main__":
    main()
