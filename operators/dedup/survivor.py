"""Which row of a duplicate cluster survives, and how rows are identified while deduplicating.

Every live row gets a *node id*: a 16-byte digest of its ``doc_id`` and lineage (source file, row), so
that two rows with the same content (and therefore, with content-hash ids, the same ``doc_id``) are
still two rows. Rows are ranked best-first by a total order that ends in the node id, so the survivor
of a cluster is the same whatever order, block layout or worker count the rows arrive in.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.dedup.hashing import digest128, digests_array

#: ``highest_quality``: highest ``quality_score`` (when the column exists; rows without a score come
#: after scored ones), then the longest text; ``longest``: the longest text; ``smallest_doc_id``: the
#: smallest ``doc_id``. Ties always go to the smallest ``doc_id``, then the earliest source location.
KeepRule = Literal["highest_quality", "longest", "smallest_doc_id"]

# Columns of a rank table (internal to dedup; never written).
NODE = "_dedup_node"
PINNED = "_dedup_pinned"
LENGTH = "_dedup_length"
QUALITY = "_dedup_quality"
LOCATION = "_dedup_location"
INDEX_SOURCE = "_dedup_index_source"

RANK_SCHEMA = pa.schema(
    [
        (NODE, pa.binary(16)),
        (schema.DOC_ID, pa.string()),
        (LOCATION, pa.string()),
        (PINNED, pa.bool_()),
        (QUALITY, pa.float64()),
        (LENGTH, pa.int64()),
        (INDEX_SOURCE, pa.string()),
    ]
)


def _column_or_nulls(table: pa.Table, name: str, type_: pa.DataType) -> pa.Array:
    if name in table.column_names:
        column = table.column(name)
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        return column if column.type == type_ else column.cast(type_)
    return pa.nulls(table.num_rows, type_)


def locations(table: pa.Table) -> pa.Array:
    """``source_file:source_row`` of each row (null where the table carries no lineage)."""
    files = _column_or_nulls(table, schema.SOURCE_FILE, pa.string())
    rows = _column_or_nulls(table, schema.SOURCE_ROW, pa.int64())
    return pc.binary_join_element_wise(files, pc.cast(rows, pa.string()), ":")


def node_ids(table: pa.Table) -> pa.FixedSizeBinaryArray:
    """The 16-byte identity of each row: its ``doc_id`` and lineage, digested."""
    doc_ids = _column_or_nulls(table, schema.DOC_ID, pa.string()).to_pylist()
    files = _column_or_nulls(table, schema.SOURCE_FILE, pa.string()).to_pylist()
    rows = _column_or_nulls(table, schema.SOURCE_ROW, pa.int64()).to_pylist()
    digests = [
        digest128([(doc_id or "").encode(), (file or "").encode(), str(-1 if row is None else row).encode()])
        for doc_id, file, row in zip(doc_ids, files, rows)
    ]
    return digests_array(digests)


def text_lengths(texts: pa.Array) -> pa.Array:
    """Characters per text (int64)."""
    return pc.cast(pc.fill_null(pc.utf8_length(texts), 0), pa.int64())


def rank_table(table: pa.Table, lengths: pa.Array) -> pa.Table:
    """The columns that decide survival, for the live rows of a batch."""
    return pa.Table.from_arrays(
        [
            node_ids(table),
            _column_or_nulls(table, schema.DOC_ID, pa.string()),
            locations(table),
            pa.array(np.zeros(table.num_rows, dtype=bool)),
            _column_or_nulls(table, schema.QUALITY_SCORE, pa.float64()),
            lengths,
            pa.nulls(table.num_rows, pa.string()),
        ],
        schema=RANK_SCHEMA,
    )


def rank_sort_keys(keep: KeepRule) -> list[tuple[str, str, str]]:
    """``pyarrow`` sort keys that put the best row of a cluster first (nulls last).

    Rows of earlier releases (``pinned``) always come first: they are already published.
    """
    keys = [(PINNED, "descending")]
    if keep == "highest_quality":
        keys += [(QUALITY, "descending"), (LENGTH, "descending")]
    elif keep == "longest":
        keys += [(LENGTH, "descending")]
    keys += [(schema.DOC_ID, "ascending"), (LOCATION, "ascending"), (NODE, "ascending")]
    return [(name, order, "at_end") for name, order in keys]


def rank_positions(ranks: pa.Table, keep: KeepRule) -> np.ndarray:
    """Position of each row in best-first order (0 = best), a total order."""
    order = pc.sort_indices(ranks, sort_keys=rank_sort_keys(keep)).to_numpy()
    positions = np.empty(len(order), dtype=np.int64)
    positions[order] = np.arange(len(order), dtype=np.int64)
    return positions


def group_survivors(groups: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """For rows labelled with a group, the index of each group's best row (by ``positions``)."""
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((positions, groups))
    sorted_groups = groups[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_groups[1:] != sorted_groups[:-1]
    group_index = np.cumsum(first) - 1
    best = order[first][group_index]
    survivors = np.empty(len(order), dtype=np.int64)
    survivors[order] = best
    return survivors
