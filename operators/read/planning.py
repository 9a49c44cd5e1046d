"""Planning the reads on the driver: inputs (``InputSpec``), their files and ``ReadUnit`` s.

See ``sftforge.operators.read.reader`` for the whole picture; this module lists files, infers formats,
names lineage and cuts Parquet files into units of row groups, and never reads a row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, field_validator, model_validator
from sftforge.operators import schema
from sftforge.operators.base import StageConfig
from sftforge.operators.read.records import (
    BATCH_BYTES,
    BATCH_ROWS,
    CANONICAL_COLUMNS,
    DEFAULT_ALIASES,
    DEFAULT_MAX_ROW_BYTES,
    READ_STAGE,
    InputError,
    content_id,
)

__all__ = [
    "BATCH_BYTES",
    "BATCH_ROWS",
    "DEFAULT_ALIASES",
    "READ_STAGE",
    "RESERVED_COLUMNS",
    "InputError",
    "InputFile",
    "InputSpec",
    "ReadUnit",
    "content_id",
    "detect_format",
    "expand_files",
    "lineage_name",
    "plan_read_units",
    "units_for_files",
]

Format = Literal["auto", "parquet", "jsonl", "json"]
Kind = Literal["document", "instruction"]

_EXTENSIONS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
_COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}

#: Bounds on one Parquet unit (uncompressed bytes and rows, from the footer); a unit holds at least one
#: row group.
UNIT_BYTES = 256 * 1024 * 1024
UNIT_ROWS = 1_000_000


#: Every column name the pipeline uses (``operators.schema``); kept source fields may not take one.
RESERVED_COLUMNS = frozenset(
    value
    for key, value in vars(schema).items()
    if key.isupper() and isinstance(value, str) and not key.startswith(("KIND_", "ORIGIN_", "ROLE_"))
)


class InputSpec(StageConfig):
    """One input of a job: where the files are, how to parse them, and which columns hold what.

    Attributes:
        path: A file, a directory, a glob, or a list of those; local paths or fsspec URLs
            (``s3://``, ``file://``, ``memory://``).
        format: ``auto`` infers it from each file's extension (``.parquet``/``.pq``, ``.jsonl``/``.ndjson``,
            ``.json``; ``.gz`` and ``.zst`` compressed JSONL/JSON too). A ``.json`` file whose first
            character is ``{`` is read as JSONL.
        kind: ``document`` (raw text) or ``instruction`` (pairs or conversations).
        columns: Canonical column (``text``, ``instruction``, ``input``, ``output``, ``system``,
            ``messages``) to source column. Unmapped canonical columns fall back to ``DEFAULT_ALIASES``.
        name: A label for the manifest.
        max_row_bytes: Rows whose content (UTF-8 bytes of all text fields) is larger than this are
            rejected as ``row_too_large``; a JSONL line longer than this is rejected unparsed, and only
            its first bytes are ever held in memory.
        keep_columns: Source fields (``id``, ``domain``, ``task_type``) carried to the release in the
            column ``source_fields`` (a compact JSON object of those a row has). Names must not be
            reserved column names.
    """

    path: str | list[str]
    format: Format = "auto"
    kind: Kind
    columns: dict[str, str] = Field(default_factory=dict)
    name: str | None = None
    max_row_bytes: int = Field(default=DEFAULT_MAX_ROW_BYTES, gt=0)
    keep_columns: list[str] = Field(default_factory=list)

    @field_validator("keep_columns")
    @classmethod
    def _kept_names_are_free(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or name in RESERVED_COLUMNS:
                raise ValueError(f"keep_columns: '{name}' is a reserved column name; rename it with a mapping step")
        if len(set(value)) != len(value):
            raise ValueError(f"keep_columns lists a name twice: {value}")
        return value

    @field_validator("path")
    @classmethod
    def _paths_not_empty(cls, value: str | list[str]) -> str | list[str]:
        paths = [value] if isinstance(value, str) else value
        if not paths or any(not path.strip() for path in paths):
            raise ValueError("needs at least one non-empty path")
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        for canonical, source in value.items():
            if canonical not in CANONICAL_COLUMNS:
                expected = ", ".join(CANONICAL_COLUMNS)
                raise ValueError(f"unknown column '{canonical}'; map one of {expected} to a source column")
            if not source:
                raise ValueError(f"column '{canonical}' is mapped to an empty name")
        return value

    @model_validator(mode="after")
    def _columns_fit_kind(self) -> InputSpec:
        mapped = set(self.columns)
        if self.kind == schema.KIND_DOCUMENT and mapped - {schema.TEXT}:
            raise ValueError(
                f"a document input maps only 'text', not {', '.join(sorted(mapped - {schema.TEXT}))}"
            )
        if self.kind == schema.KIND_INSTRUCTION:
            if schema.TEXT in mapped:
                raise ValueError(
                    "an instruction input has no 'text' column; map instruction/output or messages"
                )
            pair = mapped & {schema.INSTRUCTION, schema.INPUT, schema.OUTPUT}
            if schema.MESSAGES in mapped and pair:
                raise ValueError(
                    f"map either 'messages' or instruction/input/output, not both ({', '.join(sorted(pair))})"
                )
        return self

    @property
    def paths(self) -> list[str]:
        """The configured paths as a list."""
        return [self.path] if isinstance(self.path, str) else list(self.path)

    @property
    def label(self) -> str:
        """``name`` if set, else the configured path(s)."""
        return self.name or ", ".join(self.paths)

    def check_paths(self) -> list[str]:
        """Expands the paths and returns the files; raises InputError naming a path that matches nothing."""
        return [file.path for file in expand_files(self)]


@dataclass(frozen=True)
class InputFile:
    """One file of an input, as found on its filesystem."""

    path: str
    size: int
    format: str
    compression: str | None
    kind: str
    spec_name: str
    source: str = ""


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


# ---------------------------------------------------------------------------------------------------
# Planning


def _filesystem(path: str):
    from fsspec.core import url_to_fs

    try:
        return url_to_fs(path)
    except (ImportError, ValueError) as exc:
        raise InputError(path, f"no filesystem for this path ({exc})") from exc


def _has_glob(path: str) -> bool:
    return any(char in path for char in "*?[")


def _display_path(fs, path: str) -> str:
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        return os.path.abspath(path)
    return fs.unstrip_protocol(path)


def lineage_name(fs, configured: str, root: str, name: str) -> str:
    """The file as lineage names it: a URL as such; a local file relative to its configured path's root.

    The root is the configured folder, a file's folder, or a pattern's folder before its first wildcard.
    So the bytes of a release never depend on where the inputs are mounted.
    """
    from fsspec.implementations.local import LocalFileSystem

    if not isinstance(fs, LocalFileSystem):
        return fs.unstrip_protocol(name)
    if _has_glob(root):
        base = root[: min(root.find(char) for char in "*?[" if char in root)]
        base = base if base.endswith("/") else os.path.dirname(base)
    elif fs.isdir(root):
        base = root
    else:
        base = os.path.dirname(root)
    return os.path.relpath(os.path.abspath(name), os.path.abspath(base or "."))


def _is_hidden(relative: str) -> bool:
    # Spark and Hadoop write _SUCCESS, _metadata and .crc files next to the data.
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def detect_format(path: str, configured: Format = "auto") -> tuple[str, str | None]:
    """Returns ``(format, compression)`` for a file name; raises InputError if ``auto`` cannot tell."""
    name = os.path.basename(path).lower()
    root, ext = os.path.splitext(name)
    compression = _COMPRESSIONS.get(ext)
    if compression:
        name = root
    if configured != "auto":
        if configured == "parquet" and compression:
            raise InputError(
                path, "compressed Parquet files are not supported; Parquet compresses internally"
            )
        return configured, compression
    fmt = _EXTENSIONS.get(os.path.splitext(name)[1])
    if fmt is None:
        raise InputError(
            path,
            "cannot infer the format from the file name; expected .parquet, .pq, .jsonl, .ndjson or .json "
            "(optionally .gz/.zst), or set 'format' on the input",
        )
    if fmt == "parquet" and compression:
        raise InputError(path, "compressed Parquet files are not supported; Parquet compresses internally")
    return fmt, compression


def expand_files(spec: InputSpec) -> list[InputFile]:
    """Expands every path of ``spec`` into files, sorted by path within each configured path.

    A directory contributes every file under it (recursively) except hidden ones (``.*``, ``_*``, such as
    ``_SUCCESS``); a glob skips hidden files too unless its last part starts with ``.`` or ``_``.
    Raises InputError naming a path that does not exist, a glob that matches nothing, or a directory
    with no files. The same file listed twice is read once.
    """
    files: list[InputFile] = []
    seen: set[str] = set()
    for configured in spec.paths:
        fs, root = _filesystem(configured)
        if _has_glob(configured):
            details = fs.glob(root, detail=True)
            # Like a directory, a pattern skips hidden files unless it names them itself ("_part-*").
            show_hidden = _is_hidden(os.path.basename(root))
            found = {
                name: info
                for name, info in details.items()
                if info.get("type") != "directory" and (show_hidden or not _is_hidden(os.path.basename(name)))
            }
            if not found:
                raise InputError(configured, "no files match this pattern")
        elif fs.isdir(root):
            details = fs.find(root, detail=True)
            found = {
                name: info
                for name, info in details.items()
                if info.get("type") != "directory" and not _is_hidden(name[len(root.rstrip("/")) :])
            }
            if not found:
                raise InputError(configured, "the directory holds no data files")
        elif fs.exists(root):
            found = {root: fs.info(root)}
        else:
            raise InputError(configured, "no such file or directory")
        for name in sorted(found):
            path = _display_path(fs, name)
            if path in seen:
                continue
            seen.add(path)
            fmt, compression = detect_format(path, spec.format)
            size = found[name].get("size")
            files.append(
                InputFile(
                    path=path,
                    size=int(size if size is not None else fs.size(name)),
                    format=fmt,
                    compression=compression,
                    kind=spec.kind,
                    spec_name=spec.label,
                    source=lineage_name(fs, configured, root, name),
                )
            )
    return files


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
        with _parquet_file(file.path) as parquet:
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


def _open_binary(path: str):
    fs, inner = _filesystem(path)
    try:
        return fs.open(inner, "rb")
    except FileNotFoundError as exc:
        raise InputError(path, "the file disappeared after planning") from exc


@contextmanager
def _parquet_file(path: str) -> Iterator[pq.ParquetFile]:
    """Opens a Parquet file (natively when local) and closes it after use."""
    from fsspec.implementations.local import LocalFileSystem

    fs, inner = _filesystem(path)
    with ExitStack() as stack:
        try:
            if isinstance(fs, LocalFileSystem):
                source = inner
            else:
                source = stack.enter_context(fs.open(inner, "rb"))
            parquet = stack.enter_context(pq.ParquetFile(source))
        except (pa.ArrowException, OSError) as exc:
            raise InputError(path, f"not a readable Parquet file ({exc})") from exc
        yield parquet
