"""Step 1: the key row of every live row: identity, rank fields, exact hash and MinHash signature.

Key rows are what the shuffles move (about 100 bytes plus 4 per permutation), never the text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.exact import dedup_texts, exact_hashes
from sftforge.operators.dedup.minhash import has_signature
from sftforge.operators.dedup.near import text_signatures
from sftforge.operators.dedup.survivor import RANK_SCHEMA, rank_table, text_lengths

EXACT_HASH = schema.DEDUP_EXACT_HASH
SIGNATURE = schema.DEDUP_SIGNATURE
HAS_SIGNATURE = "_dedup_has_signature"


def signature_type(config: DedupConfig) -> pa.DataType:
    return pa.list_(pa.uint32(), config.near.num_perm)


def keys_schema(config: DedupConfig) -> pa.Schema:
    """Rank fields, exact hash, and (with near dedup) the signature."""
    fields = list(RANK_SCHEMA) + [pa.field(EXACT_HASH, pa.binary(16))]
    if config.near.enabled:
        fields += [pa.field(SIGNATURE, signature_type(config)), pa.field(HAS_SIGNATURE, pa.bool_())]
    return pa.schema(fields)


def key_bytes(config: DedupConfig) -> int:
    """Rough size of one key row, for sizing partitions."""
    return 120 + (4 * config.near.num_perm if config.near.enabled else 0)


def signature_array(rows: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel(), type=pa.uint32()), rows.shape[1])


def signature_rows(column: pa.Array | pa.ChunkedArray, num_perm: int) -> np.ndarray:
    """A signature column as a ``(rows, num_perm)`` uint32 array."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column.flatten().to_numpy(zero_copy_only=False).reshape(-1, num_perm)


def extract_keys(batch: pa.Table, config: DedupConfig) -> pa.Table:
    """Key rows of the batch's live rows."""
    live = schema.live_rows(batch)
    target = keys_schema(config)
    if not live.num_rows:
        return target.empty_table()
    content = dedup_texts(live, "all")
    ranks = rank_table(live, text_lengths(content))
    columns = {name: ranks.column(name) for name in ranks.column_names}
    exact_texts = content if config.exact.key == "all" else dedup_texts(live, config.exact.key)
    columns[EXACT_HASH] = exact_hashes(exact_texts, config.exact)
    if config.near.enabled:
        near_texts = content if config.near.key == "all" else dedup_texts(live, config.near.key)
        rows = text_signatures(near_texts, config.near)
        columns[SIGNATURE] = signature_array(rows)
        columns[HAS_SIGNATURE] = pa.array(has_signature(rows))
    return pa.Table.from_pydict(columns, schema=target)
