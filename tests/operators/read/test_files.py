"""Finding an input's files: directories, globs, lists, URLs, formats, lineage names."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.operators import schema
from sftforge.operators.read.errors import InputError
from sftforge.operators.read.planning import plan_read_units
from sftforge.operators.read.spec import InputSpec

from tests.support.read_inputs import read_spec, write_jsonl, write_parquet


def test_directory_glob_and_list_find_the_same_files(doc_shards: Path):
    def files(path) -> list[str]:
        return [unit.path for unit in plan_read_units(InputSpec(path=path, kind="document"))]

    every = [str(doc_shards / name) for name in ("a.jsonl", "b.parquet", "c.json")]
    assert files(str(doc_shards)) == every
    assert files(str(doc_shards / "*")) == every
    assert files(str(doc_shards / "*.jsonl")) == every[:1]
    assert files([str(doc_shards / "c.json"), str(doc_shards / "a.jsonl")]) == [every[2], every[0]]
    assert files([every[0], str(doc_shards / "*.jsonl")]) == every[:1]


def test_explicit_format_reads_files_without_a_known_extension(tmp_path: Path):
    write_jsonl(tmp_path / "part-0.txt", [{"text": "hello"}])

    with pytest.raises(InputError, match="cannot infer the format") as error:
        plan_read_units(InputSpec(path=str(tmp_path / "part-0.txt"), kind="document"))
    assert error.value.path.endswith("part-0.txt")
    table = read_spec(path=str(tmp_path / "part-0.txt"), kind="document", format="jsonl")
    assert table.column(schema.TEXT).to_pylist() == ["hello"]


def test_fsspec_urls_are_read(tmp_path: Path):
    import fsspec

    fs = fsspec.filesystem("memory")
    with fs.open("/sftforge-test/docs/a.jsonl", "wb") as handle:
        handle.write(b'{"text": "in memory"}\n')
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": ["parquet in memory"]}), sink)
    with fs.open("/sftforge-test/docs/b.parquet", "wb") as handle:
        handle.write(sink.getvalue().to_pybytes())
    write_parquet(tmp_path / "c.parquet", {"text": ["on disk"]})
    try:
        table = read_spec(
            path=["memory://sftforge-test/docs/*", f"file://{tmp_path}/c.parquet"], kind="document"
        )
    finally:
        fs.rm("/sftforge-test", recursive=True)

    assert table.column(schema.TEXT).to_pylist() == ["in memory", "parquet in memory", "on disk"]
    assert table.column(schema.SOURCE_FILE).to_pylist() == [
        "memory:///sftforge-test/docs/a.jsonl",
        "memory:///sftforge-test/docs/b.parquet",
        "c.parquet",  # lineage: relative to the configured path's root, never the mount point
    ]


@pytest.mark.parametrize("pattern", ["*.jsonl", "nope/*.parquet"])
def test_glob_matching_nothing_names_the_glob(tmp_path: Path, pattern: str):
    (tmp_path / "a.parquet").write_bytes(b"")
    path = str(tmp_path / pattern)

    with pytest.raises(InputError) as error:
        plan_read_units(InputSpec(path=path, kind="document"))

    assert error.value.path == path
    assert str(error.value) == f"{path}: no files match this pattern"


def test_missing_path_names_it(tmp_path: Path):
    path = str(tmp_path / "absent.jsonl")

    with pytest.raises(InputError, match="no such file or directory") as error:
        plan_read_units(InputSpec(path=path, kind="document"))

    assert error.value.path == path


@pytest.mark.parametrize(
    "configured", ["{root}", "{root}/sub/*.jsonl", "{root}/**/*.jsonl", "{root}/sub/x.jsonl"]
)
def test_lineage_is_the_path_within_the_configured_root(tmp_path, configured):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    table = read_spec(path=configured.format(root=tmp_path), kind="document")
    expected = (
        "x.jsonl" if configured.endswith(("*.jsonl", "x.jsonl")) and "**" not in configured else "sub/x.jsonl"
    )
    assert table.column(schema.SOURCE_FILE).to_pylist() == [expected]
