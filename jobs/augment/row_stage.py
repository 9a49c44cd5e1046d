"""The per-row methods as an actor-pool stage over the Dataset: streaming, one engine per actor and method.

Every batch passes through unchanged (provenance columns added as nulls) followed by the rows generated
from its parents. Which rows are parents depends on the row alone (kind, eligibility and a seeded hash of
``doc_id`` against ``sample_rate``), so a re-run or another cluster size picks the same parents.

A method's batches are checkpointed on an fsspec path (a local folder or a URL every worker reaches)::

    <work_dir>/<method>-<fingerprint>/batches/<key>/part.parquet   generated rows
                                                  dead.parquet   dead letters
                                                  done.json      counters; only when every call answered
                                      runs/<run_id>/<key>.json   what this run emitted for the batch

``key`` hashes the batch's parents, so a batch retried after an actor died, or met again in a re-run,
replays its finished rows instead of asking again. A batch with endpoint failures has no ``done``: a
re-run asks again (the answered calls come from the response cache). The ``runs`` markers are keyed
the same way, so the rows a run generated are counted from them exactly once however often Ray retried.

``target_rows`` holds across workers through a small named actor (``TargetCounter``) that sums accepted
rows per method and batch key: a worker starts a batch only while the target is open, so the overshoot
is at most one batch per worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.jobs.augment.checkpoints import BatchOutput, FailureGate, dedup_rows
from sftforge.jobs.augment.document_methods import InstructionBacktranslationMethod, QAGenerationMethod
from sftforge.jobs.augment.row_methods import (
    ParaphraseMethod,
    Parent,
    RoundTripMethod,
    RowMethod,
    parent_hash,
    parents_from_table,
)
from sftforge.operators import schema
from sftforge.operators.augment import filters
from sftforge.operators.augment.config import AugmentConfig
from sftforge.operators.augment.provenance import (
    AUGMENT_DEAD_LETTER_SCHEMA,
    GENERATED_SCHEMA,
    dead_letter_table,
    generated_table,
    with_provenance_columns,
)
from sftforge.operators.llm_client import EndpointOutage, LLMConfig, LLMEngine

log = logging.getLogger("sftforge.augment")

#: Seconds between two progress lines of one worker.
PROGRESS_EVERY_S = 5.0

ROW_METHODS = ("round_trip", "paraphrase", "instruction_backtranslation", "qa_generation")


def build_row_methods(config: AugmentConfig, llm: LLMConfig) -> list[RowMethod]:
    """The enabled per-row methods (their checkpoint folder names carry the fingerprint)."""
    methods: list[RowMethod] = []
    enabled = config.methods()
    for name in ROW_METHODS:
        if name not in enabled:
            continue
        method_config = enabled[name]
        if name == "round_trip":
            methods.append(RoundTripMethod(method_config, llm, _NOWHERE))
        elif name == "paraphrase":
            methods.append(ParaphraseMethod(method_config, llm, _NOWHERE))
        elif name == "instruction_backtranslation":
            seeds = method_config.seed_tasks or (config.self_instruct.seed_tasks if config.self_instruct else None)
            methods.append(InstructionBacktranslationMethod(method_config, llm, _NOWHERE, seeds))
        else:
            methods.append(QAGenerationMethod(method_config, llm, _NOWHERE))
    return methods


class _Nowhere:
    """Stands for the work folder when only the checkpoint folder's name is wanted."""

    def __truediv__(self, name: str):
        from pathlib import PurePosixPath

        return PurePosixPath(name)


_NOWHERE = _Nowhere()


def select_parents(method: RowMethod, rows: list[dict[str, Any]], counters: Counter) -> list[Parent]:
    """The rows of a batch that are parents of ``method``: decided by each row alone."""
    parents, seen = [], set()
    for row in rows:
        doc_id = row[schema.DOC_ID]
        if row[schema.KIND] != method.kind or not doc_id or doc_id in seen:
            continue
        if parent_hash(method.method, doc_id) / 2**64 >= method.config.sample_rate:
            continue
        reason = method.skip_reason(row)
        if reason is not None:
            counters[f"skipped.{reason}"] += 1
            continue
        seen.add(doc_id)
        content = row[schema.TEXT] if method.kind == schema.KIND_DOCUMENT else row[schema.INSTRUCTION]
        parents.append(Parent(doc_id, row[schema.KIND], row[schema.TEXT] or "", row[schema.INSTRUCTION] or "",
                              row[schema.INPUT] or "", row[schema.OUTPUT] or "",
                              filters.text_language(content or "") or ""))
    return parents


def batch_key(method: str, parents: list[Parent]) -> str:
    material = "\0".join([method, *sorted(p.doc_id for p in parents)])
    return hashlib.sha256(material.encode()).hexdigest()[:24]


