"""Grouping a Ray Dataset by key without gathering it: hash partitions handed whole to one call.

``shuffle`` tags each row with a partition number derived from its key, hash-repartitions on that number
(``repartition(n, keys=[...])``, Ray Data's hash shuffle), and calls a function once per output block
with ``batch_size=None``: the hash shuffle emits each partition as one block, never split (the invariant
``groupby().map_groups()`` itself relies on), so one call sees every row of its keys and groups them
with numpy. ``map_groups`` would also sort each partition, which nothing here needs. ``cogroup`` does the
same for two datasets at once (a distributed join). Memory per call is one partition, never the dataset.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data
from sftforge.operators.dedup.hashing import fixed_binary_view, partition_of
from sftforge.operators.schema import conform

PART = "_dedup_part"
SIDE = "_dedup_side"


def view(table: pa.Table, column: str) -> np.ndarray:
    """A key column as numpy: ``S16`` for 16-byte ids, the native dtype otherwise."""
    values = table.column(column)
    if pa.types.is_fixed_size_binary(values.type):
        return fixed_binary_view(values)
    return values.to_numpy()


def lookup(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index into ``keys`` of each ``wanted`` value, -1 where absent (the first of repeated keys)."""
    if not len(keys) or not len(wanted):
        return np.full(len(wanted), -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    at = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
    return np.where(sorted_keys[at] == wanted, order[at], -1)


def select(batch: pa.Table, columns: list[str]) -> pa.Table:
    return batch.select(columns)


def num_partitions(rows: int, bytes_per_row: int, partition_bytes: int) -> int:
    """Partitions for ``rows`` of about ``bytes_per_row``: at least one per CPU of the cluster."""
    cpus = int(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1
    wanted = math.ceil(rows * bytes_per_row / partition_bytes)
    return int(min(4096, max(cpus, wanted, 1)))


def _with_partition(batch: pa.Table, key: str, partitions: int) -> pa.Table:
    parts = partition_of(view(batch, key), partitions) if batch.num_rows else np.zeros(0, np.int64)
    return batch.append_column(PART, pa.array(parts, type=pa.int64()))


def _call_partition(group: pa.Table, fn, kwargs: dict[str, Any]) -> pa.Table:
    return fn(group.drop_columns([PART]), **kwargs)


def shuffle(ds, key: str, partitions: int, fn, **kwargs):
    """Calls ``fn(rows, **kwargs)`` once per hash partition of ``key``, with every row of the partition."""
    tagged = ds.map_batches(
        _with_partition, fn_kwargs={"key": key, "partitions": partitions}, batch_format="pyarrow"
    )
    return tagged.repartition(partitions, keys=[PART]).map_batches(
        _call_partition, fn_kwargs={"fn": fn, "kwargs": kwargs}, batch_size=None, batch_format="pyarrow"
    )


def _tag_side(
    batch: pa.Table, side: int, key: str, partitions: int, union: pa.Schema, prefix: str
) -> pa.Table:
    parts = partition_of(view(batch, key), partitions) if batch.num_rows else np.zeros(0, np.int64)
    renamed = batch.rename_columns([prefix + name for name in batch.column_names])
    renamed = renamed.append_column(PART, pa.array(parts, type=pa.int64()))
    renamed = renamed.append_column(SIDE, pa.array(np.full(batch.num_rows, side, dtype=np.int8)))
    return conform(renamed, union)


def _call_cogroup(group: pa.Table, fn, left: pa.Schema, right: pa.Schema, kwargs: dict[str, Any]) -> pa.Table:
    side = group.column(SIDE).to_numpy()
    left_rows = group.filter(pa.array(side == 0)).select(["l." + name for name in left.names])
    right_rows = group.filter(pa.array(side == 1)).select(["r." + name for name in right.names])
    return fn(left_rows.rename_columns(left.names), right_rows.rename_columns(right.names), **kwargs)


def cogroup(
    left_ds,
    right_ds,
    left_key: str,
    right_key: str,
    left: pa.Schema,
    right: pa.Schema,
    partitions: int,
    fn,
    **kwargs,
):
    """Calls ``fn(left_rows, right_rows, **kwargs)`` once per hash partition, left rows partitioned on
    ``left_key`` and right rows on ``right_key``: a distributed co-group (join) of two datasets whose
    schemas are ``left`` and ``right``."""
    union = pa.schema(
        [pa.field("l." + f.name, f.type) for f in left]
        + [pa.field("r." + f.name, f.type) for f in right]
        + [pa.field(PART, pa.int64()), pa.field(SIDE, pa.int8())]
    )
    sides = []
    for side, (ds, key, prefix) in enumerate(((left_ds, left_key, "l."), (right_ds, right_key, "r."))):
        sides.append(
            ds.map_batches(
                _tag_side,
                fn_kwargs={
                    "side": side,
                    "key": key,
                    "partitions": partitions,
                    "union": union,
                    "prefix": prefix,
                },
                batch_format="pyarrow",
            )
        )
    return (
        sides[0]
        .union(sides[1])
        .repartition(partitions, keys=[PART])
        .map_batches(
            _call_cogroup,
            fn_kwargs={"fn": fn, "left": left, "right": right, "kwargs": kwargs},
            batch_size=None,
            batch_format="pyarrow",
        )
    )


def one_task(fn, *args):
    """A Dataset of the one table ``fn(*args)`` returns, computed in one task (for steps on few rows)."""
    return ray.data.from_arrow_refs([ray.remote(num_cpus=1)(fn).remote(*args)])


def _block_total(block: pa.Table, column: str) -> int:
    return int(pc.sum(pc.cast(block.column(column), pa.int64())).as_py() or 0) if block.num_rows else 0


def column_total(ds, column: str) -> int:
    """Sum of an integer or boolean column of a materialised Dataset: one small task per block, only
    the per-block sums reach the driver."""
    task = ray.remote(num_cpus=0.25)(_block_total)
    return int(sum(ray.get([task.remote(ref, column) for ref in ds.to_arrow_refs()])))


_BROADCAST_CACHE: dict[str, Any] = {}


def broadcast_value(token: str, refs: list, build):
    """``build(tables)`` of the blocks ``refs``, computed once per worker process and kept for the
    tasks that follow (keyed by ``token``, one value at a time): how a small table is joined to a large
    dataset without shuffling the large one."""
    if token not in _BROADCAST_CACHE:
        tables = [table for table in ray.get(list(refs)) if table.num_rows]
        value = build(tables)
        _BROADCAST_CACHE.clear()
        _BROADCAST_CACHE[token] = value
    return _BROADCAST_CACHE[token]


def broadcast_table(token: str, refs: list, key: str, target: pa.Schema) -> tuple[np.ndarray, pa.Table]:
    """The blocks ``refs`` as one table sorted on ``key``, and its sorted keys (see ``broadcast_value``)."""

    def build(tables: list[pa.Table]) -> tuple[np.ndarray, pa.Table]:
        table = pa.concat_tables([conform(t, target) for t in tables]) if tables else target.empty_table()
        keys = view(table, key)
        order = np.argsort(keys, kind="stable")
        return keys[order], table.take(pa.array(order, type=pa.int64()))

    return broadcast_value(token, refs, build)


def sorted_lookup(sorted_keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Like ``lookup`` for keys already sorted."""
    if not len(sorted_keys) or not len(wanted):
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
    return np.where(sorted_keys[at] == wanted, at, -1)
