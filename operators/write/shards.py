"""Numbered shard files written from a stream of Arrow tables: Parquet and JSON Lines, same rows in each."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.operators.write.jsonl import encode_jsonl, jsonl_bytes

FILE_SUFFIXES = {"parquet": ".parquet", "jsonl": ".jsonl"}


class SchemaChangedError(ValueError):
    """Tables written to one shard stream do not share a schema."""


@dataclass(frozen=True)
class ShardFile:
    """One written file.

    Attributes:
        path: Where it is (a path of the writer's filesystem).
        format: ``parquet`` or ``jsonl``.
        rows: Records in it.
        bytes: Its size.
        sha256: Hex digest of its content.
    """

    path: Path | str
    format: str
    rows: int
    bytes: int
    sha256: str


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ShardWriter:
    """Writes a stream of record tables, already in their final order, as numbered shards.

    Shard ``i`` holds rows ``[i * shard_rows, (i + 1) * shard_rows)`` of the stream and is written as
    ``<name_prefix><first_index + i>.parquet`` and/or ``.jsonl`` (five digits; the prefix is ``part-``). Parquet row groups start every ``row_group_rows``
    rows of a shard and each is written from one contiguous array, so the bytes depend only on the rows,
    never on how the stream was cut into tables. Nothing is created until the first row arrives.

    Args:
        directory: Folder of the shards (created when needed).
        file_formats: ``parquet`` and/or ``jsonl``.
        shard_rows: Rows per shard; only the last is shorter.
        row_group_rows: Rows per Parquet row group (default: the shard size, at most 16384).
        compression: Parquet codec.
        format_dirs: A folder per file format, instead of ``directory`` for all of them.
        first_index: Number of the first shard.
        name_prefix: Start of every file name (a refresh names its night's files ``part-<night>-``).
        filesystem: An fsspec filesystem to write to (an object store); local files when ``None``.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        file_formats: Sequence[str] = ("parquet", "jsonl"),
        shard_rows: int = 100_000,
        row_group_rows: int | None = None,
        compression: str = "zstd",
        *,
        format_dirs: Mapping[str, str | os.PathLike] | None = None,
        first_index: int = 0,
        name_prefix: str = "part-",
        filesystem=None,
    ):
        if shard_rows <= 0:
            raise ValueError(f"shard_rows must be positive, got {shard_rows}")
        unknown = set(file_formats) - set(FILE_SUFFIXES)
        if unknown or not file_formats:
            raise ValueError(f"file_formats must be among {sorted(FILE_SUFFIXES)}, got {list(file_formats)}")
        self.filesystem = filesystem
        self.directory = Path(directory) if filesystem is None else str(directory)
        dirs = format_dirs or {}
        self.format_dirs = {fmt: dirs.get(fmt, self.directory) for fmt in file_formats}
        self.file_formats = tuple(file_formats)
        self.shard_rows = shard_rows
        self.row_group_rows = row_group_rows or min(shard_rows, 16_384)
        self.compression = compression
        self.schema: pa.Schema | None = None
        self.rows_written = 0
        self._files: list[ShardFile] = []
        self._shard_index = first_index
        self.name_prefix = name_prefix
        self._shard_rows_written = 0
        self._parquet: pq.ParquetWriter | None = None
        self._parquet_file: _HashingFile | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._jsonl: _HashingFile | None = None
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def write(self, records: pa.Table, json_lines: pa.Array | None = None) -> None:
        """Appends records to the stream.

        Args:
            records: The next records; every table must have the first one's schema.
            json_lines: The records already encoded by ``sftforge.operators.write.jsonl.encode_jsonl`` (when a worker did
                it); encoded here otherwise.
        """
        if self._closed:
            raise ValueError(f"shard writer for {self.directory} is closed")
        records = self._conform(records)
        if records.num_rows == 0:
            return
        if "jsonl" in self.file_formats:
            if json_lines is None:
                json_lines = encode_jsonl(records)
            elif isinstance(json_lines, pa.ChunkedArray):
                json_lines = json_lines.combine_chunks()
            if len(json_lines) != records.num_rows:
                raise ValueError(f"{len(json_lines)} JSON lines for {records.num_rows} records")
        offset = 0
        while offset < records.num_rows:
            if self._shard_rows_written == 0:
                self._open_shard()
            take = min(records.num_rows - offset, self.shard_rows - self._shard_rows_written)
            if "parquet" in self.file_formats:
                self._pending.append(records.slice(offset, take))
                self._pending_rows += take
                self._flush_row_groups(final=False)
            if "jsonl" in self.file_formats:
                self._jsonl.write(jsonl_bytes(json_lines.slice(offset, take)))
            offset += take
            self._shard_rows_written += take
            self.rows_written += take
            if self._shard_rows_written == self.shard_rows:
                self._close_shard()

    def close(self) -> list[ShardFile]:
        """Finishes the last shard and returns every file written, in order."""
        if not self._closed:
            if self._shard_rows_written:
                self._close_shard()
            self._closed = True
        return list(self._files)

    def abort(self) -> None:
        """Closes open files without finishing them (the caller discards the folder)."""
        for handle in (self._parquet, self._parquet_file, self._jsonl):
            if handle is not None:
                with contextlib.suppress(Exception):  # the files are being thrown away
                    handle.close()
        self._parquet = self._parquet_file = self._jsonl = None
        self._closed = True

    @property
    def files(self) -> list[ShardFile]:
        return list(self._files)

    def _conform(self, records: pa.Table) -> pa.Table:
        records = records.replace_schema_metadata(None)
        if self.schema is None:
            self.schema = records.schema
            return records
        if records.schema.equals(self.schema):
            return records
        try:
            return records.select(self.schema.names).cast(self.schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise SchemaChangedError(
                f"records for {self.directory} changed schema mid-stream: expected {self.schema}, "
                f"got {records.schema} ({exc})"
            ) from None

    def _path(self, fmt: str) -> Path | str:
        name = f"{self.name_prefix}{self._shard_index:05d}{FILE_SUFFIXES[fmt]}"
        if self.filesystem is None:
            return Path(self.format_dirs[fmt]) / name
        return f"{str(self.format_dirs[fmt]).rstrip('/')}/{name}"

    def _open_shard(self) -> None:
        for fmt in self.file_formats:
            if self.filesystem is None:
                Path(self.format_dirs[fmt]).mkdir(parents=True, exist_ok=True)
            else:
                self.filesystem.makedirs(str(self.format_dirs[fmt]), exist_ok=True)
        if "parquet" in self.file_formats:
            self._parquet_file = _HashingFile(self._path("parquet"), self.filesystem)
            self._parquet = pq.ParquetWriter(
                self._parquet_file, self.schema, compression=self.compression, write_statistics=True
            )
        if "jsonl" in self.file_formats:
            self._jsonl = _HashingFile(self._path("jsonl"), self.filesystem)

    def _flush_row_groups(self, final: bool) -> None:
        while self._pending_rows >= self.row_group_rows or (final and self._pending_rows):
            size = min(self.row_group_rows, self._pending_rows)
            pending = pa.concat_tables(self._pending)
            group = pending.slice(0, size).combine_chunks()
            self._parquet.write_table(group, row_group_size=size)
            rest = pending.slice(size)
            self._pending = [rest] if rest.num_rows else []
            self._pending_rows -= size

    def _close_shard(self) -> None:
        rows = self._shard_rows_written
        if self._parquet is not None:
            self._flush_row_groups(final=True)
            self._parquet.close()
            self._parquet = None
            self._files.append(self._parquet_file.finish("parquet", rows))
            self._parquet_file = None
        if self._jsonl is not None:
            self._files.append(self._jsonl.finish("jsonl", rows))
            self._jsonl = None
        self._shard_index += 1
        self._shard_rows_written = 0


class _HashingFile(io.RawIOBase):
    """A file opened for writing that hashes what goes through it, so no file is read back for its sha256.

    Local files are fsynced when finished; on an object store the upload completes when it is closed.
    """

    def __init__(self, path: Path | str, filesystem=None):
        super().__init__()
        self.path = path
        self._local = filesystem is None
        if self._local:
            self._file = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by finish() or close()
        else:
            self._file = filesystem.open(path, "wb")
        self._digest = hashlib.sha256()
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._file.write(data)
        self._digest.update(data)
        size = memoryview(data).nbytes
        self._size += size
        return size

    def tell(self) -> int:
        return self._size

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()

    def finish(self, fmt: str, rows: int) -> ShardFile:
        """Flushes the file to disk, closes it and describes it."""
        self._file.flush()
        if self._local:
            os.fsync(self._file.fileno())
        self.close()
        return ShardFile(self.path, fmt, rows, self._size, self._digest.hexdigest())
