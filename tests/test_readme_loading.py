"""The README's "Loading a release" snippets work on a real release: datasets for real, XTuner's record
shape (openai_map_fn's documented input) and LLaMA-Factory's dataset_info.json."""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path

import datasets
import pytest
import yaml
from sftforge.jobs.release.card import DATASET_INFO, write_card
from sftforge.jobs.release.writer import ReleaseWriter
from sftforge.operators.write.formats import OutputConfig

from tests.jobs.release.release_rows import final_rows
from tests.jobs.release.test_card import _llama_factory_dataset

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDER = "releases/2026-11-22"


def _snippet(name: str) -> str:
    match = re.search(
        rf"<!-- snippet: {name} -->\n```\w+\n(.*?)\n```", README.read_text(encoding="utf-8"), re.DOTALL
    )
    assert match, f"README has no {name} snippet"
    return match.group(1)


@pytest.fixture(scope="module")
def release(ray_session, tmp_path_factory) -> Path:
    import ray

    folder = tmp_path_factory.mktemp("readme")
    config = OutputConfig(dir=str(folder / "releases"), shard_rows=4)
    writer = ReleaseWriter(config, "2026-11-22", kept_columns=("id", "domain"))
    counts = writer.write(ray.data.from_arrow(final_rows()).repartition(2))
    write_card(
        writer.staging_dir, config, "2026-11-22", counts.instructions_by_split, counts.documents_by_split
    )
    return writer.publish({})


def test_datasets_snippet_runs(release, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    datasets.disable_progress_bars()
    code = _snippet("datasets").replace(PLACEHOLDER, str(release))
    scope: dict = {}
    exec(compile(code, "README.md:datasets", "exec"), scope)  # noqa: S102 - the README's own snippet
    assert set(scope["sft"]) == {"train", "validation", "test"}
    assert scope["same_as_jsonl"]["train"].to_list() == scope["sft"]["train"].to_list()
    assert len(scope["documents"]["train"]) == 6


def test_xtuner_snippet_files_hold_openai_messages(release, tmp_path):
    pattern = re.search(r'data_files=dict\(train="([^"]+)"\)', _snippet("xtuner")).group(1)
    files = sorted(glob.glob(pattern.replace(PLACEHOLDER, str(release))))
    assert len(files) > 1
    records = [
        json.loads(line) for path in files for line in Path(path).read_text(encoding="utf-8").splitlines()
    ]
    for record in records:
        roles = [message["role"] for message in record["messages"]]
        assert all(set(message) == {"role", "content"} for message in record["messages"])
        assert all(
            isinstance(message["content"], str) and message["content"] for message in record["messages"]
        )
        body = roles[1:] if roles[0] == "system" else roles
        assert body == ["user", "assistant"] * (len(body) // 2) and body
    assert any(len(record["messages"]) > 3 for record in records)  # multi-turn rows
    assert any(record["messages"][0]["role"] == "system" for record in records)
    # The loader the snippet names, with its glob and no features, reads every shard as one split,
    # typed as the Parquet files (quality scores are null in whole shards).
    loaded = datasets.load_dataset(
        "json", data_files={"train": pattern.replace(PLACEHOLDER, str(release))}, split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert len(loaded) == len(records)
    parquet = datasets.load_dataset(
        "parquet", data_dir=str(release / "parquet"), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert loaded.features == parquet.features and loaded.to_list() == parquet.to_list()


def test_llama_factory_snippet_names_described_datasets(release, tmp_path):
    settings = yaml.safe_load(_snippet("llama-factory").replace(PLACEHOLDER, str(release)))
    info = json.loads((Path(settings["dataset_dir"]) / DATASET_INFO).read_text(encoding="utf-8"))
    for key in ("dataset", "eval_dataset"):
        entry = info[settings[key]]
        assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages"}
        loaded = _llama_factory_dataset(release, entry, tmp_path)
        assert len(loaded) > 0 and "messages" in loaded.column_names
