"""`sftforge demo` on the bundled corpus: every planted problem is caught, every row accounted for.

The LLM stages are switched off here (they have their own tests against the chat-completions test
server); the README's set-up command runs the demo with them on the local model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.demo import run_demo
from sftforge.operators import schema

pytestmark = pytest.mark.ray

NO_LLM = ["llm=null", "judge=null", "augment=null"]


@pytest.fixture(scope="module")
def demo_release(ray_session, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    result = run_demo(folder, overrides=NO_LLM)
    return result.release_dir


def _rejects(release: Path) -> list[dict]:
    tables = [pq.read_table(path) for path in sorted((release / "rejects").glob("*.parquet"))]
    return pa.concat_tables(tables).to_pylist()


def _notes_by_id(release: Path) -> dict[tuple[str, int], str]:
    """(source file, row) -> the corpus's own note on that row."""
    folder = release.parents[1] / "inputs"
    notes = {}
    for path in sorted((folder / "documents").glob("*.parquet")):
        for row, record in enumerate(pq.read_table(path).to_pylist()):
            notes[(path.name, row)] = record["note"]  # lineage: the path within the input root
    for row, line in enumerate((folder / "instructions.jsonl").read_text(encoding="utf-8").splitlines()):
        notes[("instructions.jsonl", row)] = json.loads(line)["note"]
    return notes


def test_demo_accounts_for_every_row(demo_release):
    manifest = json.loads((demo_release / "manifest.json").read_text())
    accounting = manifest["accounting"]
    corpus = demo_release.parents[1] / "inputs"
    lines = sum(1 for name in ("instructions.jsonl", "conversations.jsonl")
                for _ in (corpus / name).read_text(encoding="utf-8").splitlines())
    documents = sum(pq.read_metadata(path).num_rows for path in (corpus / "documents").glob("*.parquet"))
    assert accounting["rows_read"] == lines + documents
    assert accounting["rows_written"] + accounting["rows_rejected"] == accounting["rows_read"]
    assert (demo_release / "_SUCCESS").exists() and (demo_release / "report.md").exists()


def test_demo_rejects_what_was_planted(demo_release):
    notes = _notes_by_id(demo_release)
    stage_of = {(row[schema.SOURCE_FILE], row[schema.SOURCE_ROW]): row[schema.REJECT_STAGE]
                for row in _rejects(demo_release)}
    dedup_stages = ("dedup.exact", "dedup.near")
    for key, note in notes.items():
        stage = stage_of.get(key)
        if note.startswith("clean"):
            # Of a duplicate pair, the keep rule may prefer the planted copy (longer, or higher quality).
            assert stage in (None, *dedup_stages), f"{stage} rejected a clean row: {note}"
        elif note.startswith("wrong language"):
            assert stage == "language", (note, stage)
        elif note.startswith("junk"):
            assert stage is not None, f"planted junk kept: {note}"
    duplicates = [key for key, note in notes.items() if "dup" in note]
    removed = [key for key in notes if stage_of.get(key) in dedup_stages]
    assert duplicates and len(removed) == len(duplicates), (removed, duplicates)


def test_demo_writes_readable_chinese_messages(demo_release):
    records = []
    for path in sorted(demo_release.glob("jsonl/*/part-*.jsonl")):
        records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert records and all(record["messages"][-1]["role"] == "assistant" for record in records)
    raw = b"".join(path.read_bytes() for path in demo_release.glob("jsonl/*/part-*.jsonl"))
    assert "光合作用".encode() in raw
