"""Writes a release into a staging folder and publishes it atomically.

Layout of ``<output.dir>``::

    LATEST                               the id of the last release published (one line)
    <release>/
        parquet/<split>/part-00000.parquet     instruction rows in the configured SFT format
        jsonl/<split>/part-00000.jsonl         (the same rows, when both file formats are on)
        documents/<fmt>/<split>/part-00000.*   document rows: text and metadata
        rejects/part-00000.parquet       every rejected row: doc_id, stage, reason, original text
        manifest.json                    config, inputs, counts, sha256 of every file, versions
        _SUCCESS                         written last; a release without it is incomplete

A run writes into ``<output.dir>/.staging-<release>-<uuid>/`` and only ``publish`` moves the folder to
``<release>``, replacing an earlier release of the same id, and then moves ``LATEST``. A run that fails
calls ``abort``, which removes its staging folder and leaves the published releases and ``LATEST`` as
they were. Staging folders of runs that were killed are removed by the next run (each run holds an
``flock`` on ``.staging-<release>-<uuid>.lock`` while it lives, so live runs are never disturbed).

Rows are written in a total order (target, split, ``doc_id``, then the record's JSON line), so the same
rows give byte-identical files whatever the number of blocks, workers or machines. The work is spread
as follows: Ray workers format every row and encode it as its JSON line (``prepare_batch``, the costly
part, streamed); the driver, which writes every byte anyway, sorts the lines by key in C++ within a
memory budget (``sftforge.jobs.release.external_sort``, spilling sorted runs to disk beyond it) instead of shuffling them
through the object store, then streams them into shards: JSONL bytes as they are, and the same bytes
parsed back into Arrow (C++) for Parquet. Files are written by the driver, so ``output.dir`` only has to
exist where the job's driver runs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from sftforge.jobs.release.external_sort import ExternalSorter
from sftforge.jobs.release.layout import record_dir
from sftforge.jobs.release.manifest import package_versions, redact
from sftforge.jobs.release.staging import (
    LATEST_TMP_PREFIX,
    REPLACED_PREFIX,
    STAGING_PREFIX,
    exchange_paths,
    fsync_dir,
    fsync_file,
    remove_stale_staging,
    take_staging_lock,
    write_durably,
)
from sftforge.operators import schema
from sftforge.operators.write.formats import (
    DOCUMENTS,
    METADATA_SCHEMA,
    RECORD_SCHEMAS,
    OutputConfig,
    SFTFormatter,
    ShardFile,
    ShardWriter,
    document_mask,
    file_sha256,
)
from sftforge.operators.write.jsonl import encode_jsonl, jsonl_bytes

log = logging.getLogger("sftforge.release")

LATEST = "LATEST"
MANIFEST = "manifest.json"
SUCCESS = "_SUCCESS"
REJECTS = "rejects"
#: ``reject_stage`` of rows the writer itself cannot write (a conversation that is not valid SFT).
WRITE_STAGE = "write"

_RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_SPILL_DIR = ".sort"

# The rows that travel from the workers, through the sort, to the writing driver: each record once, as
# its JSON line. The driver writes the lines to the JSONL shards as they are and parses them back (in C++)
# into the Parquet shards, so the shuffle moves the data once and both files hold exactly the same data.
_KEY = "__release_key"
_TARGET = "__release_target"
_JSON = "__release_json"
_SORT_COLUMNS = (_KEY, _JSON)
STREAM_SCHEMA = pa.schema(
    [pa.field(_KEY, pa.large_string()), pa.field(_TARGET, pa.string()), pa.field(_JSON, pa.large_string())]
)
_GROUP_RANK = {"sft": "0", DOCUMENTS: "1", REJECTS: "2"}
_KEY_SEPARATOR = "\x1f"


class ReleaseError(Exception):
    """A release cannot be written or published; nothing was published."""


@dataclass(frozen=True)
class WriteCounts:
    """What ``ReleaseWriter.write`` put in the staging folder.

    Attributes:
        instructions_by_split: SFT records per split.
        documents_by_split: Document records per split.
        rejected_by_stage: Rows in ``rejects/`` per ``reject_stage`` (``write`` for rows the writer
            could not format).
        files: Every data file written, paths relative to the release folder.
    """

    instructions_by_split: dict[str, int] = field(default_factory=dict)
    documents_by_split: dict[str, int] = field(default_factory=dict)
    rejected_by_stage: dict[str, int] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_by_split(self) -> dict[str, int]:
        """Instruction and document records together, per split."""
        totals = Counter(self.instructions_by_split)
        totals.update(self.documents_by_split)
        return dict(sorted(totals.items()))

    @property
    def total_written(self) -> int:
        """Rows written to split outputs (SFT records and documents)."""
        return sum(self.instructions_by_split.values()) + sum(self.documents_by_split.values())

    @property
    def total_rejected(self) -> int:
        """Rows written to ``rejects/``."""
        return sum(self.rejected_by_stage.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.total_written,
            "rejected": self.total_rejected,
            "by_split": self.rows_by_split,
            "instructions_by_split": dict(self.instructions_by_split),
            "documents_by_split": dict(self.documents_by_split),
            "rejected_by_stage": dict(self.rejected_by_stage),
        }


# ---------------------------------------------------------------------------------------------------------
# Worker side: turn a batch of final rows into records, JSON lines and sort keys.


def prepare_batch(batch: pa.Table, output: OutputConfig, kept_columns: tuple[str, ...] | None = None) -> pa.Table:
    """Formats one batch of the final Dataset for writing.

    Every row becomes exactly one JSON line with a sort key and a target: live rows an SFT record
    (``sft/<split>``) or a document record (``documents/<split>``); rejected rows, and live rows the
    formatter refuses (stage ``write``), a reject record (``rejects``). The result has
    ``STREAM_SCHEMA`` whatever rows the batch holds.

    Raises:
        ReleaseError: A live row has no split or a split name that is not a folder name.
    """
    formatter = SFTFormatter(output, kept_columns)
    if schema.REJECT_STAGE in batch.column_names:
        dead_mask = pc.is_valid(batch.column(schema.REJECT_STAGE))
    else:
        dead_mask = pa.array(np.zeros(batch.num_rows, dtype=bool))
    live, dead = batch.filter(pc.invert(dead_mask)), batch.filter(dead_mask)
    parts = []
    if live.num_rows:
        splits = live.column(schema.SPLIT) if schema.SPLIT in live.column_names else None
        if splits is None or splits.null_count:
            raise ReleaseError(
                "rows reached the release writer without a split; run the split stage before writing"
            )
        bad = sorted({name for name in pc.unique(splits).to_pylist() if not _SPLIT_NAME.match(name)})
        if bad:
            raise ReleaseError(f"split names {bad} cannot be folder names")
        documents = document_mask(live)
        for group, rows, fmt in (
            ("sft", live.filter(pc.invert(documents)), formatter.format_instructions),
            (DOCUMENTS, live.filter(documents), formatter.format_documents),
        ):
            if not rows.num_rows:
                continue
            formatted = fmt(rows)
            parts.append(_record_part(group, formatted.records, rows.filter(formatted.written)))
            if formatted.rejected.num_rows:
                refused = _set_column(formatted.rejected, schema.REJECT_STAGE, WRITE_STAGE)
                parts.append(_reject_part(refused))
    if dead.num_rows:
        parts.append(_reject_part(dead))
    stream = pa.concat_tables(parts) if parts else STREAM_SCHEMA.empty_table()
    if stream.num_rows != batch.num_rows:
        raise ReleaseError(f"release writer made {stream.num_rows} records of {batch.num_rows} rows")
    return stream


def _record_part(group: str, records: pa.Table, rows: pa.Table) -> pa.Table:
    """Records as JSON lines with sort keys and targets; ``rows`` are the input rows they came from."""
    lines = encode_jsonl(records)
    splits = rows.column(schema.SPLIT).cast(pa.string())
    keys = _sort_keys(group, splits, rows.column(schema.DOC_ID))
    targets = pc.binary_join_element_wise(f"{group}/", splits, "")
    return pa.Table.from_arrays([keys, targets, lines], schema=STREAM_SCHEMA)


def _reject_part(rows: pa.Table) -> pa.Table:
    """Reject records (``REJECT_SCHEMA``) as JSON lines, ordered by stage then ``doc_id``."""
    records = schema.conform(rows, schema.REJECT_SCHEMA)
    lines = encode_jsonl(records)
    keys = _sort_keys(REJECTS, records.column(schema.REJECT_STAGE), records.column(schema.DOC_ID))
    targets = pa.array([REJECTS] * records.num_rows, pa.string())
    return pa.Table.from_arrays([keys, targets, lines], schema=STREAM_SCHEMA)


def _sort_keys(group: str, sections: pa.ChunkedArray, doc_ids: pa.ChunkedArray) -> pa.Array:
    """``rank, section, doc_id`` joined by a separator that sorts before every printable character.

    Rows sort by this key, then by their JSON line: the line breaks ties between rows with the same
    ``doc_id`` (the same text read from two files), so the order is total and no two layouts of the same
    rows can be written differently.
    """
    parts = [pc.fill_null(column.cast(pa.large_string()), "") for column in (sections, doc_ids)]
    separator = pa.scalar(_KEY_SEPARATOR, pa.large_string())
    rank = pa.scalar(_GROUP_RANK[group], pa.large_string())
    return pc.binary_join_element_wise(rank, *parts, separator).combine_chunks()


def _set_column(table: pa.Table, name: str, value: str) -> pa.Table:
    column = pa.array([value] * table.num_rows, pa.string())
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, column)
    return table.append_column(name, column)



# ---------------------------------------------------------------------------------------------------------
# Driver side: stream the sorted rows into shard files, then publish.


class ReleaseWriter:
    """Writes one release of ``output.dir`` through a staging folder.

    Creating the writer removes stale staging folders of killed runs, then creates this run's staging
    folder (``staging_dir``) and holds a lock on it; steps may add their own files there (a dedup index)
    and they are published with the release. Use ``write`` once, then ``publish``; on any failure call
    ``abort`` (or use the writer as a context manager, which aborts unless it published).

    Args:
        output: Output config (folder, SFT format, file formats, shard size).
        release_id: Folder name of the release under ``output.dir``.
        sort_memory_bytes: JSON lines the driver sorts in memory before it spills sorted runs to disk
            (inside the staging folder; removed before publishing).
    """

    def __init__(
        self,
        output: OutputConfig,
        release_id: str,
        sort_memory_bytes: int = 512 << 20,
        kept_columns: tuple[str, ...] | None = None,
    ):
        if not _RELEASE_ID.match(release_id) or release_id == LATEST:
            raise ReleaseError(f"'{release_id}' is not a valid release id (letters, digits, '.', '_', '-')")
        self.output = output
        self.release_id = release_id
        self.sort_memory_bytes = sort_memory_bytes
        self.kept_columns = kept_columns
        self.root = Path(output.dir).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(self.root)
        self._token, self._lock_path, self._lock_fd = take_staging_lock(self.root, release_id)
        self.staging_dir = self.root / f"{STAGING_PREFIX}{self._token}"
        self.staging_dir.mkdir()
        self.release_dir = self.root / release_id
        self.counts: WriteCounts | None = None
        self.spilled_runs = 0
        self._state = "staging"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._state != "published":
            self.abort()

    def write(self, ds) -> WriteCounts:
        """Consumes the final Dataset once and writes every row into the staging folder.

        Args:
            ds: Live rows (``split`` set) and rejected rows (``reject_stage`` and ``reject_reason`` set).

        Returns:
            Rows per split and output kind, rejected rows per stage, and the files written.

        Raises:
            ReleaseError: Called twice, or rows arrived out of order (a bug, never silent).
        """
        if self._state != "staging":
            raise ReleaseError(f"release {self.release_id}: write() is called once, before publish()")
        self._state = "writing"
        prepared = ds.map_batches(
            prepare_batch, fn_kwargs={"output": self.output, "kept_columns": self.kept_columns}, batch_format="pyarrow", batch_size=None
        )
        sorter = ExternalSorter(
            _SORT_COLUMNS, self.staging_dir / _SPILL_DIR, memory_bytes=self.sort_memory_bytes
        )
        sink = _SortedSink(self.staging_dir, self.output)
        try:
            for batch in prepared.iter_batches(batch_format="pyarrow", batch_size=None):
                sorter.add(batch)
            for table in sorter.sorted_tables():
                sink.write(table)
            self.counts = sink.close()
        except BaseException:
            sink.abort()
            raise
        finally:
            self.spilled_runs = sorter.spilled_runs
            sorter.close()
        self._state = "written"
        log.info(
            "release %s: wrote %d rows, rejected %d",
            self.release_id,
            self.counts.total_written,
            self.counts.total_rejected,
        )
        return self.counts

    def publish(self, manifest: dict[str, Any]) -> Path:
        """Writes ``manifest.json`` and ``_SUCCESS``, moves the release into place, then moves ``LATEST``.

        Args:
            manifest: What the job knows (config, config hash, inputs, stage counts, ...). Secrets are
                masked (``redact``). The writer adds ``release``, ``rows``, ``files``, ``versions`` and
                ``published_at``.

        Returns:
            The published release folder.
        """
        if self._state != "written":
            raise ReleaseError(f"release {self.release_id}: publish() needs a completed write() first")
        clashes = sorted({"rows", "files", "versions", "published_at"} & set(manifest))
        if clashes:
            raise ReleaseError(f"manifest keys {clashes} are filled in by the release writer")
        document = redact(dict(manifest))
        document.setdefault("release", self.release_id)
        document["rows"] = self.counts.as_dict()
        document["files"] = self._inventory()
        document["versions"] = package_versions()
        document["published_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        write_durably(
            self.staging_dir / MANIFEST, (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()
        )
        write_durably(self.staging_dir / SUCCESS, b"")
        fsync_dir(self.staging_dir)
        self._swap_into_place()
        self._state = "published"
        self._move_latest()
        self._release_lock()
        log.info("release %s published at %s", self.release_id, self.release_dir)
        return self.release_dir

    def abort(self) -> None:
        """Removes the staging folder; published releases and ``LATEST`` stay as they were."""
        if self._state in ("published", "aborted"):
            return
        shutil.rmtree(self.staging_dir, ignore_errors=True)
        self._state = "aborted"
        self._release_lock()

    def _inventory(self) -> list[dict[str, Any]]:
        """Every file of the staging folder with its size and sha256; rows for the data files."""
        known = {Path(item["path"]): item for item in self.counts.files}
        entries = []
        for path in sorted(p for p in self.staging_dir.rglob("*") if p.is_file()):
            relative = path.relative_to(self.staging_dir)
            if relative.as_posix() in (MANIFEST, SUCCESS):
                continue
            fsync_file(path)
            entry = known.get(relative)
            if entry is None:
                entry = {
                    "path": relative.as_posix(),
                    "format": path.suffix.lstrip(".") or None,
                    "rows": None,
                    "bytes": path.stat().st_size,
                    "sha256": file_sha256(path),
                }
            entries.append(entry)
        return entries

    def _swap_into_place(self) -> None:
        if not self.release_dir.exists():
            os.rename(self.staging_dir, self.release_dir)
            fsync_dir(self.root)
            return
        replaced = self.root / f"{REPLACED_PREFIX}{self._token}"
        if self._exchange(self.staging_dir, self.release_dir):
            # The new release is in place; the staging path now holds the old one, which abort must not
            # be mistaken for (a leftover is removed by the next run once this process is gone).
            self._state = "published"
            os.rename(self.staging_dir, replaced)
        else:
            os.rename(self.release_dir, replaced)
            try:
                os.rename(self.staging_dir, self.release_dir)
            except OSError:
                os.rename(replaced, self.release_dir)
                raise
        fsync_dir(self.root)
        shutil.rmtree(replaced, ignore_errors=True)

    @staticmethod
    def _exchange(first: Path, second: Path) -> bool:
        return exchange_paths(first, second)

    def _move_latest(self) -> None:
        temporary = self.root / f"{LATEST_TMP_PREFIX}{self._token}"
        write_durably(temporary, f"{self.release_id}\n".encode())
        os.replace(temporary, self.root / LATEST)
        fsync_dir(self.root)

    def _release_lock(self) -> None:
        if self._lock_fd is None:
            return
        try:
            self._lock_path.unlink(missing_ok=True)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None


class _SortedSink:
    """Routes sorted batches to one shard writer per target, checking that the order really holds."""

    def __init__(self, staging_dir: Path, output: OutputConfig):
        self.staging_dir = staging_dir
        self.output = output
        self.instructions: Counter[str] = Counter()
        self.documents: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.files: list[ShardFile] = []
        self._target: str | None = None
        self._writer: ShardWriter | None = None
        self._record_schema: pa.Schema | None = None
        self._done: set[str] = set()
        self._last: tuple[str, str] | None = None

    def write(self, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        self._check_order(batch)
        targets = batch.column(_TARGET).to_pylist()
        start = 0
        for end in range(1, len(targets) + 1):
            if end == len(targets) or targets[end] != targets[start]:
                self._write_run(targets[start], batch.slice(start, end - start))
                start = end

    def _check_order(self, batch: pa.Table) -> None:
        keys, lines = batch.column(_KEY), batch.column(_JSON)
        first = (keys[0].as_py(), lines[0].as_py())
        count = batch.num_rows
        if count > 1:
            before, after = keys.slice(0, count - 1), keys.slice(1)
            descending = pc.any(pc.less(after, before)).as_py()
            ties = pc.equal(after, before)
            if not descending and pc.any(ties).as_py():
                # Only rows with equal keys are ordered by their lines; compare just those pairs.
                pairs = pc.indices_nonzero(ties)
                descending = pc.any(pc.less(lines.take(pc.add(pairs, 1)), lines.take(pairs))).as_py()
            if descending:
                raise ReleaseError(
                    "rows reached the release writer out of order; refusing to write a release"
                )
        if self._last is not None and first < self._last:
            raise ReleaseError("rows reached the release writer out of order; refusing to write a release")
        self._last = (keys[-1].as_py(), lines[-1].as_py())

    def _write_run(self, target: str, rows: pa.Table) -> None:
        lines = rows.column(_JSON).combine_chunks()
        if target != self._target:
            self._finish_target()
            if target in self._done:
                raise ReleaseError(f"rows for {target} arrived after it was finished; refusing to write")
            self._target = target
            self._writer, self._record_schema = self._open(target, lines[0].as_py())
        records = parse_jsonl(lines, self._record_schema)
        group, _, split = target.partition("/")
        if group == REJECTS:
            for item in pc.value_counts(records.column(schema.REJECT_STAGE)).to_pylist():
                self.rejected[item["values"]] += item["counts"]
            self._writer.write(records)
            return
        (self.instructions if group == "sft" else self.documents)[split] += rows.num_rows
        self._writer.write(records, lines)

    def _open(self, target: str, first_line: str) -> tuple[ShardWriter, pa.Schema]:
        group, _, split = target.partition("/")
        if group == REJECTS:
            writer = ShardWriter(self.staging_dir / REJECTS, ("parquet",), self.output.shard_rows)
            return writer, schema.REJECT_SCHEMA
        record_schema = RECORD_SCHEMAS[self.output.sft_format if group == "sft" else DOCUMENTS]
        # Metadata columns are those the rows have; every row of a run has the same ones.
        present = list(json.loads(first_line))
        metadata = [field_ for field_ in METADATA_SCHEMA if field_.name in present]
        known = set(record_schema.names) | set(METADATA_SCHEMA.names)
        metadata += [pa.field(name, pa.string()) for name in present if name not in known]  # kept fields
        directories = {
            fmt: record_dir(self.staging_dir, fmt, split, documents=group != "sft")
            for fmt in self.output.file_formats
        }
        writer = ShardWriter(directories, self.output.file_formats, self.output.shard_rows)
        return writer, pa.schema(list(record_schema) + metadata)

    def _finish_target(self) -> None:
        if self._writer is not None:
            self.files.extend(self._writer.close())
            self._done.add(self._target)
            self._writer = None

    def close(self) -> WriteCounts:
        self._finish_target()
        files = [
            {
                "path": item.path.relative_to(self.staging_dir).as_posix(),
                "format": item.format,
                "rows": item.rows,
                "bytes": item.bytes,
                "sha256": item.sha256,
            }
            for item in self.files
        ]
        return WriteCounts(
            instructions_by_split=dict(sorted(self.instructions.items())),
            documents_by_split=dict(sorted(self.documents.items())),
            rejected_by_stage=dict(sorted(self.rejected.items())),
            files=files,
        )

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None


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
