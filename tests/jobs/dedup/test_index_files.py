"""Index parts written by workers: deterministic names and bytes, listed with sha256, read only as listed."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.dedup.index import pinned_keys, save_index
from sftforge.jobs.dedup.index_files import DedupIndexError, live_rows, open_index
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.keys import extract_keys

from tests.jobs.dedup.test_workflow import _corpus, _table

pytestmark = pytest.mark.ray


def _files(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def keys():
    config = DedupConfig()
    return config, extract_keys(_table(_corpus("k-", seed=3)), config)


def test_parts_do_not_depend_on_the_block_layout(ray_session, keys, tmp_path, monkeypatch):
    from sftforge.jobs.dedup import index_files

    config, table = keys
    monkeypatch.setattr(index_files, "FILE_ROWS", 20)  # several parts from a small table
    written = []
    for blocks in (1, 5):
        ds = ray_session.data.from_arrow(table).repartition(blocks)
        folder = tmp_path / f"blocks-{blocks}"
        entries = save_index(ds, str(folder), config)
        written.append(_files(folder))
        assert [e["path"] for e in entries][-1] == "params.json"
        assert {e["path"] for e in entries} == set(written[-1])
        for entry in entries:
            assert hashlib.sha256(written[-1][entry["path"]]).hexdigest() == entry["sha256"]
            assert len(written[-1][entry["path"]]) == entry["bytes"]
    assert written[0] == written[1]
    names = sorted(path for path in written[0] if path.startswith("rows/"))
    assert names == [f"rows/g00001-part-{n:05d}.parquet" for n in range(len(names))] and len(names) >= 2
    assert live_rows(str(tmp_path / "blocks-1")).num_rows == table.num_rows


def test_only_listed_files_are_read_and_their_bytes_are_checked(ray_session, keys, tmp_path):
    config, table = keys
    folder = tmp_path / "index"
    save_index(ray_session.data.from_arrow(table), str(folder), config)
    debris = folder / "rows" / "g00009-part-00000.parquet"  # a killed run's part: never listed
    pq.write_table(pa.table({schema.DOC_ID: ["stray"]}), debris)
    assert "stray" not in live_rows(str(folder)).column(schema.DOC_ID).to_pylist()
    assert pinned_keys(str(folder), config).count() == table.num_rows

    part = next(p for p in sorted((folder / "rows").glob("g00001-*")))
    part.write_bytes(part.read_bytes()[:-8] + b"XXXXXXXX")
    with pytest.raises(DedupIndexError, match="sha256"):
        live_rows(str(folder))


def test_an_index_inside_a_release_needs_the_release_committed(ray_session, keys, tmp_path):
    config, table = keys
    release = tmp_path / "r1"
    entries = save_index(ray_session.data.from_arrow(table), str(release / "dedup_index"), config,
                         standalone=False)
    with pytest.raises(DedupIndexError, match="not committed"):  # a killed run's release: no manifest
        open_index(str(release / "dedup_index"))
    files = [dict(e, path=f"dedup_index/{e['path']}") for e in entries]
    manifest = (json.dumps({"release": "r1", "files": files}) + "\n").encode()
    (release / "manifest.json").write_bytes(manifest)
    with pytest.raises(DedupIndexError, match="not committed"):
        open_index(str(release / "dedup_index"))
    (release / "_SUCCESS").write_text(hashlib.sha256(manifest).hexdigest())
    assert len(open_index(str(release / "dedup_index")).files) == len(entries) - 1
    params = release / "dedup_index" / "params.json"
    params.write_text(params.read_text().replace('"generation": 1', '"generation": 7'))
    with pytest.raises(DedupIndexError, match="not the one its release's manifest lists"):
        open_index(str(release / "dedup_index"))
