"""Readers: Parquet, JSONL and JSON array files into batches of the base schema.

Reading happens in two steps so that unusable inputs fail before any heavy work starts:

1. ``plan_read_units(spec)`` expands an ``InputSpec`` (a file, a directory, a glob or a list of those, on
   any fsspec filesystem) into ``ReadUnit`` s on the driver. It raises ``InputError`` naming the path for a
   pattern that matches nothing, a format it cannot infer, or a Parquet file whose footer is unreadable.
   A Parquet file becomes one unit per range of row groups (bounded work per unit); any other file is one
   unit.
2. ``read_unit(unit)`` streams one unit into ``pyarrow.Table`` batches of ``schema.BASE_SCHEMA``, with a
   bounded number of rows and bytes each.

Every source row comes out as exactly one row: either live, or rejected by stage ``read`` with a reason
(``invalid_utf8``, ``invalid_json: ...``, ``null_text``, ``empty_text``, ``row_too_large: N bytes > M``,
``missing_instruction``, ``missing_output``, ...) and whatever text could be recovered, so that input rows
always equal live rows plus rejected rows. A blank line in a JSONL file counts as a row and is rejected as
``empty_line``; ``source_row`` is then the 0-based line number, which makes a row easy to find again.
A file that cannot be read at all (corrupt Parquet, a configured column missing, a JSON array that is not
valid JSON) raises ``InputError`` naming the file instead. An empty file yields nothing.

``doc_id`` is a content hash (BLAKE2b, 128 bits) of the row's kind and content fields, so the same content
gets the same id in any file, on any worker, on every run. A rejected row's id also covers its file and
row, because rejects often share content (two blank lines are still two rows).
"""

from __future__ import annotations

import io
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
    REJECT_PREVIEW_CHARS,
    ROW_ERRORS,
    ColumnPlan,
    InputError,
    Rejected,
    RowBuilder,
    content_id,
    describe_row_error,
    resolve_columns,
)

__all__ = [
    "BATCH_BYTES",
    "BATCH_ROWS",
    "DEFAULT_ALIASES",
    "READ_STAGE",
    "InputError",
    "InputFile",
    "InputSpec",
    "ReadUnit",
    "content_id",
    "detect_format",
    "expand_files",
    "plan_read_units",
    "read_table",
    "read_unit",
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


# ---------------------------------------------------------------------------------------------------
# Reading


def read_unit(unit: ReadUnit) -> Iterator[pa.Table]:
    """Streams one unit into base-schema batches (at most ``BATCH_ROWS`` rows, about ``BATCH_BYTES``).

    Raises InputError naming the file when the file as a whole cannot be read.
    """
    if unit.format == "parquet":
        yield from _read_parquet(unit)
    elif unit.format == "jsonl":
        yield from _read_jsonl(unit)
    elif unit.format == "json":
        yield from _read_json(unit)
    else:
        raise InputError(unit.path, f"unknown format '{unit.format}'")


def read_table(unit: ReadUnit) -> pa.Table:
    """All batches of a unit as one table (tests, small files)."""
    batches = list(read_unit(unit))
    return pa.concat_tables(batches) if batches else schema.empty_table()


def _open_text_stream(unit: ReadUnit) -> io.BufferedIOBase:
    raw = _open_binary(unit.path)
    if unit.compression is None:
        return io.BufferedReader(raw, buffer_size=1024 * 1024)
    stream = pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), unit.compression)
    return io.BufferedReader(stream, buffer_size=1024 * 1024)


def _iter_lines(stream, max_bytes: int) -> Iterator[tuple[int, bytes | None, bytes, int]]:
    """Yields ``(line_no, line, head, size)``; ``line`` is None for a line longer than ``max_bytes``.

    A giant line is never held whole: its head is kept as evidence and the rest is skipped in chunks.
    """
    line_no = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            head, size = line[: REJECT_PREVIEW_CHARS * 4], len(line)
            while True:
                chunk = stream.readline(1024 * 1024)
                size += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield line_no, None, head, size - (1 if chunk.endswith(b"\n") else 0)
        else:
            yield line_no, line, b"", len(line)
        line_no += 1


