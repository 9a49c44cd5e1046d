"""Diversity-aware selection over a whole Ray Dataset (``select.target_size``).

Selection is global: which rows of a cluster survive depends on every other row of that cluster. So
this step materialises the Dataset, gathers three small columns of the live instruction rows (id,
cluster, score) on the driver, chooses with ``sftforge.operators.quality.diversity.choose_diverse``, and applies the
choice as an ordinary stage (``DiversitySelector``), which rejects the rows not chosen with
``not selected (cluster write/poem, rank 7)`` and keeps the run's accounting exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
from sftforge.jobs.runner import apply_stage
from sftforge.operators import schema
from sftforge.operators.base import Stage, StageResult
from sftforge.operators.quality.diversity import (
    SelectConfig,
    choose_diverse,
    cluster_keys,
    diversity_summary,
    instruction_roots,
)

log = logging.getLogger("sftforge")

#: Name of the stage in ``reject_stage``, accounting and the report.
SELECT_STAGE = "select"
_KEYS_SCHEMA = pa.schema([(schema.DOC_ID, pa.string()), ("cluster", pa.string()), ("score", pa.float64())])
_UNSELECTED_SCHEMA = pa.schema([(schema.DOC_ID, pa.string()), ("cluster", pa.string()), ("rank", pa.int64())])


def selection_keys(batch: pa.Table, cluster_by: str = "root") -> pa.Table:
    """The id, cluster and quality score of the live instruction rows of a batch.

    The cluster comes from ``instruction_root`` when the quality stage wrote it, else it is computed.
    """
    mask = pc.equal(batch.column(schema.KIND), schema.KIND_INSTRUCTION)
    if schema.REJECT_STAGE in batch.column_names:
        mask = pc.and_(mask, pc.is_null(batch.column(schema.REJECT_STAGE)))
    live = batch.filter(pc.fill_null(mask, False))
    if schema.INSTRUCTION_ROOT in live.column_names:
        roots = live.column(schema.INSTRUCTION_ROOT).to_pylist()
    else:
        roots = [None] * live.num_rows
    missing = [row for row, root in enumerate(roots) if root is None]
    if missing:
        instructions = _instructions(live, missing)
        for row, root in zip(missing, instruction_roots(instructions)):
            roots[row] = root
    if schema.QUALITY_SCORE in live.column_names:
        scores = live.column(schema.QUALITY_SCORE).cast(pa.float64())
    else:
        scores = pa.nulls(live.num_rows, pa.float64())
    return pa.Table.from_arrays(
        [live.column(schema.DOC_ID).cast(pa.string()), pa.array(cluster_keys(roots, cluster_by), pa.string()), scores],
        schema=_KEYS_SCHEMA,
    )


def _instructions(table: pa.Table, rows: list[int]) -> list[str]:
    """The instruction of each row; a conversation's first user turn when the column is empty."""
    take = pa.array(rows, pa.int64())
    values = table.column(schema.INSTRUCTION).take(take).to_pylist() if schema.INSTRUCTION in table.column_names else [None] * len(rows)
    if schema.MESSAGES in table.column_names:
        turns = table.column(schema.MESSAGES).take(take).to_pylist()
        for index, (value, messages) in enumerate(zip(values, turns)):
            if not value and messages:
                users = [turn.get("content") for turn in messages if turn.get("role") == schema.ROLE_USER]
                values[index] = users[0] if users else ""
    return [value or "" for value in values]


def plan_selection(keys: pa.Table, config: SelectConfig) -> pa.Table:
    """The rows not selected, with their cluster and rank (``doc_id``, ``cluster``, ``rank``).

    Rows that share a ``doc_id`` share content (it is a content hash), so they are one candidate and
    are kept or dropped together.
    """
    if keys.num_rows == 0:
        return _UNSELECTED_SCHEMA.empty_table()
    ids = keys.column(schema.DOC_ID).to_numpy(zero_copy_only=False)
    _, first = np.unique(ids.astype(str), return_index=True)
    unique = keys.take(pa.array(np.sort(first)))
    selection = choose_diverse(
        unique.column(schema.DOC_ID).to_pylist(),
        unique.column("cluster").to_pylist(),
        unique.column("score").to_pylist(),
        config.target_size,
        config.max_per_cluster,
    )
    dropped = np.nonzero(~selection.selected)[0]
    take = pa.array(dropped, pa.int64())
    return pa.Table.from_arrays(
        [unique.column(schema.DOC_ID).take(take), unique.column("cluster").take(take),
         pa.array(selection.rank[dropped], pa.int64())],
        schema=_UNSELECTED_SCHEMA,
    )


