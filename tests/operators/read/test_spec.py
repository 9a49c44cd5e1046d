"""InputSpec validation: columns that fit the kind, paths, formats, kept field names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sftforge.operators.read.spec import InputSpec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "x", "kind": "document", "columns": {"body": "b"}}, "unknown column 'body'"),
        ({"path": "x", "kind": "document", "columns": {"output": "o"}}, "a document input maps only 'text'"),
        (
            {"path": "x", "kind": "instruction", "columns": {"text": "t"}},
            "an instruction input has no 'text'",
        ),
        (
            {"path": "x", "kind": "instruction", "columns": {"messages": "m", "output": "o"}},
            "map either 'messages' or instruction/input/output",
        ),
        ({"path": [], "kind": "document"}, "needs at least one non-empty path"),
        ({"path": "x", "kind": "document", "format": "csv"}, "format"),
        ({"path": "x", "kind": "documents"}, "kind"),
        ({"path": "x", "kind": "document", "colums": {}}, "colums"),
    ],
)
def test_spec_validation_messages(spec: dict, message: str):
    with pytest.raises(ValidationError, match=message):
        InputSpec(**spec)


def test_check_paths_lists_files(doc_shards: Path):
    spec = InputSpec(path=str(doc_shards / "*.json*"), kind="document")

    assert spec.check_paths() == [str(doc_shards / "a.jsonl"), str(doc_shards / "c.json")]
    assert spec.label == str(doc_shards / "*.json*")


@pytest.mark.parametrize("name", ["text", "doc_id", "split", "reject_reason", "source_fields"])
def test_keep_columns_refuse_reserved_names(name):
    with pytest.raises(ValidationError, match="reserved column name"):
        InputSpec(path="x.jsonl", kind="instruction", keep_columns=[name])
