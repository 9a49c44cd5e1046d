"""Finding an input's files on any fsspec filesystem: listing, format detection, lineage names, opening.

Runs on the driver when planning (``expand_files``) and on workers when reading (``open_binary``,
``open_parquet``); it never reads a row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.operators.read.errors import InputError

if TYPE_CHECKING:
    from sftforge.operators.read.spec import Format, InputSpec

_EXTENSIONS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
_COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


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


def filesystem(path: str):
    """``(filesystem, path within it)`` for a local path or URL; raises InputError when none is known."""
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
        fs, root = filesystem(configured)
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


def open_binary(path: str):
    """Opens a planned file for reading bytes; raises InputError when it has gone since planning."""
    fs, inner = filesystem(path)
    try:
        return fs.open(inner, "rb")
    except FileNotFoundError as exc:
        raise InputError(path, "the file disappeared after planning") from exc


@contextmanager
def open_parquet(path: str) -> Iterator[pq.ParquetFile]:
    """Opens a Parquet file (natively when local) and closes it after use."""
    from fsspec.implementations.local import LocalFileSystem

    fs, inner = filesystem(path)
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
