"""README "Nightly refresh": its job.yaml validates and each of its commands is one sftforge accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from sftforge.jobs.cli import build_parser, main
from sftforge.jobs.config import load_config

README = Path(__file__).resolve().parents[3] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Nightly refresh\n", 1)[1].split("\n## ", 1)[0]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", _section(), re.DOTALL | re.MULTILINE)


def _commands() -> list[list[str]]:
    lines = [line.split("  #", 1)[0].strip() for block in _blocks("bash") for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line]


def test_the_nightly_job_validates(tmp_path, monkeypatch, capsys):
    (config_text,) = _blocks("yaml")
    (tmp_path / "drops" / "2026-12-03").mkdir(parents=True)
    (tmp_path / "drops" / "2026-12-03" / "part-0.jsonl").write_text('{"instruction": "a", "output": "b"}\n')
    (tmp_path / "job.yaml").write_text(config_text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert ["sftforge", "validate", "job.yaml"] in _commands()
    assert main(["validate", "job.yaml"]) == 0
    assert "valid" in capsys.readouterr().out
    config = load_config(tmp_path / "job.yaml")
    assert config.dedup.against == ["auto"]


@pytest.mark.parametrize("command", _commands(), ids=lambda command: " ".join(command[1:3]))
def test_each_command_parses(command):
    assert command[0] == "sftforge"
    args = build_parser().parse_args(command[1:])
    assert args.command == command[1]
    if "--refresh" in command:
        assert args.refresh is True
