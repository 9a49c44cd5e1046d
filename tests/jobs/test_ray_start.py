"""Starting Ray quietly: what native code writes during start-up is held, and shown only on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
import warnings
from pathlib import Path

import pytest
import yaml
from sftforge.jobs.ray_start import silence_ray_warnings

SCRIPT = textwrap.dedent("""
    import os, sys
    from sftforge.jobs.ray_start import native_stderr_held
    try:
        with native_stderr_held():
            os.write(2, b"held line\\n")
            if sys.argv[1] == "fail":
                raise RuntimeError("start failed")
    except RuntimeError:
        pass
    os.write(2, b"after\\n")
""")


@pytest.mark.parametrize("outcome", ["ok", "fail"])
def test_native_stderr_is_dropped_on_success_and_replayed_on_failure(outcome):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, outcome], capture_output=True, text=True, check=True)
    expected = "after\n" if outcome == "ok" else "held line\nafter\n"
    assert proc.stderr == expected


def test_ray_api_warnings_are_ignored_and_others_are_not():
    from ray.util.annotations import RayDeprecationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_ray_warnings()
        warnings.warn("ray says", RayDeprecationWarning, stacklevel=1)
        warnings.warn("ours", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["ours"]  # catch_warnings restores the filters afterwards


def _processes_with(marker: str) -> list[str]:
    """Command lines of the live processes whose environment holds ``marker`` (inherited by every child)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append((environ.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.ray
@pytest.mark.parametrize("min_rows", [0, 1000])
def test_the_command_exits_with_its_code_and_leaves_no_process_of_the_ray_it_started(tmp_path, min_rows):
    (tmp_path / "in").mkdir()
    rows = [{"instruction": f"Question {i} about rivers?", "output": f"Answer {i} is complete."} for i in range(5)]
    (tmp_path / "in" / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    job = {"release": "r1", "inputs": [{"path": "in", "kind": "instruction"}],
           "output": {"dir": "out", "min_rows": min_rows}, "split": {"ratios": {"train": 1.0}},
           "ray": {"num_cpus": 1}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job), encoding="utf-8")
    marker = f"SFTFORGE_TEST_MARKER={uuid.uuid4().hex}"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "SFTFORGE_LOG_DIR": str(tmp_path / "logs"),
           marker.split("=")[0]: marker.split("=")[1]}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-m", "sftforge.jobs.cli", "run", "job.yaml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    if min_rows:
        assert proc.returncode == 1 and "sftforge: error:" in proc.stderr, proc.stderr[-3000:]
        assert not (tmp_path / "out" / "LATEST").exists()
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "published" in proc.stderr and (tmp_path / "out" / "r1" / "_SUCCESS").exists()
    assert _processes_with(marker) == []
