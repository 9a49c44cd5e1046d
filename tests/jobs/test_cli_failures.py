"""Every failure a run can meet, through the real ``sftforge`` command in its own process.

Each case is provoked for real (a truncated input, a held release lock, a full filesystem, a folder the
run may not write, a failing endpoint, a Ray that cannot start, a lost row) on top of a good earlier
release. Each must end as exactly one ``sftforge: error:`` line saying what failed and where, with the
path of a log file holding the full traceback, exit 1, no traceback on the terminal (unless ``-v``), and
the earlier release and ``LATEST`` byte for byte as they were.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sftforge.jobs.faults import LOSE_ROW_ENV, MARKERS_ENV

from tests.jobs.steps.test_llm import judgement, write_job
from tests.support.openai_server import SERVER_ERROR, OpenAITestServer, always

pytestmark = pytest.mark.ray

QUICK_RETRY = {"max_attempts": 2, "initial_backoff_s": 0.01, "max_backoff_s": 0.05, "max_total_s": 5}
#: Root ignores file modes; without these capabilities it meets them like any user (a real EACCES).
NO_DAC = (
    ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 and shutil.which("setpriv")
    else ()
)


def _inputs(folder: Path, rows: int = 6, size: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pad = "x" * size
    pairs = [{"instruction": f"Question number {i} about rivers? {pad}", "output": f"Answer {i} is complete. {pad}"}
             for i in range(rows)]
    (folder / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")


def _job(root: Path, release: str = "r2", **extra) -> str:
    data = {"release": release, "inputs": [{"path": "in", "kind": "instruction"}], "output": {"dir": "out"},
            "split": {"ratios": {"train": 1.0}}, "ray": {"num_cpus": 1}, **extra}
    (root / "job.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return "job.yaml"


def _cli(root: Path, *args: str, env: dict | None = None, prefix: tuple[str, ...] = ()):
    full_env = {**os.environ, "SFTFORGE_LOG_DIR": str(root / "logs"), "RAY_AUTH_MODE": "disabled",
                "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", **(env or {})}
    full_env.pop("RAY_ADDRESS", None)
    for _ in range(3):
        proc = subprocess.run([*prefix, sys.executable, "-m", "sftforge.jobs.cli", *args], cwd=root,
                              env=full_env, capture_output=True, text=True, timeout=600, check=False)
        # Ray gives its raylet 30 s to register: an overloaded shared CI host, not the code under test.
        if "timed out during startup" not in proc.stderr:
            break
        shutil.rmtree(root / "after", ignore_errors=True)
    return proc


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (hidden ones too) and folder under ``folder``, with the files' bytes."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def _failure(proc: subprocess.CompletedProcess, verbose: bool = False) -> str:
    """The one error line; checks the exit code, the log file and that no traceback reached the terminal."""
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("sftforge: error:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert ("Traceback" in proc.stderr) is verbose, proc.stderr[-3000:]
    line = lines[0]
    log = Path(line.rsplit("(full traceback: ", 1)[1].rstrip(")"))
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")
    return line


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> Path:
    """A good release ``r1`` (``LATEST`` names it), made once by the real CLI; tests copy it."""
    root = tmp_path_factory.mktemp("previous")
    _inputs(root / "in")
    proc = _cli(root, "run", _job(root, release="r1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (root / "out" / "LATEST").read_text().strip() == "r1"
    return root / "out"


def _setup(tmp_path: Path, previous: Path) -> dict[str, bytes | None]:
    """Inputs, a job for release ``r2`` and a copy of the earlier release in ``out``; returns its tree."""
    _inputs(tmp_path / "in")
    _job(tmp_path)
    shutil.copytree(previous, tmp_path / "out", symlinks=True)
    return _tree(tmp_path / "out")


def _untouched(line: str, out: Path, before: dict) -> None:
    assert f"nothing was published to {out}; earlier releases and LATEST are untouched" in line
    assert _tree(out) == before  # r1, LATEST, no r2, no staging or lock left behind


def test_a_truncated_input_inside_a_read_task_is_one_line_and_verbose_shows_the_traceback(tmp_path, previous):
    before = _setup(tmp_path, previous)
    whole = gzip.compress(b"".join(b'{"instruction": "Q%d?", "output": "A."}\n' % i for i in range(2000)))
    bad = tmp_path / "in" / "more.jsonl.gz"
    bad.write_bytes(whole[: len(whole) // 2])
    line = _failure(_cli(tmp_path, "-v", "run", "job.yaml"), verbose=True)
    assert line.startswith(f"sftforge: error: input: {bad}")
    _untouched(line, tmp_path / "out", before)


def test_a_release_another_run_is_writing_is_one_line(tmp_path, previous):
    before = _setup(tmp_path, previous)
    holder = {"token": "other", "host": socket.gethostname(), "pid": os.getpid(), "expires": time.time() + 3600}
    (tmp_path / "out" / ".lock-r2").write_text(json.dumps(holder), encoding="utf-8")
    before[".lock-r2"] = (tmp_path / "out" / ".lock-r2").read_bytes()
    line = _failure(_cli(tmp_path, "run", "job.yaml"))
    assert f"release: release r2 is being written by another run (pid {os.getpid()}" in line
    _untouched(line, tmp_path / "out", before)


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs a private tmpfs mount (unshare -m)")
def test_a_full_disk_is_one_line_and_keeps_the_earlier_release(tmp_path, previous):
    """``out`` is a real 256 KiB tmpfs (in a private mount namespace) holding the earlier release."""
    _inputs(tmp_path / "in", rows=40, size=20_000)  # about 1.6 MB of records: more than the disk holds
    _job(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    before = _tree(previous)
    # Mount, copy the earlier release in, run; then copy what is left out of the namespace for the checks.
    script = ('mount -t tmpfs -o size=256k tmpfs out && cp -a "$1/." out/ && shift && "$@"; rc=$?; '
              'mkdir after && cp -a out/. after/; exit $rc')
    proc = _cli(tmp_path, "run", "job.yaml",
                prefix=("unshare", "-m", "sh", "-c", script, "sh", str(previous)))
    line = _failure(proc)
    # The file when the writer names it, else the output folder (Arrow's writers raise without a name).
    assert re.match(rf"sftforge: error: disk full writing (into )?{re.escape(str(out))}", line), line
    assert f"nothing was published to {out}; earlier releases and LATEST are untouched" in line
    assert _tree(tmp_path / "after") == before


@pytest.mark.skipif(not NO_DAC and os.geteuid() == 0, reason="root without setpriv ignores file modes")
def test_an_output_folder_the_run_may_not_write_is_one_line(tmp_path, previous):
    before = _setup(tmp_path, previous)
    out = tmp_path / "out"
    out.chmod(0o555)
    try:
        line = _failure(_cli(tmp_path, "run", "job.yaml", prefix=NO_DAC))
    finally:
        out.chmod(0o755)
    assert line.startswith(f"sftforge: error: permission denied on {out}/") and "(Permission denied)" in line
    _untouched(line, out, before)


def test_an_endpoint_outage_mid_run_is_one_line(tmp_path, previous):
    with OpenAITestServer(reply=judgement) as server:
        server.settings.faults = always(SERVER_ERROR)  # the model list answers: the preflight passes
        path = write_job(tmp_path, server.url)
        data = yaml.safe_load(path.read_text())
        data["release"], data["llm"]["retry"] = "r2", QUICK_RETRY
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        shutil.copytree(previous, tmp_path / "out", symlinks=True)
        before = _tree(tmp_path / "out")
        line = _failure(_cli(tmp_path, "run", "job.yaml"))
    assert server.count > 0  # the calls were made and failed
    assert "sftforge: error: endpoint: judge:" in line and "(an outage, not a verdict on the data)" in line
    _untouched(line, tmp_path / "out", before)


def test_an_endpoint_down_at_start_is_one_line(tmp_path, previous):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    write_job(tmp_path, url, release="r2")
    shutil.copytree(previous, tmp_path / "out", symlinks=True)
    before = _tree(tmp_path / "out")
    line = _failure(_cli(tmp_path, "run", "job.yaml"))
    assert line.startswith("sftforge: error: endpoint: ") and url in line and "unreachable" in line
    _untouched(line, tmp_path / "out", before)


@pytest.mark.skipif(not NO_DAC and os.geteuid() == 0, reason="root without setpriv ignores file modes")
def test_ray_that_cannot_start_is_one_line(tmp_path, previous):
    """Ray's temp folder (``RAY_TMPDIR``) is one the run may not write: the local Ray cannot start."""
    before = _setup(tmp_path, previous)
    ray_tmp = tmp_path / "ray-tmp"
    ray_tmp.mkdir(mode=0o555)
    try:
        proc = _cli(tmp_path, "run", "job.yaml", env={"RAY_TMPDIR": str(ray_tmp)}, prefix=NO_DAC)
    finally:
        ray_tmp.chmod(0o755)
    line = _failure(proc)
    assert line.startswith(f"sftforge: error: Ray did not start or connect: permission denied on {ray_tmp}")
    assert "nothing was read" in line
    _untouched(line, tmp_path / "out", before)


