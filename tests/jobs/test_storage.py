from __future__ import annotations

import pytest
import yaml
from sftforge.jobs.config import ConfigError, load_config
from sftforge.jobs.storage import inside_ray_package, missing_filesystem, url_scheme


def test_url_schemes():
    assert url_scheme("s3://bucket/key") == "s3"
    assert url_scheme("/data/x.parquet") is None and url_scheme("relative/x") is None
    assert missing_filesystem("/local/path") is None and missing_filesystem("file:///x") is None
    assert missing_filesystem("memory://x") is None


def test_a_missing_filesystem_package_is_named():
    pytest.importorskip("s3fs")
    assert missing_filesystem("s3://bucket/releases") is None
    message = missing_filesystem("gs://bucket/releases")
    if message is not None:  # gcsfs is not a dependency; where it happens to be installed, gs:// is fine
        assert "gcsfs" in message and "pip install" in message
    assert "no filesystem is known" in missing_filesystem("nosuchscheme://x/y")


def _write_config(folder, output_dir, input_path):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pairs.jsonl").write_text('{"instruction": "q", "output": "a"}\n')
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump({
        "release": "r1",
        "inputs": [{"path": input_path, "kind": "instruction"}],
        "output": {"dir": output_dir},
        "split": {"ratios": {"train": 1.0}},
    }))
    return path


def test_relative_paths_in_a_ray_working_dir_copy_are_refused(tmp_path):
    package = tmp_path / "session" / "runtime_resources" / "working_dir_files" / "_ray_pkg_0123abcd"
    assert inside_ray_package(str(package / "job.yaml"))
    with pytest.raises(ConfigError, match="output.dir 'releases' is relative.*absolute path on shared storage"):
        load_config(_write_config(package, "releases", str(package / "pairs.jsonl")))
    with pytest.raises(ConfigError, match=r"inputs\[0\].path 'pairs.jsonl' is relative"):
        load_config(_write_config(package, str(tmp_path / "out"), "pairs.jsonl"))
    assert load_config(_write_config(package, str(tmp_path / "out"), str(package / "pairs.jsonl")))
    # Outside a Ray package, relative paths resolve against the config's folder as before.
    plain = tmp_path / "plain"
    assert load_config(_write_config(plain, "releases", "pairs.jsonl")).output.dir == str(plain / "releases")


def test_an_unknown_url_scheme_is_a_config_error_before_ray(tmp_path):
    with pytest.raises(ConfigError, match="nosuchscheme"):
        load_config(_write_config(tmp_path, "nosuchscheme://bucket/out", "pairs.jsonl"))
