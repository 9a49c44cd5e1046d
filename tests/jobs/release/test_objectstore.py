"""Releases published to a real S3-compatible server (moto) through s3fs, inputs read from it too.

Each run is ``sftforge run`` in its own process, as a user would start it, with the server's endpoint and
credentials in environment variables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from sftforge.jobs.release.lease import ReleaseLease
from sftforge.jobs.release.objectstore import verified_release
from sftforge.jobs.release.stream import ReleaseError

from tests.support.s3_server import S3Server

pytestmark = pytest.mark.slow
OUT = "s3://releases/out"


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        server.create_bucket("data")
        server.create_bucket("releases")
        fs = server.filesystem()
        pairs = [{"instruction": f"Explain topic number {i} in one sentence.",
                  "output": f"Topic {i} is explained here in one clear sentence."} for i in range(40)]
        fs.pipe_file("data/in/pairs.jsonl", "".join(json.dumps(p) + "\n" for p in pairs).encode())
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"text": [f"段落 {i}：长江是中国最长的河流，流经许多省份。" for i in range(15)]}), sink)
        fs.pipe_file("data/in/docs.parquet", sink.getvalue().to_pybytes())
        with server.exported():  # verified_release in this process reads the store like a user
            yield server


def _config(tmp_path: Path, release: str) -> Path:
    path = tmp_path / f"{release}.yaml"
    path.write_text(yaml.safe_dump({
        "release": release,
        "inputs": [{"path": "s3://data/in/pairs.jsonl", "kind": "instruction"},
                   {"path": "s3://data/in/docs.parquet", "kind": "document"}],
        "output": {"dir": OUT, "shard_rows": 10},
        "split": {"ratios": {"train": 0.7, "test": 0.3}},
        "ray": {"num_cpus": 2},
    }, allow_unicode=True), encoding="utf-8")
    return path


def _env(server: S3Server) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    repo = str(Path(__file__).resolve().parents[3])
    return {**env, **server.env(), "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
            "PYTHONPATH": repo}


def _sftforge(server, *args, prelude: str = "", timeout: float = 400) -> subprocess.CompletedProcess:
    code = prelude + "\nimport sys\nfrom sftforge.jobs.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=_env(server), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:  # whatever the run left in its process group (a killed driver's local Ray runtime)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _names(fs, path: str) -> list[str]:
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(path, detail=False, refresh=True))


def test_validate_accepts_s3_urls(s3, tmp_path):
    proc = _sftforge(s3, "validate", str(_config(tmp_path, "v1")), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_run_publishes_to_the_store_and_readers_trust_it(s3, tmp_path):
    proc = _sftforge(s3, "run", str(_config(tmp_path, "r1")))
    assert proc.returncode == 0, proc.stderr[-4000:]
    fs = s3.filesystem()
    assert fs.cat_file("releases/out/LATEST") == b"r1\n"
    assert _names(fs, "releases/out") == ["LATEST", "r1"]  # no staging, no lock left behind
    url, manifest = verified_release(OUT)
    assert url == "s3://releases/out/r1"
    listed = {item["path"]: item for item in manifest["files"]}
    stored = {p[len("releases/out/r1/"):]: info["size"]
              for p, info in fs.find("releases/out/r1", detail=True).items()}
    assert set(stored) - set(listed) == {"manifest.json", "_SUCCESS"}
    assert all(stored[path] == item["bytes"] for path, item in listed.items())
    assert any(path.startswith("parquet/train/part-") for path in listed)
    assert any(path.startswith("documents/jsonl/") for path in listed)
    assert manifest["accounting"]["rows_read"] == 55
    first = next(p for p in sorted(listed) if p.startswith("parquet/train/"))
    with fs.open(f"releases/out/r1/{first}") as handle:
        assert pq.read_table(handle).num_rows == listed[first]["rows"] > 0


_DIE_BEFORE_MANIFEST = textwrap.dedent(
    """
    import os, signal
    import sftforge.jobs.release.objectstore as store
    real_commit = store.commit
    def commit(fs, *args, **kwargs):
        real_pipe = fs.pipe_file
        def pipe_file(path, data, **kw):
            if str(path).endswith("manifest.json"):
                os.kill(os.getpid(), signal.SIGKILL)  # killed mid-commit: data copied, no manifest
            return real_pipe(path, data, **kw)
        fs.pipe_file = pipe_file
        return real_commit(fs, *args, **kwargs)
    store.commit = commit
    """
)


def test_a_run_killed_mid_write_leaves_the_previous_release_and_latest(s3, tmp_path):
    fs = s3.filesystem()
    if not fs.exists("releases/out/r1/_SUCCESS"):
        assert _sftforge(s3, "run", str(_config(tmp_path, "r1"))).returncode == 0
    before = {p: i["size"] for p, i in fs.find("releases/out/r1", detail=True).items()}
    proc = _sftforge(s3, "run", str(_config(tmp_path, "r2")), prelude=_DIE_BEFORE_MANIFEST)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-4000:]
    fs = s3.filesystem()
    assert fs.cat_file("releases/out/LATEST") == b"r1\n"
    assert {p: i["size"] for p, i in fs.find("releases/out/r1", detail=True).items()} == before
    assert fs.exists("releases/out/r2") and not fs.exists("releases/out/r2/_SUCCESS")
    with pytest.raises(ReleaseError, match="incomplete"):
        verified_release(OUT, "r2")
    assert any(name.startswith(".staging-r2-") for name in _names(fs, "releases/out"))

    # The next run of r2 removes the debris (the dead run's staging and lock) and publishes.
    proc = _sftforge(s3, "run", str(_config(tmp_path, "r2")))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert _names(s3.filesystem(), "releases/out") == ["LATEST", "r1", "r2"]
    assert verified_release(OUT)[1]["release"] == "r2"


def test_a_concurrent_run_of_the_same_release_is_refused(s3, tmp_path):
    fs = s3.filesystem()
    holder = ReleaseLease(fs, "releases/out", "r3", "r3-holder")
    holder.acquire()
    try:
        proc = _sftforge(s3, "run", str(_config(tmp_path, "r3")))
    finally:
        holder.release()
    assert proc.returncode != 0
    assert "being written by another run" in proc.stderr and "Traceback" not in proc.stderr
    assert not s3.filesystem().exists("releases/out/r3")