def test_a_ray_address_where_nothing_listens_is_one_line_in_seconds(tmp_path, previous):
    """Ray itself waits for minutes on a closed GCS port; the run checks the address first."""
    before = _setup(tmp_path, previous)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"  # closed once the probe is
    line = _failure(_cli(tmp_path, "run", "job.yaml", "--set", f"ray.address={address}"))
    assert line.startswith(f"sftforge: error: Ray did not start or connect: no Ray cluster answers at {address}")
    _untouched(line, tmp_path / "out", before)


def test_a_row_lost_inside_a_stage_fails_the_accounting_in_one_line(tmp_path, previous):
    """A test-only fault (``jobs.faults``) drops one row the clean stage kept, after it was counted."""
    before = _setup(tmp_path, previous)
    (tmp_path / "markers").mkdir()
    env = {LOSE_ROW_ENV: "clean", MARKERS_ENV: str(tmp_path / "markers")}
    line = _failure(_cli(tmp_path, "run", "job.yaml", env=env))
    assert (tmp_path / "markers" / "lost-row-clean").exists()
    assert ("sftforge: error: accounting: row accounting failed: total: 6 read + 0 generated != "
            "5 written + 0 rejected (difference 1)") in line
    assert "stage clean reported 6 in, 6 kept, 0 rejected" in line
    _untouched(line, tmp_path / "out", before)


def test_a_release_much_smaller_than_the_last_is_refused_in_one_line(tmp_path, previous):
    before = _setup(tmp_path, previous)
    pairs = [{"instruction": f"Question number {i} about rivers?", "output": None if i > 1 else f"Answer {i}."}
             for i in range(6)]  # four rows rejected: 2 of the earlier release's 6 remain
    (tmp_path / "in" / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    line = _failure(_cli(tmp_path, "run", "job.yaml", "--set", "output.max_shrink=0.5"))
    assert ("sftforge: error: guard: release r2 would hold 2 rows, fewer than output.max_shrink=0.5 of the 6 rows "
            "of r1 (LATEST); use --force to publish it anyway") in line
    _untouched(line, tmp_path / "out", before)
