"""A release's dedup index on a real S3-compatible server (moto): workers write it into the run's prefix,
the manifest lists it, a killed run's index is never trusted, and a later run reads only the listed files.

Each run is ``sftforge run`` in its own process, as a user starts it.
"""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path

import pytest
import yaml

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from sftforge.jobs.dedup.index_files import DedupIndexError, live_rows, open_index
from sftforge.jobs.release.objectstore import verified_release

from tests.jobs.release.test_objectstore import _DIE_BEFORE_MANIFEST, _names, _sftforge
from tests.support.s3_server import S3Server

pytestmark = pytest.mark.slow
OUT = "s3://releases/idx"


def _pairs(fs, name: str, start: int, count: int) -> None:
    rows = [{"instruction": f"Describe lake number {i} and its shores.",
             "output": f"Lake {i} is calm; its shores are rocky in the north, case {i}."} for i in range(start, start + count)]
    fs.pipe_file(f"data/in/{name}", "".join(json.dumps(row) + "\n" for row in rows).encode())


@pytest.fixture(scope="module")
def store():
    with S3Server() as server:
        server.create_bucket("data")
        server.create_bucket("releases")
        fs = server.filesystem()
        _pairs(fs, "old.jsonl", 0, 40)
        _pairs(fs, "new.jsonl", 100, 15)
        with server.exported():
            yield server


def _config(tmp_path: Path, release: str, files: list[str], against: list[str]) -> Path:
    path = tmp_path / f"{release}.yaml"
    path.write_text(yaml.safe_dump({
        "release": release,
        "inputs": [{"path": f"s3://data/in/{name}", "kind": "instruction"} for name in files],
        "output": {"dir": OUT, "shard_rows": 20},
        "dedup": {"against": against},
        "split": {"ratios": {"train": 0.8, "test": 0.2}},
        "ray": {"num_cpus": 2},
    }), encoding="utf-8")
    return path


def _listed_index(fs, release: str) -> dict[str, dict]:
    manifest = verified_release(OUT, release)[1]
    listed = {e["path"]: e for e in manifest["files"] if e["path"].startswith("dedup_index/")}
    root = f"releases/idx/{release}/"
    stored = {p[len(root):]: fs.cat_file(p) for p in fs.find(root + "dedup_index")}
    assert set(stored) == set(listed) and "dedup_index/params.json" in stored
    assert all(hashlib.sha256(data).hexdigest() == listed[p]["sha256"] for p, data in stored.items())
    return listed


def test_index_on_the_store_killed_run_and_a_later_run_against_it(store, tmp_path):
    proc = _sftforge(store, "run", str(_config(tmp_path, "r1", ["old.jsonl"], [])))
    assert proc.returncode == 0, proc.stderr[-4000:]
    fs = store.filesystem()
    listed = _listed_index(fs, "r1")
    assert any(p.startswith("dedup_index/rows/g00001-part-") for p in listed)
    assert live_rows(f"{OUT}/r1/dedup_index").num_rows == 40

    index = f"{OUT}/r1/dedup_index"
    config = _config(tmp_path, "r2", ["old.jsonl", "new.jsonl"], [index])
    proc = _sftforge(store, "run", str(config), prelude=_DIE_BEFORE_MANIFEST)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-4000:]
    fs = store.filesystem()
    assert fs.exists("releases/idx/r2/dedup_index/params.json")  # copied in, but never committed
    with pytest.raises(DedupIndexError, match="not committed"):
        open_index(f"{OUT}/r2/dedup_index")

    proc = _sftforge(store, "run", str(config))
    assert proc.returncode == 0, proc.stderr[-4000:]
    fs = store.filesystem()
    assert _names(fs, "releases/idx") == ["LATEST", "r1", "r2"]  # the killed run's staging is gone
    manifest = verified_release(OUT, "r2")[1]
    assert manifest["accounting"]["rejected_by_stage"].get("dedup.exact") == 40  # old.jsonl, against r1
    _listed_index(fs, "r2")
    assert live_rows(f"{OUT}/r2/dedup_index").num_rows == 15
