"""Checkpoints of the augmentation driver: finished batches on disk, and what each method produced.

See ``sftforge.jobs.augment.driver`` for the layout of the work directory and how a run resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, BinaryIO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.operators.augment import (
    filters,
)
from sftforge.operators.augment.provenance import (
    DeadLetter,
    GeneratedRow,
    dead_letter_table,
    generated_table,
)
from sftforge.operators.llm_client import BUDGET_EXHAUSTED, EndpointOutage, LLMConfig, LLMResult
from sftforge.operators.llm_client.request import is_endpoint_failure

log = logging.getLogger("sftforge.augment")

STATE_SCHEMA_SELF_INSTRUCT = pa.schema(
    [("language", pa.string()), ("instruction", pa.string()), ("is_classification", pa.bool_())]
)
STATE_SCHEMA_PARENTS = pa.schema([("parent_hash", pa.uint64())])


# --- Checkpoints ------------------------------------------------------------------------------------


def fingerprint(method: str, settings: Mapping[str, Any], llm: LLMConfig, extra: str = "") -> str:
    """Short hash of what shapes a method's output (its target excluded, so a raised target resumes)."""
    material = {
        "method": method,
        "settings": {key: value for key, value in settings.items() if key not in ("target_rows", "enabled")},
        "sampling": llm.sampling_parameters(),
        "structured_output": llm.structured_output,
        "model": model_identity(llm),
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_MODEL_DIGESTS: dict[tuple[str, int, int], str] = {}


def model_identity(llm: LLMConfig) -> dict[str, str | None]:
    """The model's name, plus the SHA-256 of its file for a local model (a changed GGUF starts afresh)."""
    path = None
    if llm.backend == "local":
        from sftforge.operators.llm_client.local_server import default_model_path

        path = llm.local.model_path or default_model_path()
    if path is None or not Path(path).is_file():
        return {"name": llm.model, "file_sha256": None}
    stat = Path(path).stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _MODEL_DIGESTS:  # a model file is large: hashed once per process
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _MODEL_DIGESTS[key] = digest.hexdigest()
    return {"name": llm.model, "file_sha256": _MODEL_DIGESTS[key]}


class Checkpoints:
    """The finished batches of one method in its work folder: a local folder or any fsspec URL.

    Attributes:
        url: The folder as given (a local path or URL); part and dead-letter files are named under it.
        name: The folder's last component (``<method>-<fingerprint>``).
    """

    def __init__(self, root: str | PurePath):
        from fsspec.core import url_to_fs

        self.url = str(root).rstrip("/") or "/"
        self.fs, inner = url_to_fs(self.url)
        self.root = inner.rstrip("/")
        self.name = self.root.rsplit("/", 1)[-1]

    def _path(self, kind: str, batch: int, suffix: str = "parquet") -> str:
        return f"{self.root}/{kind}-{batch:06d}.{suffix}"

    def finished(self) -> list[int]:
        """Numbers of the finished batches, ascending."""
        names = (path.rsplit("/", 1)[-1] for path in self.fs.glob(f"{self.root}/done-*.json"))
        return sorted(int(name[len("done-"):-len(".json")]) for name in names)

    def info(self, batch: int) -> dict[str, Any]:
        return json.loads(self.fs.cat_file(self._path("done", batch, "json")))

    def state(self, batch: int) -> pa.Table:
        with self.fs.open(self._path("state", batch), "rb") as handle:
            return pq.read_table(handle)

    def part(self, batch: int) -> str:
        """The part file's path or URL (readable with ``read_parquet_file``)."""
        return f"{self.url}/part-{batch:06d}.parquet"

    def dead(self, batch: int) -> str:
        return f"{self.url}/dead-{batch:06d}.parquet"

    def source(self, batch: int) -> str:
        """The ``source`` of a batch's generated rows."""
        return f"augment/{self.name}/part-{batch:06d}.parquet"

    def write(
        self, batch: int, rows: pa.Table, dead: pa.Table, state: pa.Table, info: dict[str, Any] | None
    ) -> None:
        """Writes a batch's files, the ``done`` marker last; ``info`` None: no marker (not finished)."""
        self.fs.makedirs(self.root, exist_ok=True)
        for kind, table in (("part", rows), ("dead", dead), ("state", state)):
            _put(self.fs, self._path(kind, batch), lambda handle, table=table: pq.write_table(table, handle))
        if info is None:
            return
        marker = json.dumps(info, sort_keys=True).encode("utf-8")
        _put(self.fs, self._path("done", batch, "json"), lambda handle: handle.write(marker))


def _put(fs, path: str, write: Callable[[BinaryIO], Any]) -> None:
    """Writes a file whole: locally to a temporary name renamed over the target; on an object store a
    PUT is already all or nothing (and a rename there is a copy)."""
    if not _is_local(fs):
        with fs.open(path, "wb") as handle:
            write(handle)
        return
    folder, name = path.rsplit("/", 1)
    temporary = f"{folder}/.tmp-{name}"
    with fs.open(temporary, "wb") as handle:
        write(handle)
    os.replace(temporary, path)


def _is_local(fs) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol


def join_url(base: str | PurePath, name: str) -> str:
    """``base/name`` for a local folder or an fsspec URL (``s3://bucket/x`` stays a URL)."""
    if isinstance(base, str):
        return f"{base.rstrip('/')}/{name}"
    return str(base / name)


def read_parquet_file(url: str, schema: pa.Schema | None = None) -> pa.Table:
    """One Parquet file from a local path or an fsspec URL."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as handle:
        return pq.read_table(handle, schema=schema)


def read_bytes(url: str) -> bytes:
    """A whole file from a local path or an fsspec URL."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    return fs.cat_file(path)


def dataset_paths(urls: list[str]) -> tuple[list[str], Any]:
    """``(paths, filesystem)`` for ``ray.data.read_parquet``: local paths as they are with None, URLs as
    paths inside their fsspec filesystem (its endpoint and credentials travel with it)."""
    from fsspec.core import url_to_fs

    if not urls:
        return urls, None
    fs, _ = url_to_fs(urls[0])
    if _is_local(fs):
        return urls, None
    return [url_to_fs(url)[1] for url in urls], fs


class ProgressSink(Protocol):
    """Where methods report rows as they finish batches (``sftforge.jobs.augment.driver.ProgressBoard``)."""

    def advance(self, method: str, rows: int) -> None: ...


# --- Results ----------------------------------------------------------------------------------------


@dataclass
class MethodOutcome:
    """What one method produced, this run and earlier runs together.

    Attributes:
        method: The method.
        folder: Its checkpoint folder (local path or fsspec URL).
        target: The configured target.
        rows: Generated rows in the finished batches.
        resumed_rows: Of those, rows found already finished when this run started.
        counters: Funnel counters summed over the finished batches.
        stopped: Why it stopped short of the target (None when it reached it).
        parts: Part files of the finished batches (generated rows).
        dead_parts: Dead-letter files of the finished batches.
    """

    method: str
    folder: str
    target: int
    rows: int = 0
    resumed_rows: int = 0
    counters: Counter = field(default_factory=Counter)
    stopped: str | None = None
    parts: list[str] = field(default_factory=list)
    dead_parts: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        dead = {key.split(".", 1)[1]: value for key, value in sorted(self.counters.items()) if key.startswith("dead.")}
        skipped = {
            key.split(".", 1)[1]: value for key, value in sorted(self.counters.items()) if key.startswith("skipped.")
        }
        plain = {
            key: value for key, value in sorted(self.counters.items()) if not key.startswith(("dead.", "skipped."))
        }
        return {
            "target": self.target,
            "rows": self.rows,
            "resumed_rows": self.resumed_rows,
            "stopped": self.stopped,
            "funnel": plain,
            "dead_lettered": dead,
            "parents_skipped": skipped,
        }


@dataclass
class AugmentOutcome:
    """All methods' outcomes, in run order."""

    methods: dict[str, MethodOutcome] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(outcome.rows for outcome in self.methods.values())

    @property
    def parts(self) -> list[str]:
        return [part for outcome in self.methods.values() for part in outcome.parts]

    @property
    def dead_parts(self) -> list[str]:
        return [part for outcome in self.methods.values() for part in outcome.dead_parts]

    def rows_by_method(self) -> dict[str, int]:
        return {method: outcome.rows for method, outcome in self.methods.items()}

    def report(self) -> dict[str, Any]:
        return {
            "rows_generated": self.rows,
            "rows_by_method": self.rows_by_method(),
            "methods": {method: outcome.report() for method, outcome in self.methods.items()},
        }


@dataclass
class BatchOutput:
    """One batch's generated rows, dead letters, resume state and counters."""

    rows: list[GeneratedRow] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    state: pa.Table | None = None
    counters: Counter = field(default_factory=Counter)
    budget_exhausted: bool = False
    endpoint_failures: int = 0
    last_failure: str | None = None

    def drop(self, letter: DeadLetter) -> None:
        self.dead.append(letter)
        self.counters[f"dead.{letter.reason}"] += 1

    def call_failed(self, method: str, parent_id: str | None, step: str, result: LLMResult) -> None:
        """A call that gave no answer: a dead letter when the reply was bad, nothing when the endpoint failed.

        An endpoint failure says nothing about the row: the batch is then not finished, and a re-run asks
        again (``FailureGate`` decides whether this run goes on).
        """
        self.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
        if is_endpoint_failure(result.reason):
            self.endpoint_failures += 1
            self.last_failure = result.reason
            return
        self.drop(llm_dead_letter(method, parent_id, step, result))


class FailureGate:
    """Counts a stage's units of work (parents, prompts) and those hit by an endpoint failure.

    With ``on_failure: fail``, more failures than ``max_failure_rate`` of the units seen so far raise
    ``EndpointOutage``; with ``keep``, the run goes on and the failures are only counted.
    """

    def __init__(self, stage: str, llm: LLMConfig):
        self.stage = stage
        self.on_failure = llm.on_failure
        self.max_rate = llm.max_failure_rate
        self.total = 0
        self.failed = 0

    def add(self, units: int, output: BatchOutput) -> None:
        self.total += units
        self.failed += min(units, output.endpoint_failures)
        if self.on_failure == "fail" and self.failed > self.max_rate * self.total:
            raise EndpointOutage(self.stage, self.failed, self.total, output.last_failure or "unknown")


def llm_dead_letter(method: str, parent_id: str | None, step: str, result: LLMResult) -> DeadLetter:
    return DeadLetter(
        method=method,
        parent_id=parent_id,
        step=step,
        reason=result.reject_reason or "llm_unknown",
        detail=result.detail,
        raw=result.raw,
        template=result.template,
        model=result.model,
    )


def trim_to_target(output: BatchOutput, room: int) -> None:
    if len(output.rows) > room:
        output.counters["trimmed_over_target"] += len(output.rows) - room
        del output.rows[room:]


def finish_batch(
    checkpoints: Checkpoints, outcome: MethodOutcome, batch: int, output: BatchOutput, state_schema: pa.Schema
) -> None:
    """Writes a batch; one with endpoint failures is written without its ``done`` marker (re-run asks again)."""
    rows = dedup_rows(output)
    source = checkpoints.source(batch)
    table = generated_table(rows, source)
    dead = dead_letter_table(output.dead)
    state = output.state if output.state is not None else state_schema.empty_table()
    output.counters["rows"] += table.num_rows
    output.counters["batches"] += 1
    info = {"batch": batch, "rows": table.num_rows, "counters": dict(output.counters)}
    if output.endpoint_failures:
        info = None
        outcome.counters["batches_unfinished_endpoint_failure"] += 1
        outcome.counters["calls_failed_endpoint"] += output.endpoint_failures
    checkpoints.write(batch, table, dead, state, info)
    outcome.rows += table.num_rows
    outcome.counters.update(output.counters)
    outcome.parts.append(checkpoints.part(batch))
    outcome.dead_parts.append(checkpoints.dead(batch))


def dedup_rows(output: BatchOutput) -> list[GeneratedRow]:
    seen: set[str] = set()
    rows = []
    for row in output.rows:
        if row.doc_id in seen:
            output.drop(DeadLetter(row.method, row.parent_id, "rows", filters.DUPLICATE, candidate=row.instruction))
            continue
        seen.add(row.doc_id)
        rows.append(row)
    return rows


def load_finished(checkpoints: Checkpoints, outcome: MethodOutcome) -> list[int]:
    finished = checkpoints.finished()
    for batch in finished:
        info = checkpoints.info(batch)
        outcome.rows += int(info["rows"])
        outcome.counters.update(info["counters"])
        outcome.parts.append(checkpoints.part(batch))
        outcome.dead_parts.append(checkpoints.dead(batch))
    outcome.resumed_rows = outcome.rows
    return finished


