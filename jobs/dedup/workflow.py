"""``run_dedup``: the steps in order, where they run as shuffles or as one task, and what a run leaves."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray
from sftforge.jobs.dedup.decisions import DECISION_SCHEMA, attach_decisions
from sftforge.jobs.dedup.exact import (
    EXACT_DECISION_SCHEMA,
    EXACT_OF,
    exact_decisions,
    exact_groups,
    exact_partition,
    resolve_exact,
    survivors_of,
)
from sftforge.jobs.dedup.index import check_index, pinned_keys, save_index
from sftforge.jobs.dedup.near import cluster_decisions, near_decisions
from sftforge.jobs.dedup.probe import build_probe, probe_part
from sftforge.jobs.dedup.report import DedupSummary, summarize
from sftforge.jobs.dedup.shuffle import (
    broadcast_table,
    cogroup,
    conform,
    lookup,
    num_partitions,
    one_task,
    select,
    view,
)
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.keys import extract_keys, key_bytes, keys_schema
from sftforge.operators.dedup.survivor import NODE, PINNED

log = logging.getLogger("sftforge.dedup")


@dataclass
class DedupRun:
    """A finished dedup.

    Attributes:
        dataset: The output Dataset (lazy: its map tasks report the accounting counters when it runs).
        source: The materialised input.
        config: The settings used.
        rows_in: Live rows of the input.
        decisions: Materialised decisions (one row per dropped row), or ``None``.
        num_decisions: Rows dropped.
        keys: Materialised key rows (new and earlier releases'), or ``None``.
        partitions: Shuffle partitions used for key rows.
        timings: Seconds per step.
    """

    dataset: Any
    source: Any
    config: DedupConfig
    rows_in: int
    decisions: Any | None = None
    num_decisions: int = 0
    keys: Any | None = None
    partitions: int = 1
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self, examples: int = 3) -> DedupSummary:
        """Counts, cluster-size histogram and example pairs for the run report."""
        return summarize(
            self.source,
            self.decisions,
            self.num_decisions,
            self.rows_in,
            self.partitions,
            self.config.single_task_rows,
            examples,
        )

    def write_index(self, path: str, append: bool = False, standalone: bool = True) -> list[dict[str, Any]]:
        """Workers save the kept rows' exact hashes and signatures as a dedup index at ``path``.

        Args:
            path: The index folder: local, shared by the cluster's nodes, or an object-store URL.
            append: Add the rows to the index already at ``path`` (a refresh's carried index).
            standalone: False for a release's index (trusted only once the release is committed).

        Returns:
            Every file of the index with its size and sha256 (``save_index``).
        """
        if self.keys is None:
            raise ValueError("exact and near dedup were both off: there is nothing to index")
        return save_index(
            _kept_keys(self.keys, self.decisions, self.num_decisions, self.config, self.partitions),
            path,
            self.config,
            append=append,
            standalone=standalone,
        )


def merge_decisions(exact: pa.Table | None, near: pa.Table | None) -> pa.Table:
    """Exact decisions resolved against near ones (see ``resolve_exact``), then the near ones."""
    parts = []
    if exact is not None and exact.num_rows:
        parts.append(resolve_exact(exact, near if near is not None else DECISION_SCHEMA.empty_table()))
    if near is not None and near.num_rows:
        parts.append(conform(near, DECISION_SCHEMA))
    return pa.concat_tables(parts) if parts else DECISION_SCHEMA.empty_table()


def decide(keys: pa.Table, config: DedupConfig) -> pa.Table:
    """Steps 2-6 on one table in memory, with the functions the shuffles run per partition."""
    exact = near = None
    survivors = keys
    if config.exact.enabled:
        grouped = exact_partition(keys, config)
        exact = exact_decisions(grouped)
        survivors = survivors_of(grouped, config)
    if config.near.enabled:
        near = cluster_decisions(survivors, config)
    return merge_decisions(exact, near)


def _tables(refs: list, target: pa.Schema) -> pa.Table:
    tables = [conform(table, target) for table in ray.get(list(refs)) if table.num_rows]
    return pa.concat_tables(tables) if tables else target.empty_table()


def _decide_in_one_task(key_refs: list, config: DedupConfig) -> pa.Table:
    return decide(_tables(key_refs, keys_schema(config)), config)


def _merge_in_one_task(exact_refs: list, near_refs: list) -> pa.Table:
    return merge_decisions(_tables(exact_refs, EXACT_DECISION_SCHEMA), _tables(near_refs, DECISION_SCHEMA))


def _distributed_decisions(run: DedupRun, total: int, config: DedupConfig, partitions: int, lap):
    exact_drops = None
    survivors = run.keys
    if config.exact.enabled:
        grouped = exact_groups(run.keys, partitions, config).materialize()
        # The grouped rows hold every key row: keep them instead, so one copy stays in memory.
        run.keys = grouped
        exact_drops = grouped.map_batches(exact_decisions, batch_format="pyarrow").materialize()
        survivors = grouped.map_batches(survivors_of, fn_kwargs={"config": config}, batch_format="pyarrow")
        lap("exact")
    near = near_decisions(survivors, total, config, lap) if config.near.enabled else None
    num_exact = exact_drops.count() if exact_drops is not None else 0
    if not num_exact:
        return near
    if near is None:
        return exact_drops.map_batches(
            select, fn_kwargs={"columns": DECISION_SCHEMA.names}, batch_format="pyarrow"
        )
    if num_exact + near.count() <= config.single_task_rows:
        return one_task(_merge_in_one_task, exact_drops.to_arrow_refs(), near.to_arrow_refs())
    resolved = cogroup(
        exact_drops, near, EXACT_OF, NODE, EXACT_DECISION_SCHEMA, DECISION_SCHEMA, partitions, resolve_exact
    )
    return resolved.union(near)


def run_dedup(
    ds, config: DedupConfig, against: list[str] | None = None, stats_actor: str | None = None
) -> DedupRun:
    """Deduplicates a Dataset; ``apply_dedup`` states the contract, the package docstring the steps.

    Args:
        ds: The job's Dataset: live rows and already-rejected rows (``reject_stage`` set).
        config: What to compare and how.
        against: Dedup indexes of earlier releases; ``None`` uses ``config.against``.
        stats_actor: The run's counters actor, for accounting (``dedup.exact`` and ``dedup.near``).

    Raises:
        sftforge.jobs.dedup.index.DedupIndexError: An index is unreadable or made with other parameters.
    """
    against = list(dict.fromkeys(config.against if against is None else against))
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[step] = round(now - started, 3)
        started = now

    if not config.exact.enabled and not config.near.enabled:
        return DedupRun(attach_decisions(ds, None, 0, config, stats_actor), ds, config, 0)
    for path in against:
        check_index(path, config)

    source = ds.materialize()
    lap("input")
    keys = source.map_batches(extract_keys, fn_kwargs={"config": config}, batch_format="pyarrow")
    if against:
        # Only the index rows that share a hash or a bucket with a new row can be decided on (see probe).
        keys = keys.materialize()
        rows_in = keys.count()
        parts = keys.map_batches(probe_part, fn_kwargs={"config": config}, batch_format="pyarrow", batch_size=None)
        probe = ray.put(build_probe(ray.get(parts.to_arrow_refs()), config))
        for path in against:
            earlier = pinned_keys(path, config, probe)
            if earlier is not None:
                keys = keys.union(earlier)
    keys = keys.materialize()
    total = keys.count()
    if not against:
        rows_in = total
    partitions = num_partitions(total, key_bytes(config), config.partition_bytes)
    lap("keys")

    run = DedupRun(None, source, config, rows_in, keys=keys, partitions=partitions, timings=timings)
    del keys
    if total <= config.single_task_rows:
        decisions = one_task(_decide_in_one_task, run.keys.to_arrow_refs(), config)
    else:
        decisions = _distributed_decisions(run, total, config, partitions, lap)
    if decisions is not None:
        decisions = decisions.map_batches(
            conform, fn_kwargs={"target": DECISION_SCHEMA}, batch_format="pyarrow"
        )
        run.decisions = decisions.materialize()
        run.num_decisions = run.decisions.count()
    lap("decisions")
    log.info("dedup: %d rows in, %d dropped; seconds per step %s", rows_in, run.num_decisions, timings)
    run.dataset = attach_decisions(source, run.decisions, run.num_decisions, config, stats_actor)
    return run


def _new_rows(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.invert(batch.column(PINNED)))


def _undecided(batch: pa.Table, token: str, refs: list) -> pa.Table:
    nodes, _ = broadcast_table(token, refs, NODE, DECISION_SCHEMA)
    batch = _new_rows(batch)
    if not len(nodes):
        return batch
    at = nodes.searchsorted(view(batch, NODE)).clip(0, len(nodes) - 1)
    return batch.filter(pa.array(nodes[at] != view(batch, NODE)))


def _undecided_partition(keys: pa.Table, decisions: pa.Table) -> pa.Table:
    new = _new_rows(keys)
    return new.filter(pa.array(lookup(view(decisions, NODE), view(new, NODE)) < 0))


def _kept_keys(keys, decisions, num_decisions: int, config: DedupConfig, partitions: int):
    """Key rows of the new rows dedup kept."""
    if decisions is None or not num_decisions:
        return keys.map_batches(_new_rows, batch_format="pyarrow")
    if num_decisions <= config.broadcast_rows:
        return keys.map_batches(
            _undecided,
            fn_kwargs={"token": uuid.uuid4().hex, "refs": decisions.to_arrow_refs()},
            batch_format="pyarrow",
        )
    return cogroup(
        keys, decisions, NODE, NODE, keys_schema(config), DECISION_SCHEMA, partitions, _undecided_partition
    )


def apply_dedup(ds, config: DedupConfig, against: list[str] | None = None, stats_actor: str | None = None):
    """Removes exact and near duplicates from a Dataset.

    Dataset in: the job's rows, live (``reject_stage`` null) and already rejected. Dataset out: the same
    rows, none added or lost, with ``cluster_id`` added. Already-rejected rows pass through untouched
    (their ``cluster_id`` stays null). Each live row is either kept, or rejected with ``reject_stage``
    ``dedup.exact`` / ``dedup.near`` and a ``reject_reason`` that names the kept row's ``doc_id`` and the
    estimated similarity; its ``cluster_id`` is the kept row's ``doc_id``, and a kept row's is its own.
    Survivors and cluster ids do not depend on block layout or worker count. Rows that duplicate a row
    of an earlier release's index (``against``) are rejected with a reason naming that row and index.

    Args:
        ds: A ``ray.data.Dataset`` with the base schema (``doc_id``, ``kind`` and the text columns).
        config: Dedup settings.
        against: Dedup indexes of earlier releases (``write_dedup_index``); ``None``: ``config.against``.
        stats_actor: The run's counters actor (``RunContext.stats_actor``), for accounting.

    Returns:
        The deduplicated ``ray.data.Dataset`` (lazy; the dedup itself has run).
    """
    return run_dedup(ds, config, against, stats_actor).dataset
