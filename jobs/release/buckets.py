"""Spreads the prepared rows over buckets and has workers write each bucket's files.

A target's rows (``sft/<split>``, ``documents/<split>``, ``rejects``) go to ``ceil(rows / shard_rows)``
buckets (or ``output.shards``) by their ``doc_id`` hash, so the number of buckets and the rows of each
depend only on the data, never on the cluster or the block layout. A bucket is sorted (key, then JSON
line) and written by one Ray task as ``part-<bucket>.parquet`` / ``.jsonl``; the task reports every file
with its size and sha256. Rows move worker to worker through the object store; the driver holds only
object references and the small results.

Type witnesses: a JSON reader that types columns from the first lines of the first file (``datasets``'
JSON loader) needs to see there every type the output has, or a later file's scores or history cannot be
cast to the ``null`` it inferred. So for every type check of an output (a column or nested value that
is not null, a string that is not date-like: ``sftforge.operators.write.witness``) the row that passes
it and comes first by (``ROW_HASH``, key) is a witness: witnesses go to the output's bucket 0 and are
written first there, the other rows as above. ``survey`` finds each block's candidates while it counts
the rows, so the rule costs no pass of its own, and the witnesses, like the buckets, depend only on the
data. Readers that take the files in name order (``datasets``' globs, the card's configs) thus see every
type in their first lines; a column with no value at all in an output stays untyped (null) in JSON.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from sftforge.jobs.release import distributions
from sftforge.jobs.release.layout import record_dir
from sftforge.jobs.release.report import reject_summary
from sftforge.jobs.release.stream import (
    JSON,
    KEY,
    REJECTS,
    ROW_HASH,
    STREAM_SCHEMA,
    TARGET,
    WITNESS,
    ReleaseError,
)
from sftforge.operators import schema
from sftforge.operators.write.formats import DOCUMENTS, METADATA_SCHEMA, RECORD_SCHEMAS, OutputConfig
from sftforge.operators.write.jsonl import jsonl_bytes
from sftforge.operators.write.shards import ShardWriter

_ONE_FILE = 1 << 62


@dataclass(frozen=True)
class Bucket:
    """One file (per format) of one target; bucket 0 also holds the target's witnesses (their keys)."""

    target: str
    index: int
    of: int
    witnesses: tuple[str, ...] = ()
    prefix: str = "part-"


def plan_buckets(
    rows_by_target: dict[str, int],
    output: OutputConfig,
    witnesses: dict[str, dict[str, tuple[int, str]]] | None = None,
    prefix: str = "part-",
) -> list[Bucket]:
    """Buckets of every target, in a fixed order; the number per target follows from its row count.

    Args:
        rows_by_target: Rows per target.
        output: The output config (``shard_rows`` or ``shards``).
        witnesses: Per target and type check, the (hash, key) of the witness (``merge_surveys``).
        prefix: Start of the files' names.
    """
    plan = []
    for target in sorted(rows_by_target):
        count = output.shards or max(1, math.ceil(rows_by_target[target] / output.shard_rows))
        keys = tuple(sorted({key for _, key in (witnesses or {}).get(target, {}).values()}))
        plan.extend(Bucket(target, index, count, keys if index == 0 else (), prefix) for index in range(count))
    return plan


def survey(block: pa.Table) -> dict[str, Any]:
    """Rows per target of one block, and per target and type check the block's witness candidate.

    Returns:
        ``{"counts": {target: rows}, "witnesses": {target: {check: (hash, key)}}}``.
    """
    counts = count_targets(block)
    found: dict[str, dict[str, tuple[int, str]]] = {}
    if counts and WITNESS in block.column_names:
        marked = block.select([TARGET, KEY, ROW_HASH, WITNESS]).filter(pc.is_valid(block.column(WITNESS)))
        for row in marked.to_pylist():
            checks = found.setdefault(row[TARGET], {})
            order = (row[ROW_HASH], row[KEY])
            for check in row[WITNESS]:
                if check not in checks or order < checks[check]:
                    checks[check] = order
    return {"counts": counts, "witnesses": found}


def merge_surveys(surveys: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, dict[str, tuple]]]:
    """Rows per target and the witnesses (per target and check, the first by hash and key) of all blocks."""
    rows: dict[str, int] = {}
    witnesses: dict[str, dict[str, tuple]] = {}
    for part in surveys:
        for target, count in part["counts"].items():
            rows[target] = rows.get(target, 0) + count
        for target, checks in part["witnesses"].items():
            best = witnesses.setdefault(target, {})
            for check, key in checks.items():
                if check not in best or key < best[check]:
                    best[check] = key
    return rows, witnesses


