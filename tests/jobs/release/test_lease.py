from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from fsspec.implementations.local import LocalFileSystem
from sftforge.jobs.release.lease import ReleaseLease, ReleaseLocked, remove_dead_locks


def test_a_second_run_of_the_same_release_is_refused_until_the_first_lets_go(tmp_path):
    fs = LocalFileSystem()
    first = ReleaseLease(fs, str(tmp_path), "r1", "r1-a")
    first.acquire()
    with pytest.raises(ReleaseLocked, match="being written by another run"):
        ReleaseLease(fs, str(tmp_path), "r1", "r1-b").acquire()
    ReleaseLease(fs, str(tmp_path), "r2", "r2-a").acquire()  # another release id is free
    first.release()
    second = ReleaseLease(fs, str(tmp_path), "r1", "r1-b")
    second.acquire()
    assert second.holds()
    second.release()


def test_the_lock_of_a_dead_run_is_taken_over(tmp_path):
    fs = LocalFileSystem()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    import socket

    (tmp_path / ".lock-r1").write_text(json.dumps(
        {"token": "r1-dead", "host": socket.gethostname(), "pid": int(gone.stdout), "expires": time.time() + 999}
    ))
    (tmp_path / ".lock-r2").write_text(json.dumps({"token": "r2-old", "host": "elsewhere", "pid": 1, "expires": 0}))
    (tmp_path / ".lock-r3").write_text(json.dumps(
        {"token": "r3-live", "host": "elsewhere", "pid": 1, "expires": time.time() + 999}
    ))
    lease = ReleaseLease(fs, str(tmp_path), "r1", "r1-new")
    lease.acquire()
    assert lease.holds()
    lease.release()
    assert [p.rsplit("/", 1)[-1] for p in remove_dead_locks(fs, str(tmp_path))] == [".lock-r2"]
    with pytest.raises(ReleaseLocked, match="elsewhere"):
        ReleaseLease(fs, str(tmp_path), "r3", "r3-new").acquire()


def test_the_lease_is_renewed_while_the_run_lives(tmp_path):
    fs = LocalFileSystem()
    lease = ReleaseLease(fs, str(tmp_path), "r1", "r1-a", lease_s=0.3)
    lease.acquire()
    first = json.loads((tmp_path / ".lock-r1").read_text())["expires"]
    deadline = time.monotonic() + 30
    while json.loads((tmp_path / ".lock-r1").read_text())["expires"] == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads((tmp_path / ".lock-r1").read_text())["expires"] > first
    lease.release()
    assert not (tmp_path / ".lock-r1").exists()
