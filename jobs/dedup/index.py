"""Dedup indexes: the kept rows' exact hashes and MinHash signatures, saved next to a release.

Layout of an index folder: ``rows/*.parquet`` (``doc_id``, ``exact_hash``, ``minhash_signature``) and
``params.json`` (the normalisation and signature parameters a later run must share, and the row count).
Band keys are derived from the signatures when a later run reads the index (``dedup.against``), so the
index stays valid for any LSH threshold.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import ray
import ray.data
from sftforge.operators import schema
from sftforge.operators.dedup.config import INDEX_PARAMS, INDEX_ROWS, DedupConfig
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

FORMAT = 1


class DedupIndexError(Exception):
    """A dedup index cannot be used with this run; the message names the index and the parameter."""


def index_params(config: DedupConfig) -> dict[str, Any]:
    """What a later run must share to compare its rows with this index."""
    return {
        "format": FORMAT,
        "exact": config.exact.model_dump(exclude={"enabled"}),
        "near": config.near.signature_parameters() if config.near.enabled else None,
    }


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def _filesystem(path: str):
    return pafs.FileSystem.from_uri(_absolute(path))


def read_params(path: str) -> dict[str, Any]:
    """The index's ``params.json``."""
    filesystem, root = _filesystem(path)
    try:
        with filesystem.open_input_stream(f"{root}/{INDEX_PARAMS}") as stream:
            return json.loads(stream.read().decode("utf-8"))
    except (OSError, ValueError) as error:
        raise DedupIndexError(f"dedup index '{path}': cannot read {INDEX_PARAMS}: {error}") from error


def check_index(path: str, config: DedupConfig) -> dict[str, Any]:
    """Checks that the rows of an index can be compared with this run's rows; returns its params.

    Raises:
        DedupIndexError: Naming the index and the first parameter that differs.
    """
    params = read_params(path)
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


def pinned_keys(path: str, config: DedupConfig, probe=None):
    """The index's rows as key rows that rank before every new row (``None`` when it has no rows).

    With ``probe`` (an object ref of a ``jobs.dedup.probe.Probe``), only the rows that share an exact hash
    or a band bucket with a new row.
    """
    if not int(read_params(path).get("rows", 0)):
        return None
    columns = [schema.DOC_ID, EXACT_HASH] + ([SIGNATURE] if config.near.enabled else [])
    rows = ray.data.read_parquet(f"{_absolute(path).rstrip('/')}/{INDEX_ROWS}", columns=columns)
    return rows.map_batches(
        _pinned_keys, fn_kwargs={"source": path, "config": config, "probe": None if probe is None else [probe]},
        batch_format="pyarrow",
    )


def _index_columns(batch: pa.Table, config: DedupConfig) -> pa.Table:
    table = batch.select([schema.DOC_ID, EXACT_HASH] + ([SIGNATURE] if config.near.enabled else []))
    return table


def save_index(keys, path: str, config: DedupConfig) -> str:
    """Writes key rows (new rows only) as an index at ``path``, replacing what was there."""
    filesystem, root = _filesystem(path)
    info = filesystem.get_file_info(root)
    if info.type == pafs.FileType.Directory:
        filesystem.delete_dir(root)
    elif info.type != pafs.FileType.NotFound:
        filesystem.delete_file(root)
    rows = keys.map_batches(
        _index_columns, fn_kwargs={"config": config}, batch_format="pyarrow"
    ).materialize()
    count = rows.count()
    filesystem.create_dir(root, recursive=True)
    if count:
        rows.write_parquet(f"{_absolute(path).rstrip('/')}/{INDEX_ROWS}")
    params = dict(index_params(config), rows=count)
    with filesystem.open_output_stream(f"{root}/{INDEX_PARAMS}") as stream:
        stream.write(json.dumps(params, indent=2, sort_keys=True).encode("utf-8"))
    return path


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
    return save_index(keys, path, config)
