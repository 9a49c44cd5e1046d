"""Releases load with the real ``datasets`` package (by folder, by config, by file type) and their
``dataset_info.json`` follows LLaMA-Factory's documented alpaca / sharegpt description."""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import pyarrow as pa
import pytest
import yaml
from sftforge.jobs.release.card import CARD, DATASET_INFO, card_features, size_category, write_card
from sftforge.jobs.release.layout import split_files
from sftforge.jobs.release.writer import ReleaseWriter
from sftforge.operators.write.formats import OutputConfig

from tests.jobs.release.release_rows import final_rows

datasets.disable_progress_bars()


def _release(tmp_path: Path, sft_format: str, **output) -> Path:
    import ray

    config = OutputConfig(
        dir=str(tmp_path / "out"),
        sft_format=sft_format,
        shard_rows=3,
        card={"license": "cc-by-4.0", "description": "Rivers, questions and answers."},
        **output,
    )
    writer = ReleaseWriter(config, "r1", kept_columns=("id", "domain", "n"))
    counts = writer.write(ray.data.from_arrow(final_rows()).repartition(3))
    write_card(writer.staging_dir, config, "r1", counts.instructions_by_split, counts.documents_by_split)
    return writer.publish({})


def _load(*args, tmp_path, **kwargs):
    return datasets.load_dataset(*args, cache_dir=str(tmp_path / "hf-cache"), **kwargs)


@pytest.fixture(scope="module", params=["messages", "alpaca", "sharegpt", "text"])
def release(request, ray_session, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"card-{request.param}")
    return request.param, _release(folder, request.param), folder


def test_card_header_names_every_split_and_the_config_description(release):
    _fmt, path, _ = release
    text = (path / CARD).read_text(encoding="utf-8")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == "cc-by-4.0" and header["size_categories"] == ["n<1K"]
    assert set(header["language"]) == {"en", "zh"}
    assert "Rivers, questions and answers." in text
    configs = {c["config_name"]: c for c in header["configs"]}
    assert set(configs) == {"default", "documents"}
    assert configs["default"]["data_files"] == [
        {"split": s, "path": f"parquet/{s}/*.parquet"} for s in ("test", "train", "validation")
    ]
    assert configs["documents"]["data_files"] == [
        {"split": "train", "path": "documents/parquet/train/*.parquet"}
    ]
    # The JSONL trees have their own cards (one builder per card), with the same features.
    for tree in ("jsonl", "documents/jsonl"):
        own = yaml.safe_load((path / tree / CARD).read_text(encoding="utf-8").split("---\n")[1])
        assert own["configs"][0]["data_files"][0]["path"].startswith(("test/", "train/"))


def test_datasets_loads_the_release_folder_per_config(release):
    _fmt, path, folder = release
    sft = _load(str(path), tmp_path=folder)
    rows = sum(len(part) for part in sft.values())
    written = sum(len(split_files(path, "parquet", s)) for s in sft)
    assert set(sft) == {"train", "validation", "test"} and written > 3
    # Every SFT row and no document: documents/train is not mixed into train.
    assert rows == 42
    as_jsonl = _load(str(path / "jsonl"), tmp_path=folder)
    assert as_jsonl["train"].features == sft["train"].features
    assert as_jsonl["train"].to_list() == sft["train"].to_list()
    documents = _load(str(path), "documents", tmp_path=folder)
    assert sum(len(part) for part in documents.values()) == 6
    assert documents["train"].column_names[0] == "text"
    # Kept source fields: one string column each, "" where the row had none.
    row = next(row for row in sft["train"].to_list() if row["id"] == "src-1")
    assert (row["domain"], row["n"]) == ("geo", "1")
    assert all(isinstance(r["id"], str) for r in sft["train"].to_list())


def test_datasets_loads_by_file_type(release):
    _fmt, path, folder = release
    by_type = _load("parquet", data_dir=str(path / "parquet"), tmp_path=folder)
    assert set(by_type) == {"train", "validation", "test"}
    # Bare, without the card: alpaca's history is [] in whole shards, yet the first shard types it.
    plain = _load("json", data_files=str(path / "jsonl" / "train" / "*.jsonl"), tmp_path=folder)
    assert plain["train"].features == by_type["train"].features


