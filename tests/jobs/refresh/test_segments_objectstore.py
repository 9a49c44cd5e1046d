"""Segments on an S3-compatible store (moto on 127.0.0.1): an unchanged night is copied by the store."""

from __future__ import annotations

import json

import pytest
from sftforge.jobs.config import load_config
from sftforge.jobs.refresh import run_refresh
from sftforge.jobs.refresh.segments import SEGMENTS

from tests.jobs.refresh.test_refresh_objectstore import DROPS, _drop, s3  # noqa: F401 (fixture)

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _data(fs, release: str) -> dict[str, bytes]:
    root = f"releases/segments/{release}/"
    return {path[len(root):]: fs.cat_file(path) for path in sorted(fs.find(root))
            if path.rsplit("/", 1)[-1].startswith("part-") and not path[len(root):].startswith("dedup_index")}


def test_an_unchanged_night_is_copied_on_the_store(s3, tmp_path):  # noqa: F811
    fs = s3.filesystem()
    _drop(fs, "a.jsonl", 0, 30)
    path = tmp_path / "job.yaml"
    path.write_text(json.dumps({
        "inputs": [{"path": f"s3://{DROPS}/*.jsonl", "kind": "instruction", "name": "pairs"}],
        "output": {"dir": "s3://releases/segments", "shard_rows": 50},
        "dedup": {"against": "auto"},
        "split": {"ratios": {"train": 0.8, "test": 0.2}},
    }), encoding="utf-8")
    config = load_config(path)
    run_refresh(config, date="2026-12-01")
    night1 = _data(fs, "2026-12-01")
    assert night1 and all("part-2026-12-01-" in name for name in night1)

    _drop(fs, "c.jsonl", 100, 20)
    run_refresh(config, date="2026-12-02")
    manifest = json.loads(fs.cat_file("releases/segments/2026-12-02/manifest.json"))
    data2 = _data(fs, "2026-12-02")
    assert {name: data2[name] for name in night1} == night1
    assert sorted(manifest["refresh"][SEGMENTS]) == ["2026-12-01", "2026-12-02"]
    acc = manifest["accounting"]
    assert acc["rows_read"] == 20 and acc["rows_carried"] == 30 and acc["rows_written"] == 50
    listed = {item["path"]: item for item in manifest["files"]}
    assert all(listed[name]["bytes"] == len(data) for name, data in data2.items())
    assert fs.cat_file("releases/segments/LATEST").decode().strip() == "2026-12-02"
