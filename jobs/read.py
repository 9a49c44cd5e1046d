"""Reads a job's inputs into one Ray Dataset of base-schema rows.

Planning (listing files, reading Parquet footers) happens on the driver, so a missing path or a corrupt
Parquet file stops the job with an ``InputError`` before any task starts. Each read unit then becomes
one Ray task that streams its batches (see ``sftforge.operators.read.reader``), and reports the rows it produced to
the run's counters, so that the end-of-run accounting does not have to trust the data it checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import pyarrow as pa
from sftforge.jobs import stats
from sftforge.jobs.runner import task_retry_args
from sftforge.operators import schema
from sftforge.operators.base import TASK_NUM_CPUS
from sftforge.operators.read.errors import InputError
from sftforge.operators.read.files import InputFile, expand_files
from sftforge.operators.read.planning import ReadUnit, units_for_files
from sftforge.operators.read.reader import read_unit
from sftforge.operators.read.records import READ_STAGE
from sftforge.operators.read.spec import InputSpec

#: Counter scope with one entry per input file: rows read from it.
READ_FILES_SCOPE = "read_files"
#: CPUs per read task: the task stages' share, so that the stages after the read fuse with it.
READ_NUM_CPUS = TASK_NUM_CPUS
_HASH_CHUNK = 4 * 1024 * 1024


def plan_inputs(specs: Sequence[InputSpec]) -> tuple[list[ReadUnit], list[InputFile]]:
    """Lists every input's files and read units; raises InputError naming the first unusable path.

    A file listed by two inputs is an error: it would be read twice.
    """
    units: list[ReadUnit] = []
    files: list[InputFile] = []
    owner: dict[str, int] = {}
    for index, spec in enumerate(specs):
        found = expand_files(spec)
        for file in found:
            if file.path in owner:
                raise InputError(file.path, f"listed by inputs[{owner[file.path]}] and inputs[{index}]")
            owner[file.path] = index
        files.extend(found)
        units.extend(units_for_files(spec, found))
    return units, files


def read_inputs(specs: Sequence[InputSpec], stats_actor: str | None = None, num_cpus: float = READ_NUM_CPUS):
    """Plans the reads on the driver and returns the Dataset that performs them.

    Args:
        specs: The job's inputs.
        stats_actor: Name of the run's ``jobs.stats`` actor. Each read unit adds, once it is fully read,
            ``rows``/``in``/``kept``/``rejected`` to scope ``read`` and its rows to scope ``read_files``
            under the file's path.
        num_cpus: CPUs reserved per read task.

    Returns:
        The Dataset (lazy; every block in ``schema.BASE_SCHEMA``, rows the reader rejected marked with
        ``reject_stage="read"``) and one dict per input file for the manifest: ``path``, ``size``,
        ``sha256`` (of the file's bytes), ``format``, ``compression``, ``kind``, ``input``.

    Raises:
        InputError: A path matches nothing, a format cannot be inferred, a Parquet footer is corrupt, or
            a file is listed twice. Errors found while reading (a missing column, a broken JSON array)
            surface when the Dataset executes; ``unwrap_error`` recovers them from Ray's wrappers.
    """
    import ray.data

    units, files = plan_inputs(specs)
    file_infos = describe_files(files)
    if not units:
        return ray.data.from_arrow(schema.empty_table()), file_infos
    items = [unit.to_row() for unit in units]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(
        _read_units,
        fn_kwargs={"stats_actor": stats_actor},
        batch_size=1,
        batch_format="pyarrow",
        num_cpus=num_cpus,
        **task_retry_args(),
    )
    return ds, file_infos


def _read_units(batch: pa.Table, stats_actor: str | None) -> Iterator[pa.Table]:
    for row in batch.to_pylist():
        unit = ReadUnit.from_row(row)
        rows = rejected = 0
        for table in read_unit(unit):
            rows += table.num_rows
            rejected += table.num_rows - table.column(schema.REJECT_STAGE).null_count
            yield table
        # Counted once the unit is done, under the unit's identity: a retried task replaces its count.
        if rows:
            counts = {"rows": rows, "in": rows, "kept": rows - rejected, "rejected": rejected}
            key = stats.work_key(unit.path, unit.row_groups, unit.first_row)
            stats.record(READ_STAGE, counts, stats_actor, key=key)
            stats.record(READ_FILES_SCOPE, {unit.path: rows}, stats_actor, key=key)


def describe_files(files: Sequence[InputFile], threads: int = 4) -> list[dict]:
    """Manifest entries of the input files, with the sha256 of each file's bytes (read in parallel)."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        digests = list(pool.map(file_sha256, [file.path for file in files]))
    infos = []
    for file, digest in zip(files, digests):
        info = asdict(file)
        info["input"] = info.pop("spec_name")
        info["sha256"] = digest
        infos.append(info)
    return infos


def file_sha256(path: str) -> str:
    """sha256 of a file's bytes, read in chunks (any fsspec path)."""
    from fsspec.core import url_to_fs

    fs, inner = url_to_fs(path)
    digest = hashlib.sha256()
    try:
        with fs.open(inner, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(path, f"cannot read the file to hash it ({exc})") from exc
    return digest.hexdigest()


def unwrap_error(exc: BaseException) -> BaseException:
    """The error a user should see: ``exc`` without the Ray wrappers around an error raised in a task.

    Ray Data re-raises a task's exception wrapped in ``UserCodeException`` and ``RayTaskError`` (whose
    dynamic subclass also passes ``isinstance`` checks for the original type, but prints a traceback).
    This follows ``cause`` and ``__cause__`` through those wrappers to the first plain exception.
    """
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        if not _is_ray_wrapper(current):
            return current
        inner = getattr(current, "cause", None)
        if not isinstance(inner, BaseException):
            inner = current.__cause__ or current.__context__
        if inner is None:
            return current
        current = inner
    return current


def _is_ray_wrapper(exc: BaseException) -> bool:
    try:
        from ray.data.exceptions import UserCodeException
        from ray.exceptions import RayError
    except ImportError:  # pragma: no cover - ray is a dependency
        return False
    return isinstance(exc, RayError | UserCodeException)
