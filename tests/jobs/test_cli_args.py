"""The command line behaves like the tools people know: --version, -v/-q anywhere, did-you-mean, inspect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sftforge.jobs.cli import build_parser, main
from sftforge.jobs.config import JobConfig
from sftforge.jobs.did_you_mean import suggest_key
from sftforge.jobs.release.report import write_report

from tests.jobs.release.test_html_report import ACCOUNTING, SECTIONS, _release


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("sftforge 0.")


@pytest.mark.parametrize(
    ("argv", "verbose", "quiet"),
    [
        (["validate", "job.yaml"], False, False),
        (["-v", "validate", "job.yaml"], True, False),
        (["validate", "job.yaml", "-v"], True, False),
        (["run", "--set", "a=1", "--verbose", "job.yaml"], True, False),
        (["-q", "run", "job.yaml"], False, True),
        (["inspect", "out", "-q"], False, True),
    ],
)
def test_verbosity_flags_anywhere(argv, verbose, quiet):
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)


def test_verbose_and_quiet_conflict(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["-v", "validate", "job.yaml", "-q"])
    assert exit_.value.code == 2
    assert "-v and -q" in capsys.readouterr().err


def _config(tmp_path: Path, **extra) -> Path:
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"instruction": "Say hi.", "output": "Hi!"}\n', encoding="utf-8")
    config = {"inputs": [{"path": str(data)}], "output": {"dir": str(tmp_path / "out")}}
    for key, value in extra.items():
        node = config
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_validate_suggests_the_nearest_key(tmp_path, capsys):
    path = _config(tmp_path, **{"output.sft_fromat": "alpaca", "qualty": {}, "zzz": 1})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "output.sft_fromat: unknown key (did you mean 'sft_format'?)" in err
    assert "qualty: unknown key (did you mean 'quality'?)" in err
    assert "zzz: unknown key\n" in err + "\n" and "zzz: unknown key (" not in err


def test_suggest_key_walks_nested_and_listed_models():
    assert suggest_key(JobConfig, ("inputs", 0, "pth")) == "path"
    assert suggest_key(JobConfig, ("output", "text_template", "trun")) == "turn"
    assert suggest_key(JobConfig, ("output", "card", "licence")) == "license"
    assert suggest_key(JobConfig, ("nothing_alike_at_all",)) is None


def test_inspect_prints_funnel_splits_and_samples(tmp_path, capsys):
    folder = _release(tmp_path / "out" / "r1")
    write_report(folder, "r1", ACCOUNTING, SECTIONS, {"train": 30, "validation": 6})
    manifest = {
        "rows": {"instructions_by_split": {"train": 30, "validation": 6}, "documents_by_split": {"train": 4}}
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (tmp_path / "out" / "LATEST").write_text("r1\n", encoding="utf-8")
    assert main(["inspect", str(tmp_path / "out"), "-n", "2"]) == 0
    out = capsys.readouterr().out
    for text in (
        "12345",
        "9876",
        "2469",
        "language",
        "validation",
        "documents/train",
        "parquet 1",
        '"doc_id": "train-0"',
        '"doc_id": "train-1"',
        "A river document.",
    ):
        assert text in out, text
    assert '"doc_id": "train-2"' not in out


def test_inspect_refuses_a_folder_that_is_not_a_release(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 2
    assert "not a release folder" in capsys.readouterr().err
