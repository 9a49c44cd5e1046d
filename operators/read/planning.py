"""Cutting an input's files into ``ReadUnit`` s on the driver: bounded, deterministic pieces of reading work.

See ``sftforge.operators.read.reader`` for the whole picture. A Parquet file becomes one unit per range of
row groups (sized from its footer); any other file is one unit. Nothing here reads a row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from sftforge.operators.read.files import InputFile, expand_files, open_parquet
from sftforge.operators.read.records import DEFAULT_MAX_ROW_BYTES

if TYPE_CHECKING:
    from sftforge.operators.read.spec import InputSpec

#: Bounds on one Parquet unit (uncompressed bytes and rows, from the footer); a unit holds at least one
#: row group.
UNIT_BYTES = 256 * 1024 * 1024
UNIT_ROWS = 1_000_000


@dataclass(frozen=True)
class ReadUnit:
    """A bounded piece of reading work: one file, or a range of row groups of a Parquet file.

    Attributes:
        path: The file, as a local absolute path or a URL with its protocol.
        format: ``parquet``, ``jsonl`` or ``json`` (never ``auto``).
        compression: ``gzip``, ``zstd`` or None.
        kind: ``document`` or ``instruction``.
        columns: The spec's explicit mapping.
        spec_name: The input's label, for the manifest.
        size: File size in bytes.
        max_row_bytes: The spec's row size limit.
        row_groups: Parquet row group indices of this unit (empty for other formats).
        first_row: Index in the file of the unit's first row.
        source: The file as lineage names it (``source_file``): its path relative to the configured
            path's root, or its URL; empty means ``path``.
    """

    path: str
    format: str
    compression: str | None
    kind: str
    columns: tuple[tuple[str, str], ...]
    spec_name: str
    size: int
    max_row_bytes: int = DEFAULT_MAX_ROW_BYTES
    row_groups: tuple[int, ...] = ()
    first_row: int = 0
    source: str = ""
    keep_columns: tuple[str, ...] = ()

    def to_row(self) -> dict[str, Any]:
        """Plain values only, for ``ray.data.from_items``."""
        row = asdict(self)
        row["columns"] = json.dumps(dict(self.columns))
        row["row_groups"] = list(self.row_groups)
        row["keep_columns"] = json.dumps(list(self.keep_columns))
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ReadUnit:
        """Inverse of ``to_row``; accepts numpy values as Ray Data hands them back."""
        columns = row["columns"]
        mapping = json.loads(columns) if isinstance(columns, str) else dict(columns)
        compression = row.get("compression")
        return cls(
            path=str(row["path"]),
            format=str(row["format"]),
            compression=None if compression in (None, "") else str(compression),
            kind=str(row["kind"]),
            columns=tuple(sorted(mapping.items())),
            spec_name=str(row["spec_name"]),
            size=int(row["size"]),
            max_row_bytes=int(row["max_row_bytes"]),
            row_groups=tuple(int(index) for index in (row.get("row_groups") or ())),
            first_row=int(row.get("first_row") or 0),
            source=str(row.get("source") or ""),
            keep_columns=tuple(json.loads(row.get("keep_columns") or "[]")),
        )


def plan_read_units(
    spec: InputSpec, max_unit_bytes: int = UNIT_BYTES, max_unit_rows: int = UNIT_ROWS
) -> list[ReadUnit]:
    """Expands ``spec`` into read units, in a deterministic order; see the module docstring.

    Args:
        spec: The input.
        max_unit_bytes: Uncompressed bytes (from the Parquet footer) above which row groups go to the
            next unit.
        max_unit_rows: Rows above which row groups go to the next unit.
    """
    return units_for_files(spec, expand_files(spec), max_unit_bytes, max_unit_rows)


def units_for_files(
    spec: InputSpec,
    files: list[InputFile],
    max_unit_bytes: int = UNIT_BYTES,
    max_unit_rows: int = UNIT_ROWS,
) -> list[ReadUnit]:
    """Read units of files already listed by ``expand_files`` (see ``plan_read_units``)."""
    units: list[ReadUnit] = []
    columns = tuple(sorted(spec.columns.items()))
    for file in files:
        base = ReadUnit(
            path=file.path,
            format=file.format,
            compression=file.compression,
            kind=file.kind,
            columns=columns,
            spec_name=file.spec_name,
            size=file.size,
            max_row_bytes=spec.max_row_bytes,
            source=file.source,
            keep_columns=tuple(spec.keep_columns),
        )
        if file.format != "parquet":
            units.append(base)
            continue
        if file.size == 0:
            continue
        with open_parquet(file.path) as parquet:
            metadata = parquet.metadata
        units.extend(_parquet_units(base, metadata, max_unit_bytes, max_unit_rows))
    return units


def _parquet_units(
    base: ReadUnit, metadata: pq.FileMetaData, max_bytes: int, max_rows: int
) -> list[ReadUnit]:
    units = []
    group: list[int] = []
    group_bytes = group_rows = 0
    first_row = next_row = 0
    for index in range(metadata.num_row_groups):
        row_group = metadata.row_group(index)
        if group and (
            group_bytes + row_group.total_byte_size > max_bytes or group_rows + row_group.num_rows > max_rows
        ):
            units.append(_with_groups(base, group, first_row))
            group, group_bytes, group_rows, first_row = [], 0, 0, next_row
        group.append(index)
        group_bytes += row_group.total_byte_size
        group_rows += row_group.num_rows
        next_row += row_group.num_rows
    if group and group_rows:
        units.append(_with_groups(base, group, first_row))
    return units


def _with_groups(base: ReadUnit, groups: list[int], first_row: int) -> ReadUnit:
    return ReadUnit(**{**asdict(base), "row_groups": tuple(groups), "first_row": first_row})
