"""Dedup indexes: the kept rows' exact hashes and MinHash signatures, saved next to a release.

Layout, listing and trust rules of an index folder are in ``index_files``: ``params.json`` (the
normalisation and signature parameters a later run must share, the row count, and the list of the
index's files with their sizes and sha256) and the Parquet parts (``doc_id``, ``exact_hash``,
``minhash_signature``) that workers write. Band keys are derived from the signatures when a later run
reads the index (``dedup.against``), so the index stays valid for any LSH threshold.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import ray.data
from sftforge.jobs.dedup.index_files import (
    STANDALONE,
    DedupIndexError,
    IndexListing,
    filesystem,
    join,
    open_index,
    put_file,
    read_rows,
    write_parts,
)
from sftforge.operators import schema
from sftforge.operators.dedup.config import INDEX_PARAMS, DedupConfig
from sftforge.operators.dedup.hashing import digest128, digests_array
from sftforge.operators.dedup.keys import (
    EXACT_HASH,
    HAS_SIGNATURE,
    SIGNATURE,
    extract_keys,
    keys_schema,
    signature_rows,
)
from sftforge.operators.dedup.minhash import has_signature
from sftforge.operators.dedup.survivor import INDEX_SOURCE, LENGTH, LOCATION, NODE, PINNED, QUALITY

__all__ = ["DedupIndexError", "check_index", "index_params", "pinned_keys", "save_index", "write_dedup_index"]

FORMAT = 1


def index_params(config: DedupConfig) -> dict[str, Any]:
    """What a later run must share to compare its rows with this index."""
    return {
        "format": FORMAT,
        "exact": config.exact.model_dump(exclude={"enabled"}),
        "near": config.near.signature_parameters() if config.near.enabled else None,
    }


def read_params(path: str) -> dict[str, Any]:
    """The index's ``params.json`` (its release's commit checked, see ``open_index``)."""
    return open_index(path).params


def check_index(path: str, config: DedupConfig) -> dict[str, Any]:
    """Checks that the rows of an index can be compared with this run's rows; returns its params.

    Raises:
        DedupIndexError: Naming the index and the first parameter that differs.
    """
    params = open_index(path).params
    if params.get("format") != FORMAT:
        raise DedupIndexError(f"dedup index '{path}': format {params.get('format')!r}, expected {FORMAT}")
    wanted = index_params(config)
    if config.exact.enabled:
        for key, value in wanted["exact"].items():
            if params["exact"].get(key) != value:
                raise DedupIndexError(
                    f"dedup index '{path}' was written with dedup.exact.{key}={params['exact'].get(key)!r} "
                    f"and this run uses {value!r}: exact hashes are not comparable"
                )
    if config.near.enabled:
        if not params.get("near"):
            raise DedupIndexError(f"dedup index '{path}' holds no MinHash signatures (near dedup was off)")
        for key, value in wanted["near"].items():
            if params["near"].get(key) != value:
                raise DedupIndexError(
                    f"dedup index '{path}' was written with dedup.near {key}={params['near'].get(key)!r} "
                    f"and this run uses {value!r}: signatures are not comparable"
                )
    return params


def _pinned_keys(batch: pa.Table, source: str, config: DedupConfig, probe: list | None = None) -> pa.Table:
    if probe is not None:
        from sftforge.jobs.dedup.probe import matching_rows

        batch = matching_rows(batch, ray.get(probe[0]), config)
    doc_ids = batch.column(schema.DOC_ID)
    nodes = digests_array(
        [digest128([b"index", source.encode(), (doc_id or "").encode()]) for doc_id in doc_ids.to_pylist()]
    )
    rows = batch.num_rows
    columns: dict[str, Any] = {
        NODE: nodes,
        schema.DOC_ID: doc_ids,
        LOCATION: pa.nulls(rows, pa.string()),
        PINNED: pa.array(np.ones(rows, dtype=bool)),
        QUALITY: pa.nulls(rows, pa.float64()),
        LENGTH: pa.array(np.zeros(rows, dtype=np.int64)),
        INDEX_SOURCE: pa.array([source] * rows, type=pa.string()),
        EXACT_HASH: batch.column(EXACT_HASH),
    }
    if config.near.enabled:
        columns[SIGNATURE] = batch.column(SIGNATURE)
        columns[HAS_SIGNATURE] = pa.array(
            has_signature(signature_rows(batch.column(SIGNATURE), config.near.num_perm))
        )
    return pa.Table.from_pydict(columns, schema=keys_schema(config))


def _pinned_files(batch: pa.Table, listing: IndexListing, config: DedupConfig, probe: list | None) -> pa.Table:
    columns = [schema.DOC_ID, EXACT_HASH] + ([SIGNATURE] if config.near.enabled else [])
    tables = [_pinned_keys(read_rows(listing, json.loads(entry), columns), listing.source, config, probe)
              for entry in batch.column("entry").to_pylist()]
    return pa.concat_tables(tables) if tables else keys_schema(config).empty_table()


def pinned_keys(path: str, config: DedupConfig, probe=None):
    """The index's rows as key rows that rank before every new row (``None`` when it lists no rows).

    Only the files the index lists are read, one task each, their sizes and sha256 checked. With
    ``probe`` (an object ref of a ``jobs.dedup.probe.Probe``), only the rows that share an exact hash
    or a band bucket with a new row are kept.
    """
    listing = open_index(path)
    entries = [entry for entry in listing.files if entry.get("rows") is None or entry["rows"]]
    if not entries:
        return None
    items = [{"entry": json.dumps(entry, sort_keys=True)} for entry in entries]
    return ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _pinned_files, fn_kwargs={"listing": listing, "config": config, "probe": None if probe is None else [probe]},
        batch_size=1, batch_format="pyarrow",
    )


def _index_columns(batch: pa.Table, config: DedupConfig) -> pa.Table:
    return batch.select([NODE, schema.DOC_ID, EXACT_HASH] + ([SIGNATURE] if config.near.enabled else []))


def save_index(keys, path: str, config: DedupConfig, append: bool = False,
               standalone: bool = True) -> list[dict[str, Any]]:
    """Workers write key rows (new rows only) as an index at ``path``; the driver writes ``params.json``.

    Args:
        keys: Key rows (``NODE``, ``doc_id``, exact hash, signature).
        path: The index folder (local, shared or an object-store URL).
        append: Keep the index already at ``path`` (a refresh's carried files) and add the rows as its
            next generation; otherwise what was there is replaced.
        standalone: Readers trust the index by its own listing; False for a release's index, which
            readers trust only once its release is committed and its manifest lists the files.

    Returns:
        Listing entries (path relative to ``path``, bytes, sha256) of every file of the index,
        ``params.json`` last.
    """
    fs, root = filesystem(path)
    carried = open_index(path) if append and fs.exists(join(root, INDEX_PARAMS)) else None
    if carried is None and fs.exists(root):
        fs.rm(root, recursive=True)
    generation = max(carried.generation, 1) if carried else 1
    rows = keys.map_batches(_index_columns, fn_kwargs={"config": config}, batch_format="pyarrow")
    parts = write_parts(rows, path, config, generation)
    files = (carried.files if carried else []) + parts
    excluded = carried.excluded if carried else []
    params = dict(index_params(config), rows=sum(int(item.get("rows") or 0) for item in files),
                  generation=generation, files=files, excluded=excluded)
    if standalone:
        params[STANDALONE] = True
    data = json.dumps(params, indent=2, sort_keys=True).encode("utf-8")
    entry = put_file(join(path, INDEX_PARAMS), data)
    return files + excluded + [{"path": INDEX_PARAMS, "format": "json", "rows": None, **entry}]


def write_dedup_index(ds, path: str, config: DedupConfig | None = None) -> str:
    """Saves the live rows' exact hashes and MinHash signatures as a dedup index at ``path``.

    A later run lists ``path`` in ``dedup.against`` to drop its rows that duplicate these. Rows an
    earlier stage rejected are skipped; an existing index at ``path`` is replaced. (Within a run,
    ``DedupRun.write_index`` does the same from the keys dedup already computed.)

    Args:
        ds: Rows to index, e.g. a release's rows.
        path: A local folder or a pyarrow filesystem URI.
        config: The dedup settings of the runs that will compare against the index.

    Returns:
        ``path``.
    """
    config = config or DedupConfig()
    keys = ds.map_batches(extract_keys, fn_kwargs={"config": config}, batch_format="pyarrow")
    save_index(keys, path, config)
    return path
