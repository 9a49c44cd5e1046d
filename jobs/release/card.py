"""The release's dataset card (``README.md``) and LLaMA-Factory's ``dataset_info.json``.

The card's YAML header follows the Hugging Face dataset card layout: ``configs`` name the files of every
split (one config per file format and kind of record, so a loader never mixes Parquet with JSONL or
documents with SFT records), and ``dataset_info`` gives each config's features, taken from the Parquet
schema, so that ``datasets`` types the JSONL shards exactly as the Parquet ones. ``dataset_info.json``
describes every split folder for LLaMA-Factory (``dataset_dir`` = the release folder).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from sftforge.jobs.release.layout import relative_pattern, split_files
from sftforge.operators import schema
from sftforge.operators.write.formats import OutputConfig
from sftforge.operators.write.schemas import CONVERSATIONS, HISTORY, METADATA_SCHEMA, RECORD_SCHEMAS

CARD = "README.md"
DATASET_INFO = "dataset_info.json"

_SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` bucket of a row count."""
    for bound, name in _SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "n>1B"


def _dtype(type_: pa.DataType) -> str:
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "string"
    if pa.types.is_boolean(type_):
        return "bool"
    if pa.types.is_integer(type_):
        return str(type_)
    if pa.types.is_floating(type_):
        return f"float{type_.bit_width}"
    raise ValueError(f"no dataset card feature for Arrow type {type_}")


def _inner(type_: pa.DataType) -> Any:
    """A feature as it appears inside a list: a bare dtype, a list, or a struct's field list."""
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return {"list": _inner(type_.value_type)}
    if pa.types.is_struct(type_):
        return [_field(type_.field(i)) for i in range(type_.num_fields)]
    return _dtype(type_)


def _field(field: pa.Field) -> dict[str, Any]:
    if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
        return {"name": field.name, "list": _inner(field.type.value_type)}
    if pa.types.is_struct(field.type):
        return {"name": field.name, "struct": _inner(field.type)}
    return {"name": field.name, "dtype": _dtype(field.type)}


def card_features(arrow_schema: pa.Schema) -> list[dict[str, Any]]:
    """The YAML ``features`` list of a dataset card for an Arrow schema (the ``datasets`` layout)."""
    return [_field(field) for field in arrow_schema]


def preferred_format(output: OutputConfig) -> str:
    """The file format the release's own card and ``dataset_info.json`` name: Parquet when written."""
    return "parquet" if "parquet" in output.file_formats else output.file_formats[0]


def _configs(release: Path, output: OutputConfig, splits: dict[str, int], documents: dict[str, int]):
    """(file format, documents?, {split: rows}) of every tree of record files the release has."""
    found = []
    for is_documents, counts in ((False, splits), (True, documents)):
        for fmt in output.file_formats:
            present = {s: n for s, n in counts.items() if split_files(release, fmt, s, is_documents)}
            if present:
                found.append((fmt, is_documents, present))
    return found


def _schema_of(release: Path, fmt: str, split: str, is_documents: bool, output: OutputConfig) -> pa.Schema:
    """The records' schema: from a Parquet shard of the same records when there is one."""
    parquet = split_files(release, "parquet", split, is_documents)
    if parquet:
        return pq.read_schema(parquet[0]).remove_metadata()
    first = split_files(release, fmt, split, is_documents)[0]
    with open(first, encoding="utf-8") as handle:
        keys = list(json.loads(handle.readline()))
    base = RECORD_SCHEMAS["documents" if is_documents else output.sft_format]
    known = {f.name: f for f in (*base, *METADATA_SCHEMA)}
    return pa.schema([known.get(key, pa.field(key, pa.string())) for key in keys])


def languages(release: Path, splits: list[str]) -> list[str]:
    """The languages of the SFT records (``lang`` column), commonest first; empty without the column."""
    counts: Counter[str] = Counter()
    for split in splits:
        for path in split_files(release, "parquet", split):
            if schema.LANG in pq.read_schema(path).names:
                for value in pq.read_table(path, columns=[schema.LANG]).column(0).to_pylist():
                    if value:
                        counts[value] += 1
    return [lang for lang, _ in counts.most_common()]


