"""``dedup.against: auto``: the previous release's dedup index, kept accumulating night after night.

A refresh compares its new rows with the previous index minus the entries of rows whose file changed or
vanished (those rows are not in the new release; a changed file must not lose its rows as duplicates of
their own old copies). That filtered index is then merged into the release's own ``dedup_index``, so the
next night finds every row of the release in one index.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sftforge.jobs.refresh.releases import Release, filesystem, join
from sftforge.operators import schema

AUTO = "auto"
INDEX_DIR = "dedup_index"
PARAMS = "params.json"
ROWS = "rows"
CARRIED_ROWS_FILE = "carried-00000.parquet"


def previous_index_files(release: Release) -> list[str]:
    return [release.file_path(item["path"]) for item in release.files(f"{INDEX_DIR}/{ROWS}/")
            if item["path"].endswith(".parquet")]


def write_filtered_index(release: Release, dropped_ids: list[str], target: str) -> str | None:
    """Writes the previous index without ``dropped_ids`` as an index at ``target``; None if it has none."""
    fs, params_path = filesystem(release.file_path(f"{INDEX_DIR}/{PARAMS}"))
    if not fs.exists(params_path):
        return None
    with fs.open(params_path, "rb") as handle:
        params = json.loads(handle.read().decode("utf-8"))
    dropped = pa.array(dropped_ids, pa.string())
    tables = []
    for path in previous_index_files(release):
        rfs, inner = filesystem(path)
        with rfs.open(inner, "rb") as handle:
            table = pq.read_table(handle)
        tables.append(table.filter(pc.invert(pc.is_in(table.column(schema.DOC_ID), value_set=dropped))))
    out_fs, out_root = filesystem(target)
    out_fs.makedirs(join(out_root, ROWS), exist_ok=True)
    rows = 0
    if tables:
        table = pa.concat_tables(tables, promote_options="default")
        rows = table.num_rows
        with out_fs.open(join(out_root, ROWS, CARRIED_ROWS_FILE), "wb") as handle:
            pq.write_table(table, handle)
    with out_fs.open(join(out_root, PARAMS), "wb") as handle:
        handle.write(json.dumps(dict(params, rows=rows), indent=2, sort_keys=True).encode("utf-8"))
    return target


def merge_into_release_index(carried_index: str, staging_dir: str) -> int:
    """Moves the carried index's rows into the release's ``dedup_index`` and removes ``carried_index``.

    Returns the release index's row count afterwards.
    """
    fs, carried_root = filesystem(carried_index)
    release_index = join(str(staging_dir), INDEX_DIR)
    _, index_root = filesystem(release_index)
    source = join(carried_root, ROWS, CARRIED_ROWS_FILE)
    with fs.open(join(index_root, PARAMS), "rb") as handle:
        params = json.loads(handle.read().decode("utf-8"))
    carried = 0
    if fs.exists(source):
        carried = pq.ParquetFile(fs.open(source, "rb")).metadata.num_rows
        fs.makedirs(join(index_root, ROWS), exist_ok=True)
        fs.mv(source, join(index_root, ROWS, CARRIED_ROWS_FILE))
    params["rows"] = int(params.get("rows", 0)) + carried
    with fs.open(join(index_root, PARAMS), "wb") as handle:
        handle.write(json.dumps(params, indent=2, sort_keys=True).encode("utf-8"))
    fs.rm(carried_root, recursive=True)
    return params["rows"]


def resolve_auto_against(job_config):
    """For a run that is not a refresh: ``auto`` becomes the index of the release ``LATEST`` names."""
    from sftforge.jobs.refresh.releases import latest_release

    dedup = job_config.dedup
    if dedup is None or AUTO not in dedup.against:
        return job_config
    against = [path for path in dedup.against if path != AUTO]
    previous = latest_release(str(job_config.output.dir))
    if previous is not None and previous_index_files(previous):
        against.append(previous.file_path(INDEX_DIR))
    return job_config.model_copy(update={"dedup": dedup.model_copy(update={"against": against})})