class BatchStore:
    """One method's batches and this run's markers on an fsspec path."""

    def __init__(self, url: str):
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(url)

    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def done(self, key: str) -> dict[str, Any] | None:
        path = self._path("batches", key, "done.json")
        return json.loads(self.fs.cat_file(path)) if self.fs.exists(path) else None

    def rows(self, key: str) -> pa.Table:
        with self.fs.open(self._path("batches", key, "part.parquet"), "rb") as handle:
            return pq.read_table(handle, schema=GENERATED_SCHEMA)

    def write(self, key: str, rows: pa.Table, dead: pa.Table, info: dict[str, Any], finished: bool) -> None:
        folder = self._path("batches", key)
        self.fs.makedirs(folder, exist_ok=True)
        for name, table in (("part.parquet", rows), ("dead.parquet", dead)):
            with self.fs.open(f"{folder}/.tmp-{name}", "wb") as handle:
                pq.write_table(table, handle)
            self.fs.mv(f"{folder}/.tmp-{name}", f"{folder}/{name}")
        if finished:
            self.fs.pipe_file(f"{folder}/done.json", json.dumps(info, sort_keys=True).encode())
        elif self.fs.exists(f"{folder}/done.json"):
            self.fs.rm_file(f"{folder}/done.json")

    def mark(self, run_id: str, key: str, info: dict[str, Any] | None) -> None:
        path = self._path("runs", run_id, f"{key}.json")
        if info is None:
            if self.fs.exists(path):
                self.fs.rm_file(path)
            return
        self.fs.makedirs(self._path("runs", run_id), exist_ok=True)
        self.fs.pipe_file(path, json.dumps(info, sort_keys=True).encode())

    def record_outage(self, run_id: str, outage: EndpointOutage) -> None:
        """Keeps the outage where the driver finds it (Ray Data's wrapping exception does not carry it)."""
        self.fs.makedirs(self._path("runs", run_id), exist_ok=True)
        material = {"stage": outage.stage, "failed": outage.failed, "total": outage.total, "reason": outage.reason}
        self.fs.pipe_file(self._path("runs", run_id, "_outage.json"), json.dumps(material).encode())

    def outage(self, run_id: str) -> EndpointOutage | None:
        """The outage an actor of run ``run_id`` raised, if any."""
        path = self._path("runs", run_id, "_outage.json")
        if not self.fs.exists(path):
            return None
        return EndpointOutage(**json.loads(self.fs.cat_file(path)))

    def marks(self, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        """``(key, info)`` of every batch this run emitted."""
        folder = self._path("runs", run_id)
        if not self.fs.exists(folder):
            return []
        return [(path.rsplit("/", 1)[1][:-5], json.loads(self.fs.cat_file(path)))
                for path in sorted(self.fs.glob(f"{folder}/*.json")) if not path.endswith("/_outage.json")]

    def dead(self, key: str) -> pa.Table:
        with self.fs.open(self._path("batches", key, "dead.parquet"), "rb") as handle:
            return pq.read_table(handle, schema=AUGMENT_DEAD_LETTER_SCHEMA)


class TargetCounter:
    """Accepted rows per method across the cluster, keyed by batch (a retried batch counts once).

    It also sums what the workers report per batch (parents, candidates, requests, tokens, cost) for the
    progress lines; those sums are for watching only, the run's counters come from the batch markers.
    """

    def __init__(self, targets: dict[str, int]):
        self.targets = dict(targets)
        self.rows: dict[str, dict[str, int]] = {method: {} for method in targets}
        self.usage: dict[str, Counter] = {method: Counter() for method in targets}
        self.started = time.monotonic()

    def open(self, method: str) -> bool:
        return sum(self.rows[method].values()) < self.targets[method]

    def add(self, method: str, key: str, rows: int, usage: dict[str, float] | None = None) -> str:
        """Books a batch; returns the method's progress line."""
        self.rows[method][key] = rows
        self.usage[method].update(usage or {})
        return progress_line(method, sum(self.rows[method].values()), self.targets[method], self.usage[method],
                             time.monotonic() - self.started)

    def totals(self) -> dict[str, int]:
        return {method: sum(rows.values()) for method, rows in self.rows.items()}


def progress_line(method: str, rows: int, target: int, usage: Counter, elapsed: float) -> str:
    """One plain line: rows accepted/target, candidates, acceptance, requests/s, tokens/s, cost, ETA."""
    elapsed = max(elapsed, 1e-6)
    parents = usage.get("parents", 0)
    rate = rows / elapsed
    eta = f"{(target - rows) / rate:,.0f}s" if rate > 0 and rows < target else ("done" if rows >= target else "?")
    acceptance = f"{rows / parents:.0%}" if parents else "-"
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    return (f"augment {method}: {rows:,}/{target:,} rows, {parents:,} parents, {usage.get('candidates', 0):,} "
            f"candidates, acceptance {acceptance}, {usage.get('requests', 0) / elapsed:,.1f} req/s, "
            f"{tokens / elapsed:,.0f} tok/s, cost {usage.get('cost', 0.0):.4f}, ETA {eta}")


def start_target_counter(name: str, targets: dict[str, int]):
    import ray

    return ray.remote(num_cpus=0)(TargetCounter).options(name=name).remote(targets)


def endpoint_outage(error: BaseException) -> EndpointOutage | None:
    """The ``EndpointOutage`` an actor raised, found through Ray Data's wrapping exceptions (None: not one)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, EndpointOutage):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def method_url(work_dir: str, method: RowMethod) -> str:
    return f"{str(work_dir).rstrip('/')}/{method.checkpoints.name}"


class AugmentRows:
    """The actor: generates rows for each batch's parents and appends them to the batch.

    Args:
        config: The augmentation config.
        llm: The resolved LLM config (``LLMService.config``: the coordinator holds the cluster's limits).
        work_dir: Checkpoint folder or fsspec URL.
        run_id: This run's id (names the ``runs`` markers).
        target_actor: Name of the ``TargetCounter`` actor.
    """

    def __init__(self, config: AugmentConfig, llm: LLMConfig, work_dir: str, run_id: str, target_actor: str):
        import ray

        self.llm = llm
        self.run_id = run_id
        self.methods = build_row_methods(config, llm)
        self.stores = {m.method: BatchStore(method_url(work_dir, m)) for m in self.methods}
        self.gates = {m.method: FailureGate(f"augment.{m.method}", llm) for m in self.methods}
        self.engines: dict[str, LLMEngine] = {}
        self.target = ray.get_actor(target_actor)
        self.last_line = 0.0

    def _engine(self, method: str) -> LLMEngine:
        if method not in self.engines:
            self.engines[method] = LLMEngine(self.llm, stage=f"augment.{method}")
        return self.engines[method]

    def __call__(self, batch: pa.Table) -> pa.Table:
        import ray

        rows = parents_from_table(batch)
        parts = [with_provenance_columns(batch)]
        for method in self.methods:
            name, store = method.method, self.stores[method.method]
            counters: Counter = Counter()
            parents = select_parents(method, rows, counters)
            if not parents:
                continue
            key = batch_key(name, parents)
            info = store.done(key)
            if info is not None:
                generated = store.rows(key)
            elif ray.get(self.target.open.remote(name)):
                generated, info = self._generate(method, parents, key, counters)
            else:
                store.mark(self.run_id, key, None)  # a retry after the target closed emits nothing
                continue
            store.mark(self.run_id, key, info)
            line = ray.get(self.target.add.remote(name, key, generated.num_rows, info.get("usage")))
            if time.monotonic() - self.last_line >= PROGRESS_EVERY_S:
                self.last_line = time.monotonic()
                print(line, file=sys.stderr, flush=True)  # plain: reaches the driver and `ray job logs`
            parts.append(generated)
        target = parts[0].schema
        for part in parts[1:]:
            for field in part.schema:
                if field.name not in target.names:
                    target = target.append(field)
        return pa.concat_tables([schema.conform(part, target) for part in parts])

    def _generate(self, method: RowMethod, parents: list[Parent], key: str, counters: Counter):
        started = time.monotonic()
        engine = self._engine(method.method)
        before = engine.ledger()
        output: BatchOutput = method.process(parents, 0, engine)
        after = engine.ledger()
        usage = {name: after.get(name, 0) - before.get(name, 0)
                 for name in ("requests", "prompt_tokens", "completion_tokens", "cost")}
        output.counters.update(counters)
        output.counters["parents"] += len(parents)
        try:
            self.gates[method.method].add(len(parents), output)  # raises beyond the tolerated share
        except EndpointOutage as outage:
            self.stores[method.method].record_outage(self.run_id, outage)
            raise
        generated = generated_table(dedup_rows(output), f"augment/{method.checkpoints.name}/{key}")
        output.counters["rows"] += generated.num_rows
        output.counters["batches"] += 1
        if output.endpoint_failures:
            output.counters["batches_unfinished_endpoint_failure"] += 1
            output.counters["calls_failed_endpoint"] += output.endpoint_failures
        usage.update(parents=len(parents), candidates=output.counters.get("candidates", len(parents)))
        info = {"rows": generated.num_rows, "counters": dict(output.counters),
                "seconds": round(time.monotonic() - started, 3), "usage": usage}
        self.stores[method.method].write(key, generated, dead_letter_table(output.dead), info,
                                         finished=not output.endpoint_failures)
        return generated, info

    def __del__(self):
        for engine in self.engines.values():
            engine.close()