def _read_jsonl(unit: ReadUnit) -> Iterator[pa.Table]:
    builder = RowBuilder(unit, None)
    with _open_text_stream(unit) as stream:
        try:
            for line_no, line, head, size in _iter_lines(stream, unit.max_row_bytes):
                _add_json_line(builder, line_no, line, head, size)
                if builder.full():
                    yield builder.flush()
        except (OSError, pa.ArrowException, EOFError) as exc:
            raise InputError(unit.path, f"cannot read the file ({exc})") from exc
    if len(builder):
        yield builder.flush()


def _add_json_line(
    builder: RowBuilder,
    line_no: int,
    line: bytes | None,
    head: bytes,
    size: int,
) -> None:
    unit = builder.unit
    if line is None:
        builder.add_rejected(
            line_no, f"row_too_large: {size} bytes > {unit.max_row_bytes}", head.decode("utf-8", "replace")
        )
        return
    if line_no == 0 and line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        builder.add_rejected(
            line_no, f"invalid_utf8: byte {exc.start}", line.decode("utf-8", "replace").rstrip("\r\n")
        )
        return
    if not text.strip():
        builder.add_rejected(line_no, "empty_line", None)
        return
    text = text.rstrip("\r\n")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        builder.add_rejected(line_no, f"invalid_json: {exc.msg}: column {exc.colno}", text)
        return
    except ROW_ERRORS as exc:
        builder.add_rejected(line_no, f"invalid_json: {describe_row_error(exc)} at {builder.source}:{line_no}", text)
        return
    _add_record(builder, line_no, record, text)


def _add_record(builder: RowBuilder, row: int, record: Any, raw: str | None) -> None:
    if not isinstance(record, dict):
        evidence = raw if raw is not None else json.dumps(record, ensure_ascii=False)[:REJECT_PREVIEW_CHARS]
        builder.add_rejected(row, f"not_an_object: {type(record).__name__}", evidence)
        return
    unit = builder.unit
    if builder.plan is None:
        # The first object decides the columns of the file, as a Parquet schema would; optional columns
        # (input, system) are looked up in each record.
        builder.plan = resolve_columns(
            unit.kind, dict(unit.columns), list(record), unit.path, optional_per_record=True
        )
    plan = builder.plan
    if not _fits(plan, record) and not unit.columns:
        # Merged files mix schemas (question/answer rows beside instruction/output rows): a row the
        # file's plan does not fit is mapped by its own keys, or rejected naming them.
        try:
            plan = resolve_columns(unit.kind, {}, list(record), unit.path, optional_per_record=True)
        except InputError:
            if set(record) & set(plan.source_columns):
                builder.add_record(row, record, raw)  # the file's schema with a field missing
                return
            keys = ", ".join(sorted(map(str, record))[:12]) or "none"
            builder.add_rejected(row, f"unmapped_row: no usable columns; keys found: {keys}", raw)
            return
    if plan is builder.plan:
        builder.add_record(row, record, raw)
        return
    file_plan, builder.plan = builder.plan, plan
    try:
        builder.add_record(row, record, raw)
    finally:
        builder.plan = file_plan


def _fits(plan: ColumnPlan, record: Mapping[str, Any]) -> bool:
    """Whether every required column of ``plan`` (one candidate) is a key of ``record``."""
    return all(
        len(names) != 1 or names[0] in record
        for canonical, names in plan.sources.items()
        if canonical not in (schema.INPUT, schema.SYSTEM)
    )


def _read_json(unit: ReadUnit) -> Iterator[pa.Table]:
    with _open_text_stream(unit) as stream:
        try:
            first = stream.peek(4096)[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        except (OSError, pa.ArrowException) as exc:
            raise InputError(unit.path, f"cannot read the file ({exc})") from exc
        if first.startswith(b"{"):
            # Many ".json" files are JSON Lines; reading them as such keeps memory bounded.
            yield from _read_jsonl(ReadUnit(**{**asdict(unit), "format": "jsonl"}))
            return
        # A JSON array is parsed whole: there is no streaming parser in the standard library.
        data = stream.read()
    if not data.strip():
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            unit.path, f"invalid UTF-8 at byte {exc.start}; the JSON array cannot be parsed"
        ) from exc
    del data
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            unit.path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ROW_ERRORS as exc:
        # A JSON array is parsed whole, so one bad element spoils the file; JSON Lines reject the row.
        raise InputError(unit.path, f"cannot parse the JSON array: {describe_row_error(exc)}") from exc
    del text
    if not isinstance(records, list):
        raise InputError(
            unit.path, f"expected a JSON array of objects, found a JSON {type(records).__name__}"
        )
    builder = RowBuilder(unit, None)
    for index, record in enumerate(records):
        _add_record(builder, index, record, None)
        records[index] = None  # lets parsed rows go as soon as they are converted
        if builder.full():
            yield builder.flush()
    if len(builder):
        yield builder.flush()