def render_card(
    release: Path, output: OutputConfig, release_id: str, trees: list, langs: list[str], base: str = ""
) -> str:
    """A dataset card: YAML header (configs, features, licence, languages, size), then what is where.

    Args:
        release: The release folder.
        output: The output config.
        release_id: The release id.
        trees: ``(file format, documents?, {split: rows})`` of the trees this card describes; the SFT tree
            becomes the ``default`` config, the document tree the ``documents`` config.
        langs: Languages of the records.
        base: The card's folder relative to the release (file patterns are relative to it).
    """
    configs, infos = [], []
    for fmt, is_documents, present in trees:
        name = "documents" if is_documents else "default"
        patterns = [relative_pattern(fmt, s, is_documents).removeprefix(base) for s in present]
        entry = {
            "config_name": name,
            "data_files": [{"split": s, "path": p} for s, p in zip(present, patterns)],
        }
        if name == "default":
            entry["default"] = True
        configs.append(entry)
        first = next(iter(present))
        infos.append(
            {
                "config_name": name,
                "features": card_features(_schema_of(release, fmt, first, is_documents, output)),
                "splits": [{"name": s, "num_examples": n} for s, n in present.items()],
            }
        )
    card = output.card
    total = sum(n for _, _, present in trees for n in present.values())
    header: dict[str, Any] = {
        "pretty_name": card.pretty_name or release_id,
        "license": card.license,
        "language": langs or ["multilingual"],
        "size_categories": [size_category(total)],
        "task_categories": ["text-generation"],
        "tags": ["sft", "sftforge", output.sft_format],
        "configs": configs,
        "dataset_info": infos,
    }
    lines = [
        "---",
        yaml.safe_dump(header, allow_unicode=True, sort_keys=False).rstrip(),
        "---",
        "",
        f"# {card.pretty_name or release_id}",
        "",
    ]
    if card.description:
        lines += [card.description.strip(), ""]
    lines += [
        (
            f"Instruction records in the `{output.sft_format}` format, written by sftforge (release "
            f"`{release_id}`)."
        ),
        "",
        "| config | split | rows | files |",
        "|---|---|---:|---|",
    ]
    for entry, info in zip(configs, infos):
        for files, split in zip(entry["data_files"], info["splits"]):
            lines.append(
                f"| {entry['config_name']} | {split['name']} | {split['num_examples']} | `{files['path']}` |"
            )
    lines += [
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'records = load_dataset("path/to/this/folder")  # the default config',
        "```",
        "",
    ]
    if not base:
        lines += [
            (
                "`report.html` shows the funnel, the rejection reasons and the distributions of this "
                "release; `manifest.json` lists every file with its sha256."
            ),
            "",
        ]
    return "\n".join(lines)


def llama_factory_entry(output: OutputConfig, folder: str, documents: bool) -> dict[str, Any]:
    """One ``dataset_info.json`` entry for a split folder, per LLaMA-Factory's data/README.md."""
    if documents or output.sft_format == "text":
        return {"file_name": folder, "columns": {"prompt": schema.TEXT}}
    if output.sft_format == "alpaca":
        return {
            "file_name": folder,
            "columns": {
                "prompt": schema.INSTRUCTION,
                "query": schema.INPUT,
                "response": schema.OUTPUT,
                "system": schema.SYSTEM,
                "history": HISTORY,
            },
        }
    if output.sft_format == "sharegpt":
        return {
            "file_name": folder,
            "formatting": "sharegpt",
            "columns": {"messages": CONVERSATIONS},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "system_tag": "system",
            },
        }
    return {
        "file_name": folder,
        "formatting": "sharegpt",
        "columns": {"messages": schema.MESSAGES},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": schema.ROLE_USER,
            "assistant_tag": schema.ROLE_ASSISTANT,
            "system_tag": schema.ROLE_SYSTEM,
        },
    }


def dataset_info(
    release: Path, output: OutputConfig, splits: dict[str, int], documents: dict[str, int]
) -> dict[str, Any]:
    """LLaMA-Factory's dataset descriptions: ``sftforge_<split>`` per SFT split folder and
    ``sftforge_documents_<split>`` per document split folder.

    They name the Parquet folders when Parquet is written: LLaMA-Factory loads JSON without features, so
    a JSONL shard whose rows all have an empty list (alpaca ``history``) would be typed apart from the
    others; Parquet files carry their schema.
    """
    preferred = preferred_format(output)
    entries: dict[str, Any] = {}
    for fmt, is_documents, present in _configs(release, output, splits, documents):
        if fmt != preferred:
            continue
        for split in present:
            folder = relative_pattern(fmt, split, is_documents).rsplit("/", 1)[0]
            key = f"sftforge_{'documents_' if is_documents else ''}{split}"
            entries[key] = llama_factory_entry(output, folder, is_documents)
    return entries


def write_card(
    folder: Path, output: OutputConfig, release_id: str, splits: dict[str, int], documents: dict[str, int]
) -> None:
    """Writes ``README.md`` and ``dataset_info.json`` into the release (staging) folder.

    Args:
        folder: The release folder, its record files written.
        output: The output config (format, file formats, ``output.card``).
        release_id: The release id.
        splits: SFT records per split.
        documents: Document records per split.
    """
    folder = Path(folder)
    langs = languages(folder, list(splits))
    trees = _configs(folder, output, splits, documents)
    preferred = preferred_format(output)
    own = [tree for tree in trees if tree[0] == preferred]
    (folder / CARD).write_text(render_card(folder, output, release_id, own, langs), encoding="utf-8")
    # Each other file format's tree gets its own card: ``datasets`` builds every config of a card with one
    # builder, and the card's features type JSONL exactly as Parquet.
    for tree in trees:
        if tree[0] != preferred:
            base = relative_pattern(tree[0], "x", tree[1]).rsplit("x/", 1)[0]
            text = render_card(folder, output, release_id, [tree], langs, base=base)
            (folder / base / CARD).write_text(text, encoding="utf-8")
    info = dataset_info(folder, output, splits, documents)
    (folder / DATASET_INFO).write_text(
        json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