def count_targets(block: pa.Table) -> dict[str, int]:
    """Rows per target of one block."""
    if block.num_rows == 0:  # an empty Dataset's block may keep the input's columns
        return {}
    return {
        item["values"]: item["counts"] for item in pc.value_counts(block.column(TARGET)).to_pylist()
    }


def partition(block: pa.Table, plan: list[Bucket]) -> list[pa.Table]:
    """Cuts one block into one table per bucket of ``plan`` (many of them empty)."""
    if block.num_rows == 0:
        return [STREAM_SCHEMA.empty_table()] * len(plan)
    first: dict[str, int] = {}
    for position, bucket in enumerate(plan):
        first.setdefault(bucket.target, position)
    targets = block.column(TARGET).to_numpy(zero_copy_only=False)
    hashes = block.column(ROW_HASH).to_numpy(zero_copy_only=False).astype(np.int64)
    ids = np.empty(block.num_rows, dtype=np.int64)
    for target in np.unique(targets) if block.num_rows else []:
        mask = targets == target
        if target not in first:
            raise ReleaseError(f"rows for {target} were not counted before partitioning; refusing to write")
        ids[mask] = first[target] + hashes[mask] % plan[first[target]].of
    witnesses = [key for bucket in plan for key in bucket.witnesses]
    if witnesses:
        # A witness's key names its target, so it goes to bucket 0 of that target.
        chosen = pc.is_in(block.column(KEY), value_set=pa.array(witnesses, pa.large_string()))
        for row in np.flatnonzero(np.asarray(chosen.to_numpy(zero_copy_only=False), dtype=bool)):
            ids[row] = first[targets[row]]
    order = np.argsort(ids, kind="stable")
    ordered = block.take(pa.array(order))
    bounds = np.searchsorted(ids[order], np.arange(len(plan) + 1))
    return [ordered.slice(int(bounds[i]), int(bounds[i + 1] - bounds[i])) for i in range(len(plan))]


def write_bucket(bucket: Bucket, staging_url: str, output: OutputConfig, *pieces: pa.Table) -> dict[str, Any]:
    """Sorts one bucket's rows and writes its files under ``staging_url``; returns files and counts."""
    from fsspec.core import url_to_fs

    # With one bucket in the plan, a partition task's single return value is the whole list of one.
    tables = [table for piece in pieces for table in (piece if isinstance(piece, list) else [piece])]
    tables = [table for table in tables if table.num_rows]
    if not tables:
        return {"files": [], "counts": {}}
    rows = pa.concat_tables(tables)
    rows = rows.take(_write_order(rows, bucket.witnesses))
    lines = rows.column(JSON).combine_chunks()
    group = bucket.target.partition("/")[0]
    if group == REJECTS:
        record_schema, formats = schema.REJECT_SCHEMA, ("parquet",)
    else:
        record_schema = RECORD_SCHEMAS[output.sft_format if group == "sft" else DOCUMENTS]
        # Metadata columns are those the rows have; every row of a run has the same ones.
        present = list(json.loads(lines[0].as_py()))
        metadata = [field_ for field_ in METADATA_SCHEMA if field_.name in present]
        known = set(record_schema.names) | set(METADATA_SCHEMA.names)
        metadata += [pa.field(name, pa.string()) for name in present if name not in known]  # kept fields
        record_schema = pa.schema(list(record_schema) + metadata)
        formats = tuple(output.file_formats)
    records = parse_jsonl(lines, record_schema)
    fs, root = url_to_fs(staging_url)
    local = fs.protocol in ("file", "local") or "file" in fs.protocol
    base = root.rstrip("/")
    dirs = {fmt: f"{base}/{record_dir(bucket.target, fmt)}" for fmt in formats}
    writer = ShardWriter(
        base, formats, _ONE_FILE, row_group_rows=min(output.shard_rows, 16_384),
        format_dirs=dirs, first_index=bucket.index, name_prefix=bucket.prefix, filesystem=None if local else fs,
    )
    try:
        writer.write(records, None if group == REJECTS else lines)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    if group == REJECTS:
        counts = {
            f"{REJECTS}/{item['values']}": item["counts"]
            for item in pc.value_counts(records.column(schema.REJECT_STAGE)).to_pylist()
        }
    else:
        counts = {bucket.target: rows.num_rows}
    key = bucket.target.partition("/")[2] if group == "sft" else bucket.target
    relative = [str(item.path)[len(base) + 1 :] for item in files]
    return {
        "files": [
            {
                "path": str(item.path)[len(base) + 1 :],
                "format": item.format,
                "rows": item.rows,
                "bytes": item.bytes,
                "sha256": item.sha256,
            }
            for item in files
        ],
        "counts": counts,
        "distributions": _summary(group, records, key, relative),
    }