_SCALAR_TYPES = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_string_view,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_dictionary,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_boolean,
    pa.types.is_null,
    pa.types.is_decimal,
)


def _read_parquet(unit: ReadUnit) -> Iterator[pa.Table]:
    with _parquet_file(unit.path) as parquet:
        yield from _read_parquet_file(unit, parquet)


def _read_parquet_file(unit: ReadUnit, parquet: pq.ParquetFile) -> Iterator[pa.Table]:
    arrow_schema = parquet.schema_arrow
    plan = resolve_columns(unit.kind, dict(unit.columns), arrow_schema.names, unit.path)
    for canonical, (source,) in plan.sources.items():
        type_ = arrow_schema.field(source).type
        if canonical != schema.MESSAGES and not any(check(type_) for check in _SCALAR_TYPES):
            raise InputError(
                unit.path, f"column '{source}' (for '{canonical}') has type {type_}, expected text"
            )
    read_columns = plan.source_columns + [
        name for name in unit.keep_columns if name in arrow_schema.names and name not in plan.source_columns
    ]
    metadata = parquet.metadata
    groups = list(unit.row_groups) or list(range(metadata.num_row_groups))
    builder = RowBuilder(unit, plan)
    row = unit.first_row
    try:
        for group in groups:
            meta = metadata.row_group(group)
            # Bounds batch memory for files with very large rows, from the footer's size estimate.
            average = max(1, meta.total_byte_size // max(1, meta.num_rows))
            batch_rows = max(1, min(BATCH_ROWS, BATCH_BYTES // average))
            for batch in parquet.iter_batches(
                batch_size=batch_rows, row_groups=[group], columns=read_columns, use_threads=False
            ):
                for record, rejected in _parquet_records(batch, plan):
                    if rejected is not None:
                        builder.add_rejected(row, rejected.reason, rejected.text, rejected.fields)
                    else:
                        builder.add_record(row, record)
                    row += 1
                    if builder.full():
                        yield builder.flush()
    except (OSError, pa.ArrowException) as exc:
        raise InputError(unit.path, f"cannot read row group data ({exc})") from exc
    if len(builder):
        yield builder.flush()


def _parquet_records(
    batch: pa.RecordBatch, plan: ColumnPlan
) -> Iterator[tuple[dict[str, Any], Rejected | None]]:
    names = batch.schema.names
    values: dict[str, list] = {}
    bad_utf8: dict[int, str] = {}
    for name in names:
        column = batch.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            values[name] = _decode_binary(column, name, bad_utf8)
            continue
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                values[name] = _decode_binary(column.cast(pa.large_binary()), name, bad_utf8)
                continue
        values[name] = column.to_pylist()
    for index in range(batch.num_rows):
        record = {name: values[name][index] for name in names}
        if index in bad_utf8:
            yield (
                record,
                Rejected(
                    f"invalid_utf8: column {bad_utf8[index]}", text=None, fields=_recovered(record, plan)
                ),
            )
        else:
            yield record, None


def _decode_binary(column: pa.Array, name: str, bad_utf8: dict[int, str]) -> list[str | None]:
    decoded = []
    for index, value in enumerate(column.to_pylist()):
        if value is None:
            decoded.append(None)
            continue
        try:
            decoded.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            decoded.append(value.decode("utf-8", "replace"))
            bad_utf8.setdefault(index, name)
    return decoded


def _recovered(record: Mapping[str, Any], plan: ColumnPlan) -> dict[str, Any]:
    return {canonical: value for canonical, value in plan.values(record).items() if isinstance(value, str)}
