"""Fixtures shared by the reader's tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.read_inputs import DOCS, write_jsonl, write_parquet


@pytest.fixture
def doc_shards(tmp_path: Path) -> Path:
    """The same three documents as JSONL, Parquet and a JSON array, in one directory."""
    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "a.jsonl", [{"text": text, "url": f"u{i}"} for i, text in enumerate(DOCS)])
    write_parquet(shards / "b.parquet", {"text": DOCS, "url": ["x"] * 3})
    (shards / "c.json").write_text(json.dumps([{"text": text} for text in DOCS], ensure_ascii=False))
    (shards / "_SUCCESS").write_text("")
    (shards / ".hidden.jsonl").write_text("not json\n")
    return shards
