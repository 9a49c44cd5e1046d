"""``dedup.against: auto``: the previous release's dedup index, kept accumulating night after night.

A refresh carries the previous index over file by file: its listed files are copied into the new
release's staging index (server side on an object store, a plain file copy locally), and the doc_ids of
rows whose input file changed or vanished go into one small ``excluded`` file of this night's generation
(those rows are not in the new release, and a changed file must not lose its rows as duplicates of
their own old copies). The new rows are compared with that carried index, and the dedup step then adds
only their parts to it (``save_index(append=True)``). No carried row passes through Ray or the driver,
so a night's index work grows with its new rows, not with the rows published so far.
"""

from __future__ import annotations

import json
import posixpath

import pyarrow as pa
from sftforge.jobs.dedup.index_files import (
    EXCLUDED_DIR,
    STANDALONE,
    DedupIndexError,
    open_index,
    parquet_bytes,
    put_file,
)
from sftforge.jobs.refresh.releases import Release, filesystem, join
from sftforge.operators import schema

AUTO = "auto"
INDEX_DIR = "dedup_index"
PARAMS = "params.json"


def has_index(release: Release) -> bool:
    """Whether the release's manifest lists a dedup index."""
    return any(item["path"] == f"{INDEX_DIR}/{PARAMS}" for item in release.files(f"{INDEX_DIR}/"))


def copy_files(sources: list[str], targets: list[str]) -> None:
    """Copies files within one store: server side on an object store, a plain copy locally."""
    if not sources:
        return
    fs, _ = filesystem(sources[0])
    inner_sources = [filesystem(path)[1] for path in sources]
    inner_targets = [filesystem(path)[1] for path in targets]
    for folder in sorted({posixpath.dirname(path) for path in inner_targets}):
        fs.makedirs(folder, exist_ok=True)
    fs.copy(inner_sources, inner_targets)


def carry_index(release: Release, dropped_ids: list[str], target: str) -> str | None:
    """Puts the previous release's index, minus ``dropped_ids``, at ``target`` as a carried index.

    The listed files are copied as they are; ``params.json`` at ``target`` lists them, this night's
    ``excluded`` file, the next ``generation`` and, as ``source``, the previous index (reject reasons name
    it). Returns ``target``, or None when the previous release has no index.

    Raises:
        DedupIndexError: The previous index is not confirmed by its release's manifest.
    """
    if not has_index(release):
        return None
    previous = open_index(release.file_path(INDEX_DIR))
    generation = previous.generation + 1
    carried = previous.files + previous.excluded
    copy_files([previous.url(item) for item in carried], [join(target, item["path"]) for item in carried])
    excluded = list(previous.excluded)
    if dropped_ids:
        path = f"{EXCLUDED_DIR}/g{generation:05d}.parquet"
        table = pa.table({schema.DOC_ID: pa.array(sorted(set(dropped_ids)), pa.string())})
        entry = put_file(join(target, path), parquet_bytes(table))
        excluded.append({"path": path, "format": "parquet", "rows": table.num_rows, "generation": generation,
                         **entry})
    params = {key: value for key, value in previous.params.items() if key not in ("files", "excluded")}
    # Standalone: it lives in this run's staging area, where no manifest is committed yet.
    params.update(generation=generation, files=previous.files, excluded=excluded, source=previous.path,
                  **{STANDALONE: True})
    put_file(join(target, PARAMS), json.dumps(params, indent=2, sort_keys=True).encode("utf-8"))
    return target


def resolve_auto_against(job_config):
    """For a run that is not a refresh: ``auto`` becomes the index of the release ``LATEST`` names."""
    from sftforge.jobs.refresh.releases import latest_release

    dedup = job_config.dedup
    if dedup is None or AUTO not in dedup.against:
        return job_config
    against = [path for path in dedup.against if path != AUTO]
    previous = latest_release(str(job_config.output.dir))
    if previous is not None and has_index(previous):
        against.append(previous.file_path(INDEX_DIR))
    return job_config.model_copy(update={"dedup": dedup.model_copy(update={"against": against})})


__all__ = ["AUTO", "INDEX_DIR", "DedupIndexError", "carry_index", "has_index", "resolve_auto_against"]
