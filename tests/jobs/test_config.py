"""Config loading and validation: one clear message naming the key, before Ray starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sftforge.jobs.cli import main
from sftforge.jobs.config import ConfigError, load_config


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "pairs.jsonl"
    path.parent.mkdir()
    path.write_text('{"instruction": "Say hi.", "output": "Hi!"}\n', encoding="utf-8")
    return path


def write_config(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def base_config(data_file: Path) -> dict:
    return {
        "release": "r1",
        "inputs": [{"path": "data/pairs.jsonl", "kind": "instruction"}],
        "output": {"dir": "out"},
        "split": {"ratios": {"train": 0.7, "test": 0.3}},
    }


def test_valid_config_resolves_relative_paths(tmp_path, data_file):
    config = load_config(write_config(tmp_path, base_config(data_file)))
    assert config.inputs[0].path == str(data_file)
    assert config.output.dir == str(tmp_path / "out")
    assert config.split.ratios == {"train": 0.7, "test": 0.3}


def test_unknown_key_is_named(tmp_path, data_file):
    data = base_config(data_file)
    data["output"]["shard_size"] = 10
    with pytest.raises(ConfigError, match=r"output\.shard_size: unknown key"):
        load_config(write_config(tmp_path, data))


def test_wrong_type_is_named(tmp_path, data_file):
    data = base_config(data_file)
    data["output"]["shard_rows"] = "many"
    with pytest.raises(ConfigError, match=r"output\.shard_rows"):
        load_config(write_config(tmp_path, data))


def test_missing_input_path_is_named(tmp_path, data_file):
    data = base_config(data_file)
    data["inputs"].append({"path": "data/nothing-*.parquet", "kind": "document"})
    with pytest.raises(ConfigError, match=r"inputs\[1\]\.path: nothing matches"):
        load_config(write_config(tmp_path, data))


def test_ratios_that_do_not_sum_to_one(tmp_path, data_file):
    data = base_config(data_file)
    data["split"]["ratios"] = {"train": 0.7, "test": 0.2}
    with pytest.raises(ConfigError, match=r"split\.ratios"):
        load_config(write_config(tmp_path, data))


def test_set_overrides_parse_yaml_values(tmp_path, data_file):
    path = write_config(tmp_path, base_config(data_file))
    config = load_config(path, ["output.shard_rows=5", "split.ratios={train: 0.5, test: 0.5}"])
    assert config.output.shard_rows == 5
    assert config.split.ratios == {"train": 0.5, "test": 0.5}


def test_malformed_override(tmp_path, data_file):
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(write_config(tmp_path, base_config(data_file)), ["output.shard_rows"])


def test_invalid_yaml(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("inputs: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_bad_release_id(tmp_path, data_file):
    data = base_config(data_file)
    data["release"] = "../escape"
    with pytest.raises(ConfigError, match="release"):
        load_config(write_config(tmp_path, data))


def test_config_hash_ignores_release_id(tmp_path, data_file):
    path = write_config(tmp_path, base_config(data_file))
    first = load_config(path)
    second = load_config(path, ["release=r2"])
    assert first.config_hash() == second.config_hash()
    assert first.config_hash() != load_config(path, ["output.shard_rows=7"]).config_hash()


def test_cli_validate_ok(tmp_path, data_file, capsys):
    assert main(["validate", str(write_config(tmp_path, base_config(data_file)))]) == 0
    assert "valid" in capsys.readouterr().out


def test_cli_exit_code_2_without_traceback(tmp_path, data_file):
    data = base_config(data_file)
    data["split"]["ratios"] = {"train": 0.9}
    data["bogus"] = 1
    path = write_config(tmp_path, data)
    proc = subprocess.run([sys.executable, "-m", "sftforge.jobs.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "bogus: unknown key" in proc.stderr
    assert "split.ratios" in proc.stderr


def test_nested_paths_resolve_against_the_config_folder(tmp_path, data_file):
    data = base_config(data_file)
    data["quality"] = {"classifier": {"path": "models/quality.bin"}}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "quality.bin").write_bytes(b"")
    config = load_config(write_config(tmp_path, data))
    assert config.quality.classifier.path == str(tmp_path / "models" / "quality.bin")


@pytest.mark.parametrize("output", ["data", "data/releases", "data/../data/sub"])
def test_output_inside_an_input_folder_is_refused(tmp_path, data_file, output):
    data = base_config(data_file)
    data["inputs"] = [{"path": "data/**/*.jsonl", "kind": "instruction"}]  # '**' is recursive, as in the reader
    data["output"] = {"dir": output}
    with pytest.raises(ConfigError, match="is inside inputs\\[0\\].path"):
        load_config(write_config(tmp_path, data))


def test_output_inside_an_input_reached_through_a_link_is_refused(tmp_path, data_file):
    (tmp_path / "link").symlink_to(tmp_path / "data")
    data = {**base_config(data_file), "inputs": [{"path": "data", "kind": "instruction"}],
            "output": {"dir": "link/out"}}
    with pytest.raises(ConfigError, match="is inside inputs"):
        load_config(write_config(tmp_path, data))


def test_recursive_glob_is_accepted(tmp_path, data_file):
    data = {**base_config(data_file), "inputs": [{"path": "**/pairs.jsonl", "kind": "instruction"}],
            "output": {"dir": str(tmp_path.parent / f"{tmp_path.name}-out")}}
    with pytest.raises(ConfigError, match="is inside inputs"):  # '**' from the config's folder covers out/
        load_config(write_config(tmp_path, {**data, "output": {"dir": "out"}}))
    assert load_config(write_config(tmp_path, data)).inputs[0].path.endswith("**/pairs.jsonl")


@pytest.mark.parametrize("release", ["LATEST", "latest", ".hidden", "_tmp"])
def test_reserved_and_hidden_release_ids_are_refused(tmp_path, data_file, release):
    with pytest.raises(ConfigError, match="release"):
        load_config(write_config(tmp_path, {**base_config(data_file), "release": release}))


def test_bad_set_value_is_one_config_line(tmp_path, data_file):
    with pytest.raises(ConfigError, match=r"--set 'split.ratios=\[unclosed': the value is not valid YAML"):
        load_config(write_config(tmp_path, base_config(data_file)), ["split.ratios=[unclosed"])


def test_credentials_in_the_endpoint_url_are_refused(tmp_path, data_file):
    data = {**base_config(data_file), "llm": {"base_url": "http://user:secret@127.0.0.1:8000/v1", "model": "m"}}
    with pytest.raises(ConfigError, match="llm.base_url holds a user name or password") as info:
        load_config(write_config(tmp_path, data))
    assert "secret" not in str(info.value)
