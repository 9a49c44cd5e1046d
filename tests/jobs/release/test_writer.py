from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.release.buckets import parse_jsonl
from sftforge.jobs.release.manifest import MASK
from sftforge.jobs.release.objectstore import verified_release
from sftforge.jobs.release.writer import (
    LATEST,
    REJECTS,
    WRITE_STAGE,
    ReleaseError,
    ReleaseWriter,
    prepare_batch,
)
from sftforge.operators import schema
from sftforge.operators.write.formats import OutputConfig
from sftforge.operators.write.jsonl import encode_jsonl

REPO = Path(__file__).resolve().parents[3]


def _final_rows(count: int = 240) -> pa.Table:
    """Rows as they reach the writer: live rows with a split, rejected rows with a stage and reason."""
    rows = []
    for i in range(count):
        document = i % 6 == 0
        rejected = i % 10 == 3
        rows.append(
            {
                schema.DOC_ID: hashlib.sha1(str(i).encode()).hexdigest(),
                schema.KIND: schema.KIND_DOCUMENT if document else schema.KIND_INSTRUCTION,
                schema.SOURCE_FILE: f"shard-{i % 3}.parquet",
                schema.SOURCE_ROW: i,
                schema.ORIGIN: schema.ORIGIN_SOURCE,
                schema.TEXT: f"第{i}篇文档：黄河是中国第二长河。" if document else None,
                schema.INSTRUCTION: None if document else f"问题{i}：长江有多长？",
                schema.INPUT: None if document else ("请简要回答" if i % 4 else ""),
                # Every 25th instruction has no answer: the writer must reject it, not drop it.
                schema.OUTPUT: None if document else ("" if i % 25 == 1 else f"回答{i}：约6300公里。"),
                schema.LANG: "zh",
                schema.QUALITY_SCORE: i / count,
                schema.CLUSTER_ID: hashlib.sha1(str(i // 2).encode()).hexdigest(),
                schema.SPLIT: None if rejected else ("train", "train", "validation", "test")[i % 4],
                schema.REJECT_STAGE: ("clean" if i % 20 == 3 else "quality") if rejected else None,
                schema.REJECT_REASON: f"planted reject {i}" if rejected else None,
            }
        )
    types = {field.name: field.type for field in schema.BASE_SCHEMA}
    types.update(schema.ADDED_TYPES)
    return pa.table({name: pa.array([row[name] for row in rows], types[name]) for name in rows[0]})


def _expected(table: pa.Table) -> dict:
    rows = table.to_pylist()
    dead = [r for r in rows if r[schema.REJECT_STAGE]]
    live = [r for r in rows if not r[schema.REJECT_STAGE]]
    refused = [r for r in live if r[schema.KIND] == schema.KIND_INSTRUCTION and not r[schema.OUTPUT]]
    return {"dead": len(dead), "refused": len(refused), "written": len(live) - len(refused)}


def _write(tmp_path, table, release="r1", blocks=3, manifest=None, **output):
    import ray

    config = OutputConfig(dir=str(tmp_path / "out"), **{"shard_rows": 40, **output})
    writer = ReleaseWriter(config, release)
    counts = writer.write(ray.data.from_arrow(table).repartition(blocks))
    path = writer.publish(manifest or {"config": {"shard_rows": 40}})
    return writer, counts, path


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def published(ray_session, tmp_path_factory):
    """One release ``r1`` written from 300 rows in 3 blocks: (table, counts, output folder)."""
    table = _final_rows(300)
    tmp_path = tmp_path_factory.mktemp("published")
    manifest = {"config_hash": "abc", "llm": {"api_key": "sk-" + "x" * 30}}
    _, counts, _ = _write(tmp_path, table, manifest=manifest)
    return table, counts, tmp_path / "out"


def _copy_of(published, tmp_path) -> Path:
    root = tmp_path / "out"
    shutil.copytree(published[2], root)
    return root


def test_write_and_publish_layout(published):
    table, counts, root = published
    expected = _expected(table)
    release = root / "r1"

    assert sorted(p.name for p in root.iterdir()) == [LATEST, "r1"]
    assert (root / LATEST).read_text() == "r1\n"
    assert sorted(p.name for p in release.iterdir()) == [
        "_SUCCESS",
        "documents",
        "jsonl",
        "manifest.json",
        "parquet",
        REJECTS,
    ]
    assert sorted(p.name for p in (release / "parquet").iterdir()) == ["test", "train", "validation"]
    assert counts.total_written == expected["written"]
    assert counts.rejected_by_stage[WRITE_STAGE] == expected["refused"]
    assert counts.total_rejected == expected["dead"] + expected["refused"]
    assert counts.total_written + counts.total_rejected == table.num_rows

    # Instruction rows: SFT messages, split by split, same rows in Parquet and JSONL, Chinese unescaped.
    for split, rows in counts.instructions_by_split.items():
        parquet = sorted((release / "parquet" / split).glob("*.parquet"))
        jsonl = sorted((release / "jsonl" / split).glob("*.jsonl"))
        # ceil(rows / shard_rows) buckets by doc_id hash; a bucket that no row hashed to has no file.
        assert [p.stem for p in parquet] == [p.stem for p in jsonl]
        assert {p.stem for p in parquet} <= {f"part-{i:05d}" for i in range(-(-rows // 40))}
        from_parquet = [row for p in parquet for row in pq.read_table(p).to_pylist()]
        raw = b"".join(p.read_bytes() for p in jsonl)
        assert "长江有多长".encode() in raw and b"\\u" not in raw
        from_jsonl = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
        assert from_parquet == from_jsonl and len(from_jsonl) == rows
        # Sorted by doc_id, but the first file starts with the split's type witness: every row here
        # shows every type, so that is the one row first by the hash of its doc_id.
        witness = min((zlib.crc32(r[schema.DOC_ID].encode()), r[schema.DOC_ID]) for r in from_jsonl)[1]
        for path in jsonl:
            ids = [json.loads(line)[schema.DOC_ID] for line in path.read_text().splitlines()]
            if path.stem == "part-00000":
                assert ids[0] == witness
                ids = ids[1:]
            assert ids == sorted(ids) and witness not in ids
        assert all([m["role"] for m in r[schema.MESSAGES]] == ["user", "assistant"] for r in from_jsonl)

    # Documents keep their text and metadata, never a chat format.
    documents = pq.read_table(release / "documents" / "parquet" / "train").to_pylist()
    assert documents and set(documents[0]) >= {schema.TEXT, schema.DOC_ID, schema.LANG, schema.SOURCE_FILE}
    assert schema.MESSAGES not in documents[0]

    # Rejects: every dropped row with its stage, reason and original text.
    rejects = pq.read_table(release / REJECTS)
    assert rejects.schema.equals(schema.REJECT_SCHEMA)
    stages = rejects.column(schema.REJECT_STAGE).to_pylist()
    for path in (release / REJECTS).glob("part-*.parquet"):
        in_file = pq.read_table(path).column(schema.REJECT_STAGE).to_pylist()
        assert in_file == sorted(in_file)
    assert {s: stages.count(s) for s in set(stages)} == counts.rejected_by_stage
    planted = [r for r in rejects.to_pylist() if r[schema.REJECT_STAGE] != WRITE_STAGE]
    assert all(r[schema.REJECT_REASON].startswith("planted reject") for r in planted)
    assert all(r[schema.TEXT] or r[schema.INSTRUCTION] for r in planted)
    refused = [r for r in rejects.to_pylist() if r[schema.REJECT_STAGE] == WRITE_STAGE]
    assert all("output is empty" in r[schema.REJECT_REASON] and r[schema.INSTRUCTION] for r in refused)

    # The manifest lists every file with the digest of its bytes, the counts and versions; no secrets.
    manifest = json.loads((release / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = _tree(release)
    assert set(listed) == set(on_disk) - {"manifest.json", "_SUCCESS"}
    assert all(listed[path]["sha256"] == on_disk[path] for path in listed)
    assert manifest["rows"]["written"] == counts.total_written
    assert manifest["rows"]["rejected_by_stage"] == counts.rejected_by_stage
    assert manifest["config_hash"] == "abc" and manifest["release"] == "r1"
    assert {"python", "pyarrow", "ray"} <= set(manifest["versions"])
    assert manifest["llm"]["api_key"] == MASK
    assert "sk-xxx" not in (release / "manifest.json").read_text()
    # _SUCCESS holds the manifest's sha256 and is written after every other file.
    success = release / "_SUCCESS"
    assert success.read_bytes() == hashlib.sha256((release / "manifest.json").read_bytes()).hexdigest().encode()
    assert verified_release(str(root))[1]["release"] == "r1"
    assert all(success.stat().st_mtime_ns >= p.stat().st_mtime_ns for p in release.rglob("*") if p.is_file())


class RenamingWriter(ReleaseWriter):
    """Takes the two-rename path used where renameat2 is not available."""

    @staticmethod
    def _exchange(first, second):
        return False


def test_identical_bytes_whatever_the_block_count_and_row_order(published, tmp_path):
    import ray

    table, _, original = published
    root = _copy_of(published, tmp_path)
    reversed_rows = table.take(pa.array(range(table.num_rows - 1, -1, -1)))
    # Replaces the copy's r1 by renaming the old release aside (no atomic exchange), from other blocks.
    writer = RenamingWriter(OutputConfig(dir=str(root), shard_rows=40), "r1")
    writer.write(ray.data.from_arrow(reversed_rows).repartition(7))
    writer.publish({})
    first, second = _tree(original / "r1"), _tree(root / "r1")
    for tree in (first, second):
        tree.pop("manifest.json"), tree.pop("_SUCCESS")
    assert first == second
    assert len(first) > 10
    assert sorted(p.name for p in root.iterdir()) == [LATEST, "r1"]


def test_rerun_of_the_same_release_replaces_it_without_leftovers(published, tmp_path):
    table, _, _ = published
    root = _copy_of(published, tmp_path)
    assert (root / "r1" / "parquet" / "train" / "part-00001.parquet").exists()
    _, counts, release = _write(tmp_path, table.slice(0, 120), shard_rows=1000, file_formats=["jsonl"])

    files = set(_tree(release)) - {"manifest.json", "_SUCCESS"}
    assert files == {f["path"] for f in counts.files}
    assert {p.suffix for p in release.rglob("part-*") if REJECTS not in p.parts} == {".jsonl"}
    assert not (release / "jsonl" / "train" / "part-00001.jsonl").exists()
    assert sorted(p.name for p in root.iterdir()) == [LATEST, "r1"]
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["rows"]["written"] + manifest["rows"]["rejected"] == 120


def test_abort_leaves_the_previous_release_and_latest_untouched(published, tmp_path):
    root = _copy_of(published, tmp_path)
    before = _tree(root)

    config = OutputConfig(dir=str(root), shard_rows=40)
    with pytest.raises(RuntimeError, match="stage exploded"), ReleaseWriter(config, "r1") as writer:
        (writer.staging_dir / "train").mkdir()
        (writer.staging_dir / "train" / "part-00000.parquet").write_bytes(b"half a shard")
        raise RuntimeError("stage exploded")
    assert not writer.staging_dir.exists()
    assert _tree(root) == before
    assert sorted(p.name for p in root.iterdir()) == [LATEST, "r1"]
    writer.abort()  # a second abort is harmless


def test_rows_without_a_split_stop_the_write(tmp_path):
    config = OutputConfig(dir=str(tmp_path))
    with pytest.raises(ReleaseError, match="without a split"):
        prepare_batch(_final_rows(20).drop_columns([schema.SPLIT]), config)
    rows = _final_rows(20)
    bad = rows.set_column(rows.column_names.index(schema.SPLIT), schema.SPLIT, pa.array(["../x"] * 20))
    with pytest.raises(ReleaseError, match="folder names"):
        prepare_batch(bad, config)


def test_latest_moves_only_once_a_release_is_published(published, tmp_path):
    import ray

    table, _, _ = published
    root = _copy_of(published, tmp_path)
    writer = ReleaseWriter(OutputConfig(dir=str(root)), "2026-01-02")
    # Steps may leave their own files in the staging folder; they are published and listed.
    (writer.staging_dir / "dedup").mkdir()
    (writer.staging_dir / "dedup" / "index.parquet").write_bytes(b"index bytes")
    with pytest.raises(ReleaseError, match="completed write"):
        writer.publish({})
    writer.write(ray.data.from_arrow(table.slice(0, 60)))
    with pytest.raises(ReleaseError, match="called once"):
        writer.write(ray.data.from_arrow(table))
    assert (root / LATEST).read_text() == "r1\n"
    assert not (root / "2026-01-02").exists()

    # A manifest that cannot be written stops the publish before _SUCCESS and before anything moves.
    with pytest.raises(ReleaseError, match="filled in by the release writer"):
        writer.publish({"files": []})
    with pytest.raises(TypeError):
        writer.publish({"not json": {1, 2}})
    assert not (writer.staging_dir / "_SUCCESS").exists()
    assert (root / LATEST).read_text() == "r1\n"
    assert not (root / "2026-01-02").exists()

    release = writer.publish({})
    assert release == root / "2026-01-02"
    assert (root / LATEST).read_text() == "2026-01-02\n"
    assert (root / "r1" / "_SUCCESS").exists()
    listed = {f["path"]: f for f in json.loads((release / "manifest.json").read_text())["files"]}
    assert listed["dedup/index.parquet"]["sha256"] == hashlib.sha256(b"index bytes").hexdigest()
    assert listed["dedup/index.parquet"]["rows"] is None
    assert sorted(p.name for p in root.iterdir()) == ["2026-01-02", LATEST, "r1"]


def test_staging_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path):
    root = tmp_path / "out"
    killed = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from sftforge.jobs.release.writer import ReleaseWriter
        from sftforge.operators.write.formats import OutputConfig
        writer = ReleaseWriter(OutputConfig(dir={str(root)!r}), "r1")
        (writer.staging_dir / "train").mkdir()
        (writer.staging_dir / "train" / "part-00000.jsonl").write_text("half written")
        print(writer.staging_dir, flush=True)
        os._exit(9)
        """
    )
    result = subprocess.run([sys.executable, "-c", killed], capture_output=True, text=True, check=False)
    assert result.returncode == 9, result.stderr
    left = Path(result.stdout.strip())
    assert left.exists()

    live = ReleaseWriter(OutputConfig(dir=str(root)), "r2")
    assert not left.exists()
    assert not list(root.glob(f"{left.name}*"))
    # A staging folder whose owner is alive is left alone.
    other = ReleaseWriter(OutputConfig(dir=str(root)), "r3")
    assert live.staging_dir.exists() and other.staging_dir.exists()
    live.abort(), other.abort()
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("release", ["", "../up", ".hidden", "LATEST", "a/b", "x" * 200])
def test_bad_release_ids_are_refused(tmp_path, release):
    with pytest.raises(ReleaseError):
        ReleaseWriter(OutputConfig(dir=str(tmp_path)), release)


def test_prepare_batch_has_the_same_columns_whatever_the_rows(tmp_path):
    config = OutputConfig(dir=str(tmp_path))
    table = _final_rows(40)
    documents_only = table.filter(pa.compute.equal(table.column(schema.KIND), schema.KIND_DOCUMENT))
    rejects_only = table.filter(pa.compute.is_valid(table.column(schema.REJECT_STAGE)))
    schemas = {
        str(prepare_batch(part, config).schema)
        for part in (table, documents_only, rejects_only, table.slice(0, 0))
    }
    assert len(schemas) == 1


def test_parsed_lines_are_exactly_the_records(tmp_path):
    from sftforge.operators.write.formats import SFTFormatter

    table = _final_rows(200)
    live = table.filter(pa.compute.is_null(table.column(schema.REJECT_STAGE)))
    for fmt in ("messages", "alpaca", "sharegpt"):
        records = (
            SFTFormatter(OutputConfig(dir=str(tmp_path), sft_format=fmt)).format_instructions(live).records
        )
        lines = encode_jsonl(records)
        for chunk_bytes in (1, 500, 1 << 28):
            assert parse_jsonl(lines, records.schema, chunk_bytes=chunk_bytes).equals(records)
        assert parse_jsonl(lines.slice(5, 17), records.schema).equals(records.slice(5, 17))
    with pytest.raises(ReleaseError, match="do not match"):
        parse_jsonl(
            encode_jsonl(pa.table({"text": ["a"], "surprise": [1]})), pa.schema([("text", pa.string())])
        )


def test_a_release_of_no_rows_holds_only_its_manifest(ray_session, tmp_path):
    import ray

    writer = ReleaseWriter(OutputConfig(dir=str(tmp_path)), "empty")
    counts = writer.write(ray.data.from_arrow(_final_rows(10).slice(0, 0)))
    release = writer.publish({})
    assert counts.total_written == counts.total_rejected == 0 and counts.files == []
    assert sorted(p.name for p in release.iterdir()) == ["_SUCCESS", "manifest.json"]
    assert json.loads((release / "manifest.json").read_text())["rows"]["written"] == 0
