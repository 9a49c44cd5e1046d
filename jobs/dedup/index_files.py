"""A dedup index's files: written by workers, listed with size and sha256, and read only as listed.

An index folder holds ``params.json`` and Parquet files; ``params.json`` is written last and lists
them (its ``files`` and ``excluded``), so it is the index's own manifest::

    params.json                        parameters, ``generation`` and the listing
    rows/g<generation>-part-NNNNN.parquet  doc_id, exact_hash (and minhash_signature), sorted by row id
    excluded/g<generation>.parquet     doc_ids whose entries in files of earlier generations no longer count

The rows of one write are spread over ``ceil(rows / FILE_ROWS)`` parts by a hash of each row's id and
sorted, so the names and bytes depend only on the rows, never on the cluster or the block layout. Each
part is written by a Ray task straight into the index folder (a local or shared folder, or an object
store prefix) and reported with its size and sha256; the driver writes only ``params.json``.

A nightly refresh carries the previous index's files over by copying them (server side on object
stores) and writes only its new rows' parts, as the next generation; the rows of changed or vanished
input files are struck out by an ``excluded`` file instead of rewriting the files that hold them.

Readers (``open_index``) trust a release's index only when the release is committed (``SUCCESS``
holds the sha256 of ``manifest.json``) and its manifest lists ``params.json`` with the same sha256 and
every file that ``params.json`` lists; an index of a killed run is refused. A standalone index
(``standalone`` in its ``params.json``: ``write_dedup_index``, or a refresh's carried index in its own
staging area) is trusted by its listing. Each file's size and sha256 are checked when a task reads it.
Files that no listing names (a killed run's debris) are never read.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import posixpath
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sftforge.jobs.dedup.shuffle import view
from sftforge.jobs.release.layout import MANIFEST, SUCCESS
from sftforge.jobs.storage import filesystem, join
from sftforge.operators import schema
from sftforge.operators.dedup.config import INDEX_PARAMS, INDEX_ROWS, DedupConfig
from sftforge.operators.dedup.keys import EXACT_HASH, SIGNATURE, signature_type
from sftforge.operators.dedup.survivor import NODE

#: Rows per index part (about 600 bytes each with 128 permutations): a part is one read task later.
FILE_ROWS = 100_000
EXCLUDED_DIR = "excluded"
#: ``params.json`` key of an index that is not part of a release (``write_dedup_index``, a refresh's
#: carried index inside its own staging area): its listing is trusted without a release manifest.
STANDALONE = "standalone"


class DedupIndexError(Exception):
    """A dedup index cannot be used with this run; the message names the index and the parameter."""


def index_schema(config: DedupConfig) -> pa.Schema:
    """Columns of an index part."""
    fields = [pa.field(schema.DOC_ID, pa.string()), pa.field(EXACT_HASH, pa.binary(16))]
    if config.near.enabled:
        fields.append(pa.field(SIGNATURE, signature_type(config)))
    return pa.schema(fields)


@dataclass(frozen=True)
class IndexListing:
    """An index's parameters and the files it lists (entries relative to ``path``)."""

    path: str
    params: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def source(self) -> str:
        """How reject reasons name the index: a carried index names the release it came from."""
        return self.params.get("source") or self.path

    @property
    def generation(self) -> int:
        return int(self.params.get("generation", 0))

    def url(self, entry: dict[str, Any]) -> str:
        return join(self.path, entry["path"])

    def exclusions_for(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """The excluded files that apply to a rows file: those of later generations."""
        return [item for item in self.excluded if item["generation"] > entry.get("generation", 0)]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _committed_manifest(fs, release: str, index: str) -> dict[str, Any] | None:
    """The manifest of the release folder holding the index, or None when it is not in a release."""
    has_success, has_manifest = fs.exists(join(release, SUCCESS)), fs.exists(join(release, MANIFEST))
    if not has_success and not has_manifest:
        return None
    try:
        success = fs.cat_file(join(release, SUCCESS)).decode().strip()
        manifest = fs.cat_file(join(release, MANIFEST))
    except FileNotFoundError:
        raise DedupIndexError(f"dedup index '{index}': its release is not committed (no {SUCCESS})") from None
    if success != _sha256(manifest):
        raise DedupIndexError(f"dedup index '{index}': its release's {SUCCESS} does not match its manifest")
    return json.loads(manifest)


def open_index(path: str) -> IndexListing:
    """Reads an index's ``params.json`` and the files it may read, checking its release's commit.

    Raises:
        DedupIndexError: No readable ``params.json``, a release that is not committed, or a listing
            that the release's manifest does not confirm.
    """
    fs, root = filesystem(path)
    root = root.rstrip("/")
    try:
        data = fs.cat_file(join(root, INDEX_PARAMS))
        params = json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as error:
        raise DedupIndexError(f"dedup index '{path}': cannot read {INDEX_PARAMS}: {error}") from error
    name = posixpath.basename(root)
    manifest = _committed_manifest(fs, posixpath.dirname(root), path)
    listed = None
    if manifest is not None:
        listed = {item["path"][len(name) + 1 :]: item for item in manifest.get("files", [])
                  if item["path"].startswith(name + "/")}
        entry = listed.get(INDEX_PARAMS)
        if entry is None or entry.get("sha256") != _sha256(data):
            raise DedupIndexError(f"dedup index '{path}': {INDEX_PARAMS} is not the one its release's manifest lists")
    if "files" in params:
        if listed is None and not params.get(STANDALONE):
            raise DedupIndexError(f"dedup index '{path}' belongs to a release that is not committed "
                                  f"(no {SUCCESS} and {MANIFEST} next to it)")
        files, excluded = list(params["files"]), list(params.get("excluded", []))
        for item in (files + excluded) if listed is not None else []:
            if listed.get(item["path"], {}).get("sha256") != item["sha256"]:
                raise DedupIndexError(f"dedup index '{path}': {item['path']} is not in its release's manifest")
    elif listed is not None:  # an index written before indexes listed their files: the manifest lists them
        files = [dict(item, path=relative, generation=0) for relative, item in sorted(listed.items())
                 if relative.startswith(INDEX_ROWS + "/") and relative.endswith(".parquet")]
        excluded = []
    else:  # a loose index written before indexes listed their files: what its rows/ folder holds
        found = sorted(fs.glob(join(root, INDEX_ROWS, "*.parquet")))
        files = [{"path": item[len(root) + 1 :], "generation": 0, "sha256": None, "bytes": None}
                 for item in found]
        excluded = []
    return IndexListing(path, params, files, excluded)


def read_listed(url: str, entry: dict[str, Any], columns: list[str] | None = None) -> pa.Table:
    """A listed Parquet file, its size and sha256 checked against the listing (when it has them)."""
    fs, inner = filesystem(url)
    data = fs.cat_file(inner)
    if entry.get("bytes") is not None and len(data) != entry["bytes"]:
        raise DedupIndexError(f"dedup index file {url}: {len(data)} bytes, its listing says {entry['bytes']}")
    if entry.get("sha256") and _sha256(data) != entry["sha256"]:
        raise DedupIndexError(f"dedup index file {url}: its sha256 is not the one its listing records")
    return pq.read_table(pa.BufferReader(data), columns=columns)


def read_rows(listing: IndexListing, entry: dict[str, Any], columns: list[str]) -> pa.Table:
    """One rows file of an index without the rows its later ``excluded`` files strike out."""
    table = read_listed(listing.url(entry), entry, columns)
    dropped = [read_listed(listing.url(item), item, [schema.DOC_ID]).column(schema.DOC_ID)
               for item in listing.exclusions_for(entry)]
    if dropped and table.num_rows:
        gone = pa.concat_arrays([chunk.cast(pa.string()) for column in dropped for chunk in column.chunks])
        table = table.filter(pc.invert(pc.fill_null(pc.is_in(table.column(schema.DOC_ID), value_set=gone), False)))
    return table


def live_rows(path: str, columns: list[str] | None = None) -> pa.Table:
    """Every row an index counts (for tests and inspection; the job reads it in tasks)."""
    listing = open_index(path)
    columns = columns or [schema.DOC_ID]
    tables = [read_rows(listing, entry, columns) for entry in listing.files]
    return pa.concat_tables(tables) if tables else pa.table({name: [] for name in columns})


def parquet_bytes(table: pa.Table) -> bytes:
    """A table as Parquet bytes with fixed writer settings (the same table gives the same bytes)."""
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None).combine_chunks(), sink, compression="snappy",
                   row_group_size=FILE_ROWS)
    return sink.getvalue()


