"""Every failure the CLI meets ends as one line, with the log file that holds the full traceback."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sftforge.jobs.accounting import AccountingError
from sftforge.jobs.errors import EXIT_FAILED, EXIT_USAGE, describe, run_handled
from sftforge.operators.read.errors import InputError


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"SFTFORGE_LOG_DIR": str(tmp_path / "logs"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "sftforge.jobs.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _job(tmp_path: Path, **extra) -> str:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "pairs.jsonl").write_text('{"instruction": "Hi?", "output": "Hi!"}\n', encoding="utf-8")
    data = {"release": "r1", "inputs": [{"path": "data", "kind": "instruction"}], "output": {"dir": "out"},
            "split": {"ratios": {"train": 1.0}}, **extra}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return "job.yaml"


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    line = lines[0]
    assert line.startswith("sftforge: error: ")
    log = line.rsplit("(full traceback: ", 1)[1].rstrip(")")
    assert "Traceback" in Path(log).read_text(encoding="utf-8")
    return line


@pytest.mark.parametrize(("args", "extra", "expected"), [
    (["validate", "job.yaml", "--set", "split.ratios=[unclosed"], {}, "config: --set 'split.ratios=[unclosed'"),
    (["validate", "job.yaml"], {"release": "LATEST"}, "config: "),
    (["run", "job.yaml"], {"output": {"dir": "data/out"}}, "is inside inputs[0].path"),
    (["run", "job.yaml"], {"inputs": [{"path": "missing/*.jsonl", "kind": "instruction"}]}, "nothing matches"),
    (["validate", "job.yaml"], {"llm": {"base_url": "http://u:p@127.0.0.1:9/v1", "model": "m"}}, "llm.base_url"),
])
def test_usage_and_config_failures_exit_2_with_one_line(tmp_path, args, extra, expected):
    _job(tmp_path, **extra)
    proc = _cli(tmp_path, *args)
    assert proc.returncode == EXIT_USAGE
    assert expected in _one_error_line(proc)


def test_verbose_adds_the_traceback(tmp_path):
    _job(tmp_path, release="LATEST")
    proc = _cli(tmp_path, "-v", "validate", "job.yaml")
    assert proc.returncode == EXIT_USAGE and "Traceback" in proc.stderr


@pytest.mark.parametrize(("error", "expected"), [
    (OSError(errno.ENOSPC, "No space left on device", "/rel/part-00000.parquet"),
     "disk full writing /rel/part-00000.parquet (No space left on device); nothing was published"),
    (PermissionError(errno.EACCES, "Permission denied", "/rel"), "permission denied on /rel (Permission denied)"),
    (InputError("/in/a.jsonl.gz", "cannot read the file (truncated)"), "input: /in/a.jsonl.gz"),
    (AccountingError("row accounting failed:\n  total: 3 read != 2 written"),
     "accounting: row accounting failed: total: 3 read != 2 written; nothing was published"),
])
def test_runtime_failures_exit_1_and_say_what_is_untouched(error, expected):
    message, code = describe(error)
    assert code == EXIT_FAILED and expected in message and "\n" not in message
    assert "LATEST are untouched" in message


def test_run_handled_writes_the_log_and_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SFTFORGE_LOG_DIR", str(tmp_path))

    def fail(_args):
        raise OSError(errno.ENOSPC, "No space left on device", "/full/disk")

    assert run_handled(fail, None) == EXIT_FAILED
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("sftforge: error: disk full writing /full/disk") and str(tmp_path) in line


def test_disk_full_without_a_file_name_names_the_output_folder():
    message, code = describe(OSError(errno.ENOSPC, "No space left on device"), "/data/out")
    assert code == EXIT_FAILED
    assert message.startswith("disk full writing into /data/out (No space left on device); "
                              "nothing was published to /data/out; earlier releases and LATEST are untouched")
