"""The carry store: a release's final rows (after the split, live and rejected) kept as Parquet under
``<release>/carry/``, so that the next refresh takes the rows of unchanged files as they were, split and
scores included, without recomputing them.

Source rows are carried by their ``source_file``; rows made by augmentation follow their parent
(``parent_id``): they drop out only when the parent's row came from a file that changed or vanished.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sftforge.jobs import stats
from sftforge.jobs.refresh.releases import Release, filesystem
from sftforge.operators import schema

CARRY_DIR = "carry"
#: Counter scopes: rows carried over (``rows``, ``live``, ``rejected``) and carried rejects per stage.
CARRIED_SCOPE = "refresh.carried"
CARRIED_REJECTS_SCOPE = "refresh.carried_rejects"
#: Final rows per source file and per (input file, split), for the next night's plan and the diff.
FINAL_FILES_SCOPE = "refresh.final_files"
FINAL_SPLITS_SCOPE = "refresh.final_splits"


def carry_files(release: Release) -> list[str]:
    """The carry store's files of a published release, as its manifest lists them."""
    return [release.file_path(item["path"]) for item in release.files(CARRY_DIR + "/")
            if item["path"].endswith(".parquet")]


def dropped_doc_ids(files: list[str], dropped_sources: list[str]) -> list[str]:
    """``doc_id`` of the stored source rows that came from ``dropped_sources`` (changed or vanished)."""
    if not dropped_sources:
        return []
    found: set[str] = set()
    wanted = pa.array(sorted(dropped_sources), pa.string())
    for path in files:
        fs, inner = filesystem(path)
        with fs.open(inner, "rb") as handle:
            table = pq.read_table(handle, columns=[schema.DOC_ID, schema.SOURCE_FILE])
        hits = table.filter(pc.is_in(table.column(schema.SOURCE_FILE), value_set=wanted))
        found.update(value for value in hits.column(schema.DOC_ID).to_pylist() if value)
    return sorted(found)


def select_carried(table: pa.Table, unchanged: pa.Array, dropped_parents: pa.Array) -> pa.Table:
    """Rows of a stored block to carry: source rows of unchanged files, and generated rows whose parent
    did not come from a changed or vanished file."""
    origin = table.column(schema.ORIGIN)
    is_source = pc.fill_null(pc.equal(origin, schema.ORIGIN_SOURCE), False)
    source_kept = pc.and_(is_source, pc.is_in(table.column(schema.SOURCE_FILE), value_set=unchanged))
    parent_dropped = pc.fill_null(pc.is_in(table.column(schema.PARENT_ID), value_set=dropped_parents), False)
    generated_kept = pc.and_(pc.invert(is_source), pc.invert(parent_dropped))
    return table.filter(pc.or_(source_kept, generated_kept))


def _read_carried(batch: pa.Table, unchanged: list[str], dropped_parents: list[str],
                  stats_actor: str | None) -> Iterator[pa.Table]:
    unchanged_set = pa.array(unchanged, pa.string())
    dropped_set = pa.array(dropped_parents, pa.string())
    for path in batch.column("path").to_pylist():
        fs, inner = filesystem(path)
        with fs.open(inner, "rb") as handle:
            table = pq.read_table(handle)
        kept = select_carried(table, unchanged_set, dropped_set)
        rejected = kept.filter(pc.is_valid(kept.column(schema.REJECT_STAGE)))
        by_stage = {item["values"]: item["counts"]
                    for item in pc.value_counts(rejected.column(schema.REJECT_STAGE)).to_pylist()}
        # Counted once the file is read, so a retried task never counts its rows twice.
        stats.record(CARRIED_SCOPE, {"rows": kept.num_rows, "live": kept.num_rows - rejected.num_rows,
                                     "rejected": rejected.num_rows}, stats_actor)
        if by_stage:
            stats.record(CARRIED_REJECTS_SCOPE, by_stage, stats_actor)
        if kept.num_rows:
            yield kept


def read_carried(files: list[str], unchanged: list[str], dropped_parents: list[str],
                 stats_actor: str | None = None):
    """A Dataset of the carried rows (lazy; one task per stored file), or None when nothing is carried."""
    import ray.data

    if not files:
        return None
    ds = ray.data.from_items([{"path": path} for path in files], override_num_blocks=len(files))
    return ds.map_batches(
        _read_carried,
        fn_kwargs={"unchanged": sorted(unchanged), "dropped_parents": list(dropped_parents),
                   "stats_actor": stats_actor},
        batch_size=1, batch_format="pyarrow", num_cpus=0.5,
    )


def _count_final(batch: pa.Table, stats_actor: str | None) -> pa.Table:
    files, splits = {}, {}
    is_source = pc.fill_null(pc.equal(batch.column(schema.ORIGIN), schema.ORIGIN_SOURCE), False)
    sources = batch.filter(is_source)
    for item in pc.value_counts(pc.fill_null(sources.column(schema.SOURCE_FILE), "")).to_pylist():
        files[item["values"]] = item["counts"]
    live = batch.filter(pc.is_null(batch.column(schema.REJECT_STAGE)))
    if live.num_rows:
        keys = pc.binary_join_element_wise(
            pc.fill_null(live.column(schema.SOURCE_FILE), ""), pc.fill_null(live.column(schema.SPLIT), ""), "\x1f"
        )
        for item in pc.value_counts(keys).to_pylist():
            splits[item["values"]] = item["counts"]
    if files:
        stats.record(FINAL_FILES_SCOPE, files, stats_actor)
    if splits:
        stats.record(FINAL_SPLITS_SCOPE, splits, stats_actor)
    return batch


def _write_carry_part(block: pa.Table, staging_url: str, name: str) -> dict[str, Any] | None:
    """Writes one block of final rows as a carry file (in a worker); returns its manifest entry."""
    from sftforge.jobs.dedup.index_files import join, put_file

    if not block.num_rows:
        return None
    sink = pa.BufferOutputStream()
    pq.write_table(block.replace_schema_metadata(None), sink)
    path = f"{CARRY_DIR}/{name}"
    return {"path": path, "format": "parquet", "rows": block.num_rows,
            **put_file(join(staging_url, path), sink.getvalue().to_pybytes())}


def save_final_rows(ds, staging_url: str, stats_actor: str | None, prefix: str = "part-", first: int = 0):
    """Materializes the final rows, has workers write them as carry files, and returns both.

    Rows per source file and per (file, split) are counted on the way, for the manifest. Each block is
    written by a task straight into the release's staging location (``staging_url``: the staging folder,
    or the run's object-store prefix) as ``<prefix>NNNNN.parquet``, numbered from ``first``, so no row
    passes through the driver.

    Returns:
        The final rows (materialized) and the carry files' manifest entries (paths relative to the release).
    """
    import ray

    final = ds.map_batches(_count_final, fn_kwargs={"stats_actor": stats_actor}, batch_format="pyarrow",
                           batch_size=None).materialize()
    write = ray.remote(_write_carry_part).options(scheduling_strategy="SPREAD")
    entries = ray.get([write.remote(ref, str(staging_url), f"{prefix}{first + number:05d}.parquet")
                       for number, ref in enumerate(final.to_arrow_refs())])
    return final, [entry for entry in entries if entry is not None]


def split_counts(counters: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """``{source_file: {split: live rows}}`` from the run's counters."""
    result: dict[str, dict[str, int]] = {}
    for key, count in counters.get(FINAL_SPLITS_SCOPE, {}).items():
        path, _, split = key.partition("\x1f")
        result.setdefault(path, {})[split] = count
    return result


def json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