def put_file(url: str, data: bytes) -> dict[str, Any]:
    """Writes ``data`` at ``url`` (creating local folders); returns its size and sha256."""
    fs, inner = filesystem(url)
    fs.makedirs(posixpath.dirname(inner), exist_ok=True)
    fs.pipe_file(inner, data)
    return {"bytes": len(data), "sha256": _sha256(data)}


def _part_of(block: pa.Table, parts: int) -> list[pa.Table]:
    """Cuts a block of new index rows into one table per part, by the rows' ids (``NODE``)."""
    if parts == 1:
        return [block]
    ids = view(block, NODE)
    buckets = np.frombuffer(ids.tobytes(), dtype="<u8")[::2] % parts if len(ids) else np.zeros(0, np.int64)
    order = np.argsort(buckets, kind="stable")
    ordered = block.take(pa.array(order))
    bounds = np.searchsorted(buckets[order], np.arange(parts + 1))
    return [ordered.slice(int(bounds[i]), int(bounds[i + 1] - bounds[i])) for i in range(parts)]


def _write_part(index_url: str, name: str, generation: int, target: pa.Schema, *pieces) -> dict[str, Any] | None:
    """Sorts one part's rows by id and writes it; returns its listing entry (None when it has no rows)."""
    tables = [table for piece in pieces for table in (piece if isinstance(piece, list) else [piece])]
    tables = [table for table in tables if table.num_rows]
    if not tables:
        return None
    rows = pa.concat_tables(tables).sort_by([(NODE, "ascending")])
    rows = pa.Table.from_arrays([rows.column(f.name).cast(f.type) for f in target], schema=target)
    path = f"{INDEX_ROWS}/{name}"
    entry = put_file(join(index_url, path), parquet_bytes(rows))
    return {"path": path, "format": "parquet", "rows": rows.num_rows, "generation": generation, **entry}


def part_name(generation: int, number: int) -> str:
    return f"g{generation:05d}-part-{number:05d}.parquet"


def write_parts(keys, index_url: str, config: DedupConfig, generation: int) -> list[dict[str, Any]]:
    """Workers write the key rows (``NODE`` and the index columns) as the parts of one generation.

    Returns:
        The parts' listing entries (paths relative to the index), in name order.
    """
    import ray

    target = index_schema(config)
    keys = keys.materialize()
    total = keys.count()
    if not total:
        return []
    parts = max(1, math.ceil(total / FILE_ROWS))
    split = ray.remote(_part_of).options(num_returns=parts)
    pieces = [split.remote(block, parts) for block in keys.to_arrow_refs()]
    if parts == 1:
        pieces = [[piece] for piece in pieces]
    write = ray.remote(_write_part).options(scheduling_strategy="SPREAD")
    results = ray.get([
        write.remote(index_url, part_name(generation, number), generation, target, *[p[number] for p in pieces])
        for number in range(parts)
    ])
    return [entry for entry in results if entry is not None]
