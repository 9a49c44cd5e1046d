"""``sftforge demo``: the whole pipeline on a small corpus written for this project.

The corpus mixes English and Chinese (and a few other languages), raw documents and instruction pairs,
with planted exact and near duplicates, junk, HTML and wrong-language rows, so that every stage has
something to do. The demo writes its inputs (documents as Parquet shards, pairs as JSONL) and its config
under the output folder, so ``sftforge run <output>/demo.yaml`` repeats it.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

DEMO_RELEASE = "demo"


def _bundled(name: str) -> list[dict[str, Any]]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_demo_inputs(folder: Path) -> dict[str, Path]:
    """Writes the bundled corpus as input shards: documents in two Parquet files, pairs as JSONL."""
    folder.mkdir(parents=True, exist_ok=True)
    documents = _bundled("documents.jsonl")
    half = len(documents) // 2
    docs_dir = folder / "documents"
    docs_dir.mkdir(exist_ok=True)
    for index, part in enumerate((documents[:half], documents[half:])):
        pq.write_table(pa.Table.from_pylist(part), docs_dir / f"shard-{index:02d}.parquet")
    paths = {"documents": docs_dir}
    for name in ("instructions.jsonl", "conversations.jsonl", "seed_tasks.jsonl"):
        target = folder / name
        target.write_text(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"),
                          encoding="utf-8")
        paths[name.removesuffix(".jsonl")] = target
    return paths


def demo_config(folder: Path) -> dict[str, Any]:
    """The demo's job config (relative paths resolve against ``folder``)."""
    return {
        "release": DEMO_RELEASE,
        "inputs": [
            {"name": "demo-documents", "path": "inputs/documents", "kind": "document",
             "columns": {"text": "content"}},
            {"name": "demo-instructions", "path": "inputs/instructions.jsonl", "kind": "instruction"},
            {"name": "demo-conversations", "path": "inputs/conversations.jsonl", "kind": "instruction",
             "columns": {"messages": "conversations"}},
        ],
        "output": {"dir": "releases", "sft_format": "messages", "shard_rows": 1000,
                   "system_prompt": None},
        "split": {"ratios": {"train": 0.7, "test": 0.3}},
        "ray": {"num_cpus": 2},
        "language": {"allowed": ["en", "zh"]},
        "dedup": {},
        "quality": {},
        # The bundled SmolLM2-135M through llama.cpp: skipped with one line when the local-llm extra is
        # not installed. A 135M model judges poorly; the threshold only drops what it scores lowest.
        # A local model that cannot start (a crash on its first completion, say) skips the LLM stages with
        # one line, and the demo runs the rest.
        "llm": {"backend": "local", "max_tokens": 200, "max_in_flight": 2, "cache": "llm-cache",
                "local": {"required": False}},
        "judge": {"threshold": 3, "workers": 1},
        # Grows the seeds and rewords a sample of the kept pairs; what the small model gets wrong, the
        # language, dedup, quality and judge stages reject like any other row. Round-trip translation is
        # left out: a 135M English model cannot translate through Chinese (0 rows from 39 calls, measured).
        # The targets and the parents' sample keep the demo's calls to a few dozen.
        "augment": {
            "progress": False,
            "work_dir": "augment-work",
            "self_instruct": {"seed_tasks": "inputs/seed_tasks.jsonl", "target_rows": 6,
                              "prompts_per_batch": 2, "max_stalled_batches": 2,
                              "workers": 1},  # one actor: its max_in_flight already fills the local server
            "paraphrase": {"target_rows": 3, "sample_rate": 0.3, "paraphrases_per_instruction": 1,
                           "parents_per_batch": 4},
        },
    }


def run_demo(output: str | Path, overrides: list[str] | None = None):
    """Writes the demo inputs and config under ``output``, runs the job and prints a summary."""
    from sftforge.jobs.config import load_config
    from sftforge.jobs.pipeline import run_job
    from sftforge.jobs.summary import print_summary

    folder = Path(output).resolve()
    write_demo_inputs(folder / "inputs")
    config_path = folder / "demo.yaml"
    config_path.write_text(yaml.safe_dump(demo_config(folder), allow_unicode=True, sort_keys=False),
                           encoding="utf-8")
    config = load_config(config_path, overrides)
    result = run_job(config, config_source=str(config_path))
    print_summary(result)
    print(llm_line(result.report))
    return result


def llm_line(report: dict[str, Any]) -> str:
    """One line on what the demo's model did: rows generated (by method) and pairs judged (by score)."""
    augment, judge = report.get("augment") or {}, report.get("judge") or {}
    parts = []
    if "skipped" in augment or "skipped" in judge:
        parts.append(augment.get("skipped") or judge.get("skipped"))
    if "rows_generated" in augment:
        methods = ", ".join(f"{name} {rows}" for name, rows in (augment.get("rows_by_method") or {}).items())
        parts.append(f"generated {augment['rows_generated']} rows" + (f" ({methods})" if methods else ""))
    if "histogram" in judge:
        histogram = judge["histogram"]
        judged = sum(histogram.values()) - histogram.get("unscored", 0)
        scores = ", ".join(f"{score}: {rows}" for score, rows in histogram.items() if rows and score != "unscored")
        parts.append(f"judged {judged} pairs (scores {scores or 'none'}; kept at >= {judge.get('threshold')})")
    return "demo model: " + ("; ".join(parts) if parts else "no LLM stage ran")
