"""Reading inputs into a Ray Dataset: rows, counters, file hashes, and errors that reach the user."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.read import READ_FILES_SCOPE, plan_inputs, read_inputs, unwrap_error
from sftforge.jobs.runner import apply_stage
from sftforge.jobs.stats import start_stats_actor
from sftforge.operators import schema
from sftforge.operators.clean.cleaner import TextCleaner
from sftforge.operators.read.errors import InputError
from sftforge.operators.read.spec import InputSpec

pytestmark = pytest.mark.ray


def collect(ds) -> pa.Table:
    import ray

    tables = [ray.get(ref) for ref in ds.to_arrow_refs()]
    tables = [table for table in tables if table.num_rows]
    return pa.concat_tables(tables) if tables else schema.empty_table()


@pytest.fixture
def stats_actor(ray_session):
    handle, name = start_stats_actor(f"test-{uuid.uuid4().hex[:8]}")
    yield handle, name
    ray_session.kill(handle)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.jsonl").write_text(
        "".join(json.dumps({"text": f"document {i}"}) + "\n" for i in range(30)) + "{broken\n\n"
    )
    pq.write_table(
        pa.table({"content": [f"parquet row {i}" for i in range(40)] + [None]}),
        docs / "b.parquet",
        row_group_size=8,
    )
    pairs = tmp_path / "pairs.json"
    pairs.write_text(
        json.dumps(
            [{"question": "什么是数据清洗？", "answer": "去除噪声。"}, {"question": "空答案", "answer": ""}],
            ensure_ascii=False,
        )
    )
    return {"docs": docs, "pairs": pairs}


def test_inputs_become_one_dataset_with_counters_and_file_hashes(inputs, stats_actor, ray_session):
    handle, name = stats_actor
    specs = [
        InputSpec(path=str(inputs["docs"]), kind="document", name="web"),
        InputSpec(path=str(inputs["pairs"]), kind="instruction", name="qa"),
    ]

    ds, files = read_inputs(specs, stats_actor=name)
    table = collect(ds)

    assert table.schema == schema.BASE_SCHEMA
    assert table.num_rows == 32 + 41 + 2
    reasons = sorted(r for r in table.column(schema.REJECT_REASON).to_pylist() if r is not None)
    assert reasons == [
        "empty_line",
        "invalid_json: Expecting property name enclosed in double quotes: column 2",
        "missing_output",
        "null_text",
    ]
    assert set(
        table.filter(pa.compute.is_valid(table.column(schema.REJECT_STAGE)))
        .column(schema.REJECT_STAGE)
        .to_pylist()
    ) == {"read"}
    counters = ray_session.get(handle.snapshot.remote())
    assert counters["read"] == {"rows": 75, "in": 75, "kept": 71, "rejected": 4}
    assert counters[READ_FILES_SCOPE] == {
        str(inputs["docs"] / "a.jsonl"): 32,
        str(inputs["docs"] / "b.parquet"): 41,
        str(inputs["pairs"]): 2,
    }
    assert [(f["path"], f["input"], f["format"], f["kind"]) for f in files] == [
        (str(inputs["docs"] / "a.jsonl"), "web", "jsonl", "document"),
        (str(inputs["docs"] / "b.parquet"), "web", "parquet", "document"),
        (str(inputs["pairs"]), "qa", "json", "instruction"),
    ]
    for info in files:
        data = Path(info["path"]).read_bytes()
        assert info["size"] == len(data)
        assert info["sha256"] == hashlib.sha256(data).hexdigest()


def test_read_rows_flow_through_a_stage(inputs, stats_actor, ray_session):
    handle, name = stats_actor

    ds, _ = read_inputs([InputSpec(path=str(inputs["docs"]), kind="document")], stats_actor=name)
    table = collect(apply_stage(ds, TextCleaner(), stats_actor=name))

    assert table.num_rows == 73
    live = table.filter(pa.compute.is_null(table.column(schema.REJECT_STAGE)))
    assert sorted(live.column(schema.TEXT).to_pylist())[:2] == ["document 0", "document 1"]
    counters = ray_session.get(handle.snapshot.remote())
    assert counters["clean"]["in"] == counters["read"]["kept"] == 70


def test_only_empty_files_give_an_empty_dataset(tmp_path: Path, ray_session):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "none.parquet")

    ds, files = read_inputs([InputSpec(path=str(tmp_path), kind="document")])

    assert collect(ds).num_rows == 0
    assert len(files) == 2


def test_plan_errors_surface_before_any_task(tmp_path: Path, ray_session):
    pattern = str(tmp_path / "*.parquet")

    with pytest.raises(InputError, match="no files match this pattern") as error:
        read_inputs([InputSpec(path=pattern, kind="document")])

    assert error.value.path == pattern


def test_corrupt_parquet_is_found_at_plan_time(tmp_path: Path, ray_session):
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1 this is not a parquet file")

    with pytest.raises(InputError, match="corrupt.parquet: not a readable Parquet file"):
        read_inputs([InputSpec(path=str(tmp_path), kind="document")])


def test_a_file_listed_by_two_inputs_is_an_error(inputs):
    path = str(inputs["docs"] / "a.jsonl")

    with pytest.raises(InputError, match=r"listed by inputs\[0\] and inputs\[1\]"):
        plan_inputs(
            [InputSpec(path=path, kind="document"), InputSpec(path=str(inputs["docs"]), kind="document")]
        )


def test_errors_in_read_tasks_reach_the_user_as_the_input_error(tmp_path: Path, ray_session):
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "fine"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"body": "no text column"}\n')

    ds, _ = read_inputs([InputSpec(path=str(tmp_path), kind="document")])
    with pytest.raises(Exception) as raised:
        ds.materialize()

    error = unwrap_error(raised.value)
    assert type(error) is InputError
    assert error.path == str(bad)
    assert str(error) == (
        f"{bad}: no 'text' column (tried 'text', 'content'); columns present: body; "
        "map one with columns: {text: <name>}"
    )


def test_unwrap_error_leaves_plain_errors_alone():
    cause = OSError("disk")
    try:
        raise InputError("x.jsonl", "cannot read") from cause
    except InputError as error:
        assert unwrap_error(error) is error
    plain = ValueError("plain")
    assert unwrap_error(plain) is plain
