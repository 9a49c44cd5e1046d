"""End to end on the session's Ray runtime: read -> stages -> split -> write -> account -> publish."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sftforge.jobs.config import load_config
from sftforge.jobs.pipeline import run_job
from sftforge.operators import schema

pytestmark = pytest.mark.ray


def _inputs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [{"instruction": f"Explain topic number {i} in one sentence.",
              "output": f"Topic {i} is explained here in one clear sentence."} for i in range(30)]
    pairs.append({"instruction": "Say something.", "output": None})  # rejected by the reader
    pairs.append({"instruction": "<p>&nbsp;</p>", "output": "<b></b>"})  # empty after cleaning
    (folder / "pairs.jsonl").write_text(
        "\n".join(json.dumps(p, ensure_ascii=False) for p in pairs) + "\n", encoding="utf-8")
    docs = [f"<p>段落 {i}：长江是中国最长的河流，流经许多省份。</p>" for i in range(12)]
    pq.write_table(pa.table({"text": docs}), folder / "docs.parquet")


def _config(tmp_path: Path, **extra) -> Path:
    _inputs(tmp_path / "in")
    data = {
        "release": "r1",
        "inputs": [{"path": "in/pairs.jsonl", "kind": "instruction"},
                   {"path": "in/docs.parquet", "kind": "document"}],
        "output": {"dir": "out", "shard_rows": 10},
        "split": {"ratios": {"train": 0.7, "test": 0.3}},
        **extra,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _parquet_rows(folder: Path) -> list[dict]:
    return pa.concat_tables(pq.read_table(p) for p in sorted(folder.rglob("*.parquet"))).to_pylist()


def _file_hashes(release: Path) -> dict[str, str]:
    manifest = json.loads((release / "manifest.json").read_text())
    return {item["path"]: item["sha256"] for item in manifest["files"] if "part-" in item["path"]}


def test_run_publishes_an_accounted_release(ray_session, tmp_path):
    result = run_job(load_config(_config(tmp_path)))
    release = tmp_path / "out" / "r1"
    assert result.release_dir == release
    assert (release / "_SUCCESS").exists() and (tmp_path / "out" / "LATEST").read_text().strip() == "r1"
    manifest = json.loads((release / "manifest.json").read_text())
    accounting = manifest["accounting"]
    assert accounting["rows_read"] == 44
    assert accounting["rows_written"] + accounting["rows_rejected"] == 44
    assert manifest["config_hash"] and len(manifest["inputs"]) == 2
    assert all(len(entry["sha256"]) == 64 for entry in manifest["inputs"])

    rejects = _parquet_rows(release / "rejects")
    assert sorted((r[schema.REJECT_STAGE], r[schema.REJECT_REASON]) for r in rejects) == [
        ("clean", "empty_after_clean"), ("read", "missing_output")]

    lines = []
    for path in sorted(release.glob("jsonl/*/part-*.jsonl")):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 30 and all(line["messages"][-1]["role"] == "assistant" for line in lines)
    documents = _parquet_rows(release / "documents")
    assert len(documents) == 12 and all("<p>" not in row["text"] for row in documents)
    raw = b"".join(p.read_bytes() for p in release.glob("documents/jsonl/*/part-*.jsonl"))
    assert "长江".encode() in raw  # JSONL keeps Chinese readable, not \\u-escaped


def test_rerun_of_the_same_release_is_identical_and_clean(ray_session, tmp_path):
    config = load_config(_config(tmp_path))
    run_job(config)
    first = _file_hashes(tmp_path / "out" / "r1")
    files_before = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*"))
    run_job(config)
    assert _file_hashes(tmp_path / "out" / "r1") == first
    files_after = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*"))
    assert files_after == files_before  # no leftovers, no staging folders, no duplicates


def test_corrupt_input_fails_naming_the_file_and_keeps_latest(ray_session, tmp_path):
    config_path = _config(tmp_path)
    run_job(load_config(config_path))
    bad = tmp_path / "in" / "docs.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 64 + b"garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "sftforge.jobs.cli", "run", str(config_path), "--set", "release=r2"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "r2").exists()
    assert (tmp_path / "out" / "LATEST").read_text().strip() == "r1"


def test_an_all_rejected_run_does_not_replace_the_release_unless_forced(ray_session, tmp_path):
    from sftforge.jobs.guard import ShrinkGuardError

    config_path = _config(tmp_path)
    run_job(load_config(config_path))
    (tmp_path / "in" / "pairs.jsonl").write_text('{"instruction": "x", "output": null}\n', encoding="utf-8")
    pq.write_table(pa.table({"text": pa.array([None], pa.string())}), tmp_path / "in" / "docs.parquet")
    config = load_config(config_path, ["release=r2"])
    with pytest.raises(ShrinkGuardError, match="would hold 0 rows, fewer than output.min_rows=1"):
        run_job(config)
    assert not (tmp_path / "out" / "r2").exists()
    assert (tmp_path / "out" / "LATEST").read_text().strip() == "r1"
    run_job(config, force=True)
    assert (tmp_path / "out" / "LATEST").read_text().strip() == "r2"