class DiversitySelector(Stage[SelectConfig]):
    """Rejects the instruction rows that a global selection did not choose.

    Args:
        config: The selection config.
        unselected: The rows not chosen (``plan_selection``), or a callable that returns them on the
            worker (so that a large table travels once through Ray's object store, not in every task).
    """

    name = SELECT_STAGE
    requires = (schema.DOC_ID,)

    def __init__(self, config: SelectConfig, unselected: pa.Table | Callable[[], pa.Table]):
        super().__init__(config)
        self._source = unselected
        self._unselected: pa.Table | None = None

    def setup(self) -> None:
        source = self._source
        self._unselected = source if isinstance(source, pa.Table) else source()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_unselected"] = None
        state["_ready"] = False
        return state

    def process(self, table: pa.Table) -> StageResult:
        unselected = self._unselected
        position = pc.index_in(table.column(schema.DOC_ID).cast(pa.string()),
                               value_set=unselected.column(schema.DOC_ID))
        valid = pc.is_valid(position)
        hits = np.nonzero(valid.to_numpy(zero_copy_only=False))[0]
        reasons: list[str | None] = [None] * table.num_rows
        if len(hits):
            where = position.filter(valid)
            clusters = unselected.column("cluster").take(where).to_pylist()
            ranks = unselected.column("rank").take(where).to_pylist()
            for row, cluster, rank in zip(hits, clusters, ranks):
                reasons[row] = f"not selected (cluster {cluster}, rank {rank})"
        return self.partition(table, reasons)


class _FromObjectStore:
    """Fetches a table put into Ray's object store (picklable; resolved on the worker)."""

    def __init__(self, ref):
        self.ref = ref

    def __call__(self) -> pa.Table:
        return ray.get(self.ref)


def select_diverse(ds, config: SelectConfig, stats_actor: str | None = None, report: dict | None = None):
    """Keeps at most ``config.target_size`` instruction rows of ``ds``, spread over instruction clusters.

    Documents and rows already rejected pass through untouched. With ``report`` (a dict), a diversity
    summary of the candidates and of the selected rows is stored in it under ``select``.

    Returns:
        The Dataset with unselected rows rejected by the ``diversity`` stage.
    """
    ds = ds.materialize()
    key_batches = ds.map_batches(
        selection_keys, fn_kwargs={"cluster_by": config.cluster_by}, batch_format="pyarrow", batch_size=4096
    )
    tables = [table for table in ray.get(key_batches.to_arrow_refs()) if table.num_rows]
    keys = pa.concat_tables(tables) if tables else _KEYS_SCHEMA.empty_table()
    unselected = plan_selection(keys, config)
    log.info("select: %d candidate rows, %d not selected (target %d)", keys.num_rows, unselected.num_rows,
             config.target_size)
    if report is not None:
        dropped = set(unselected.column(schema.DOC_ID).to_pylist())
        clusters = keys.column("cluster").to_pylist()
        chosen = [cluster for cluster, doc in zip(clusters, keys.column(schema.DOC_ID).to_pylist()) if doc not in dropped]
        report["select"] = {
            "target_size": config.target_size,
            "candidates": keys.num_rows,
            "selected": len(chosen),
            "clusters_before": len(set(clusters)),
            "clusters_after": len(set(chosen)),
            "selected_diversity": diversity_summary(chosen, top=10),
        }
    stage = DiversitySelector(config, _FromObjectStore(ray.put(unselected)))
    return apply_stage(ds, stage, stats_actor=stats_actor)