def _summary(group: str, records: pa.Table, key: str, paths: list[str]) -> dict[str, Any]:
    """What the report needs of a bucket's records (``distributions``); of rejects, the reasons."""
    if group == REJECTS:
        return {"rejections": reject_summary(records, paths[0])}
    return distributions.summarize(records, key)


def _write_order(rows: pa.Table, witnesses: tuple[str, ...]) -> pa.Array:
    """Row order of a bucket's files: witnesses first, then by key, ties (the same ``doc_id``) by JSON line.

    Keys are almost always unique, so the key column alone is sorted and only a bucket with equal keys
    pays for the sort that also compares JSON lines: both give the same order.
    """
    keys = rows.column(KEY)
    order = pc.sort_indices(keys)
    ordered = keys.take(order)
    if len(ordered) > 1 and pc.any(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))).as_py():
        order = pc.sort_indices(rows, sort_keys=[(KEY, "ascending"), (JSON, "ascending")])
    if witnesses:
        later = pc.invert(pc.is_in(keys.take(order), value_set=pa.array(witnesses, pa.large_string())))
        flags = np.asarray(later.to_numpy(zero_copy_only=False), dtype=bool)
        positions = np.asarray(order.to_numpy(zero_copy_only=False))
        order = pa.array(np.concatenate([positions[~flags], positions[flags]]))
    return order


def merge_results(results: list[dict[str, Any]]) -> tuple[Counter, Counter, Counter, list[dict[str, Any]]]:
    """Instructions per split, documents per split, rejects per stage and every file, sorted by path.

    The buckets' summaries of their records are merged by ``merge_distributions``.
    """
    instructions, documents, rejected = Counter(), Counter(), Counter()
    files = []
    for result in results:
        files.extend(result["files"])
        for target, count in result["counts"].items():
            group, _, name = target.partition("/")
            {"sft": instructions, DOCUMENTS: documents, REJECTS: rejected}[group][name] += count
    return instructions, documents, rejected, sorted(files, key=lambda item: item["path"])


def merge_distributions(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary (``sftforge.jobs.release.distributions``) of the records of every bucket."""
    return distributions.merge([result.get("distributions") for result in results])


def parse_jsonl(lines: pa.Array, record_schema: pa.Schema, chunk_bytes: int = 1 << 28) -> pa.Table:
    """Parses JSON lines (as written by ``encode_jsonl``) into a table of ``record_schema``.

    Raises:
        ReleaseError: A line has a field the schema does not (the rows of one output disagree on their
            columns), or a value of the wrong type.
    """
    options = pj.ParseOptions(explicit_schema=record_schema, unexpected_field_behavior="error")
    if lines.type != pa.large_string():
        lines = lines.cast(pa.large_string())
    _, offsets, _ = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    content = jsonl_bytes(lines)
    tables, start = [], 0
    while start < len(lines):
        # A parse block must hold whole lines and stay within an int32, so long runs go in pieces.
        end = max(start + 1, int(np.searchsorted(bounds, bounds[start] + chunk_bytes, side="right")) - 1)
        piece = pa.py_buffer(content[bounds[start] - bounds[0] : bounds[end] - bounds[0]])
        try:
            tables.append(
                pj.read_json(
                    pa.BufferReader(piece),
                    read_options=pj.ReadOptions(use_threads=False, block_size=piece.size + 1),
                    parse_options=options,
                )
            )
        except pa.ArrowInvalid as exc:
            raise ReleaseError(
                f"records do not match their output's columns {record_schema.names}: {exc}"
            ) from None
        start = end
    if not tables:
        return record_schema.empty_table()
    return pa.concat_tables(tables).cast(record_schema)
