"""Small mergeable summaries of released records, for the HTML report's histograms.

The worker that writes a bucket summarises the records it has in hand (``summarize``); the driver merges
the buckets' summaries (``merge``) and never reads a released file for the report. A summary holds, per
output key (``<split>`` or ``documents/<split>``), the exact count of every record length in characters;
the count of quality scores per bin of ``QUALITY_BINS`` equal bins over 0..1; and the count of records
per language. The merged summary draws the same charts as the records themselves would.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.write.schemas import DOCUMENTS, RECORD_SCHEMAS

#: Fields whose text counts in a record's length: every format's fields but the system prompt.
CONTENT_FIELDS = {name for fields in RECORD_SCHEMAS.values() for name in fields.names} - {schema.SYSTEM}
#: Bins of the quality score histogram, equal width from 0 to 1 (a score outside goes to the end bin).
QUALITY_BINS = 20


def empty() -> dict[str, Any]:
    """The summary of no records."""
    return {"lengths": {}, "quality_bins": [0] * QUALITY_BINS, "languages": {}, "rejections": {}}


def content_lengths(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Characters of every string inside each value (strings, lists and structs of them), per row."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    type_ = array.type
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return np.asarray(
            pc.fill_null(pc.utf8_length(array), 0).to_numpy(zero_copy_only=False), dtype=np.int64
        )
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        inner = content_lengths(array.flatten())
        parents = np.asarray(pc.list_parent_indices(array).to_numpy(zero_copy_only=False), dtype=np.int64)
        return np.bincount(parents, weights=inner, minlength=len(array)).astype(np.int64)
    if pa.types.is_struct(type_):
        total = np.zeros(len(array), dtype=np.int64)
        for index in range(type_.num_fields):
            total += content_lengths(array.field(index))
        return total
    return np.zeros(len(array), dtype=np.int64)


def quality_bin_counts(scores: np.ndarray) -> list[int]:
    """Scores per bin, binned exactly as ``svg.bins_of(scores, QUALITY_BINS, 0.0, 1.0)`` bins them."""
    scores = scores[np.isfinite(scores)]
    width = (1.0 - 0.0) / QUALITY_BINS
    index = np.clip(np.trunc((scores - 0.0) / width), 0, QUALITY_BINS - 1).astype(np.int64)
    return [int(n) for n in np.bincount(index, minlength=QUALITY_BINS)]


def summarize(table: pa.Table, key: str) -> dict[str, Any]:
    """The summary of one table of records (an SFT or document record schema) of output ``key``."""
    summary = empty()
    if table.num_rows == 0:
        return summary
    lengths = np.zeros(table.num_rows, dtype=np.int64)
    for name in table.column_names:
        if name in CONTENT_FIELDS:
            lengths += content_lengths(table.column(name))
    values, counts = np.unique(lengths, return_counts=True)
    summary["lengths"][key] = {int(v): int(n) for v, n in zip(values, counts)}
    if schema.QUALITY_SCORE in table.column_names:
        scores = table.column(schema.QUALITY_SCORE).drop_null().to_numpy()
        summary["quality_bins"] = quality_bin_counts(np.asarray(scores, dtype=np.float64))
    if schema.LANG in table.column_names:
        langs = pc.fill_null(table.column(schema.LANG).cast(pa.string()), "")
        languages: Counter = Counter()
        for item in pc.value_counts(langs).to_pylist():
            languages[item["values"] or "unknown"] += item["counts"]
        summary["languages"] = dict(languages)
    return summary


def merge(summaries: list[dict[str, Any] | None]) -> dict[str, Any]:
    """One summary of all records of ``summaries`` (``None`` entries hold no records).

    A summary of a rejects file holds only ``rejections`` (``sftforge.jobs.release.report.reject_summary``).
    """
    from sftforge.jobs.release.report import merge_reject_summaries

    lengths: dict[str, Counter] = {}
    bins = np.zeros(QUALITY_BINS, dtype=np.int64)
    languages: Counter = Counter()
    rejections = []
    for part in summaries:
        if not part:
            continue
        for key, found in part.get("lengths", {}).items():
            lengths.setdefault(key, Counter()).update({int(v): int(n) for v, n in found.items()})
        bins += np.asarray(part.get("quality_bins") or [0] * QUALITY_BINS, dtype=np.int64)
        languages.update(part.get("languages", {}))
        rejections.append(part.get("rejections") or {})
    return {
        "lengths": {key: dict(sorted(found.items())) for key, found in sorted(lengths.items())},
        "quality_bins": [int(n) for n in bins],
        # most rows first; ties by name, so the order does not depend on which bucket came first
        "languages": dict(sorted(languages.items(), key=lambda item: (-item[1], item[0]))),
        "rejections": merge_reject_summaries(rejections),
    }


def reject_files(files: list[dict[str, Any]]) -> list[str]:
    """The ``rejects/`` Parquet files among manifest entries, by path."""
    return sorted(item["path"] for item in files
                  if item["path"].startswith("rejects/") and item["path"].endswith(".parquet"))


def record_files(files: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(output key, path)`` of the record files among manifest entries, one file format per output:
    Parquet where the output has it, JSONL otherwise (rejects and side files are left out)."""
    by_output: dict[str, dict[str, list[str]]] = {}
    for item in files:
        parts = item["path"].split("/")
        documents = parts[0] == DOCUMENTS
        if documents:
            parts = parts[1:]
        if len(parts) != 3 or parts[0] not in ("parquet", "jsonl"):
            continue
        key = f"{DOCUMENTS}/{parts[1]}" if documents else parts[1]
        by_output.setdefault(key, {}).setdefault(parts[0], []).append(item["path"])
    return [
        (key, path)
        for key, formats in sorted(by_output.items())
        for path in sorted(formats.get("parquet") or formats.get("jsonl", []))
    ]


def read_summary(fs, path: str, key: str) -> dict[str, Any]:
    """The summary of one record file (Parquet or JSONL) on fsspec filesystem ``fs``, read back: for
    files copied from an earlier release, which come without one."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    wanted = CONTENT_FIELDS | {schema.QUALITY_SCORE, schema.LANG}
    with fs.open(path, "rb") as handle:
        if path.endswith(".parquet"):
            names = pq.read_schema(handle).names
            table = pq.read_table(handle, columns=[n for n in names if n in wanted])
        else:
            table = pj.read_json(handle)
    return summarize(table, key)


def read_reject_summary(fs, path: str, relative: str) -> dict[str, Any]:
    """The summary of one ``rejects/`` file on ``fs``, read back (``relative``: its path in the release)."""
    import pyarrow.parquet as pq
    from sftforge.jobs.release.report import reject_summary

    with fs.open(path, "rb") as handle:
        names = pq.read_schema(handle).names
        wanted = [schema.REJECT_STAGE, schema.REJECT_REASON, schema.TEXT, schema.INSTRUCTION, schema.OUTPUT]
        table = pq.read_table(handle, columns=[n for n in wanted if n in names])
    return {"rejections": reject_summary(table, relative)}