def test_jsonl_shards_have_the_same_keys_and_json_types(release):
    """Same keys in the same order on every line; one JSON type per key. An empty string is "" and only a
    number may be null (JSON has no typed null); the first shard opens with a value of every type."""
    import pyarrow.parquet as pq

    _, path, _ = release
    keys, kinds = set(), {}
    for shard in split_files(path, "jsonl", "train"):
        for line in shard.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            keys.add(tuple(record))
            for key, value in record.items():
                kinds.setdefault(key, set()).add(type(value).__name__)
    assert len(keys) == 1, keys
    arrow = pq.read_schema(split_files(path, "parquet", "train")[0])
    for key, seen in kinds.items():
        nullable = arrow.field(key).type in (pa.float64(), pa.int64())
        assert len(seen - {"NoneType"}) == 1 and ("NoneType" not in seen or nullable), (key, seen)


def test_card_features_match_what_datasets_reads_from_parquet(release):
    import pyarrow.parquet as pq

    _, path, _ = release
    arrow = pq.read_schema(split_files(path, "parquet", "train")[0]).remove_metadata()
    assert datasets.Features._from_yaml_list(card_features(arrow)) == datasets.Features.from_arrow_schema(
        arrow
    )


def _llama_factory_dataset(release: Path, entry: dict, tmp_path: Path):
    """Loads a dataset description the way LLaMA-Factory's loader does for a local ``file_name``: every
    file of the folder, one file type, that type's ``datasets`` builder, split ``train``."""
    local = release / entry["file_name"]
    files = [local / name for name in os.listdir(local)] if local.is_dir() else [local]
    kinds = {p.suffix.lstrip(".") for p in files}
    assert len(kinds) == 1, f"File types should be identical: {kinds}"
    builder = {"parquet": "parquet", "json": "json", "jsonl": "json"}[kinds.pop()]
    return _load(builder, data_files=[str(f) for f in files], split="train", tmp_path=tmp_path)


def test_dataset_info_follows_llama_factory_descriptions(release):
    fmt, path, folder = release
    info = json.loads((path / DATASET_INFO).read_text())
    assert set(info) == {f"sftforge_{s}" for s in ("train", "validation", "test")} | {
        "sftforge_documents_train"
    }
    for name, entry in info.items():
        dataset = _llama_factory_dataset(path, entry, folder)
        columns = entry["columns"]
        assert set(columns.values()) <= set(dataset.column_names)
        if name.startswith("sftforge_documents") or fmt == "text":
            assert set(columns) == {"prompt"}
            assert all(row[columns["prompt"]].strip() for row in dataset)
        elif entry.get("formatting", "alpaca") == "alpaca":
            for row in dataset:
                assert row[columns["prompt"]] and row[columns["response"]]
                assert isinstance(row[columns["query"]], str) and isinstance(row[columns["system"]], str)
                assert all(len(pair) == 2 and all(pair) for pair in row[columns["history"]])
            assert any(row[columns["history"]] for row in dataset) or name != "sftforge_train"
        else:
            tags = {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "system_tag": "system",
                **entry.get("tags", {}),
            }
            for row in dataset:
                turns = row[columns["messages"]]
                if turns[0][tags["role_tag"]] == tags["system_tag"]:
                    turns = turns[1:]
                roles = [turn[tags["role_tag"]] for turn in turns]
                # Users at odd positions, the assistant at even ones (1-based), ending with the assistant.
                assert roles == [tags["user_tag"], tags["assistant_tag"]] * (len(roles) // 2) and roles
                assert all(turn[tags["content_tag"]] for turn in turns)


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 250_000, 3_000_000_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "100K<n<1M",
        "n>1B",
    ]


def test_jsonl_only_release_loads_typed_through_its_card(ray_session, tmp_path):
    path = _release(tmp_path, "alpaca", file_formats=["jsonl"])
    header = yaml.safe_load((path / CARD).read_text(encoding="utf-8").split("---\n")[1])
    assert header["configs"][0]["data_files"][0]["path"] == "jsonl/test/*.jsonl"
    sft = _load(str(path), tmp_path=tmp_path)
    assert sft["train"].features["history"] == datasets.List(datasets.List(datasets.Value("string")))
    assert sum(len(part) for part in sft.values()) == 42
    info = json.loads((path / DATASET_INFO).read_text())
    assert info["sftforge_train"]["file_name"] == "jsonl/train"
    # Without the card, a loader that takes the files in name order types history from the first shard.
    # (LLaMA-Factory lists a folder in directory order, hence Parquet in dataset_info when written.)
    shards = str(path / "jsonl" / "train" / "*.jsonl")
    bare = _load("json", data_files=shards, split="train", tmp_path=tmp_path)
    assert bare.features["history"] == datasets.List(datasets.List(datasets.Value("string")))
    assert bare.to_list() == sft["train"].to_list()
