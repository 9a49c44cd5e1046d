"""Writes a release: workers write the shards, the driver only commits.

The layout is in ``sftforge.jobs.release.layout``. The work is spread as follows:

1. Ray workers format every row and encode it as its JSON line with a sort key, target and hash
   (``sftforge.jobs.release.stream.prepare_batch``, streamed).
2. The rows are spread over buckets whose number and content depend only on the data, and each bucket
   is sorted and written, Parquet and JSONL, by one worker task (``sftforge.jobs.release.buckets``),
   which reports every file with its size and sha256. The same rows give byte-identical files on any
   number of CPUs or machines. Rows travel worker to worker; the driver holds references.
3. The driver writes only ``manifest.json``, the reports, ``_SUCCESS`` and ``LATEST``.

Nothing is visible until the commit. On a local or mounted ``output.dir`` the run writes into
``<output.dir>/.staging-<release>-<uuid>/`` and ``publish`` renames the folder into place (replacing an
earlier release of the same id in one swap) and then replaces ``LATEST``; ``abort`` removes the staging
folder, and folders of killed runs are removed by the next run (``sftforge.jobs.release.staging``). On
an object store the commit protocol of ``sftforge.jobs.release.objectstore`` applies. Either way a run
holds the release's lease lock (``sftforge.jobs.release.lease``): a second run of the same id fails at
start. Workers write to ``output.dir`` directly, so on a cluster it must be shared storage (the same
path on every node) or an object store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sftforge.jobs.release import buckets, distributions, objectstore
from sftforge.jobs.release.layout import LATEST, MANIFEST, REJECTS, SUCCESS
from sftforge.jobs.release.lease import ReleaseLease, ReleaseLocked, remove_dead_locks
from sftforge.jobs.release.manifest import package_versions, redact
from sftforge.jobs.release.staging import (
    LATEST_TMP_PREFIX,
    REPLACED_PREFIX,
    STAGING_PREFIX,
    exchange_paths,
    fsync_dir,
    remove_stale_staging,
    take_staging_lock,
    write_durably,
)
from sftforge.jobs.release.stream import WRITE_STAGE, ReleaseError, WriteCounts, prepare_batch
from sftforge.jobs.runner import task_retry_args
from sftforge.operators.base import TASK_NUM_CPUS
from sftforge.operators.write.formats import OutputConfig, file_sha256

__all__ = ["LATEST", "MANIFEST", "REJECTS", "SUCCESS", "WRITE_STAGE", "ReleaseError", "ReleaseWriter",
           "WriteCounts", "prepare_batch"]

log = logging.getLogger("sftforge.release")

_RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ReleaseWriter:
    """Writes one release of ``output.dir`` through a staging area.

    Creating the writer takes the release's lock, removes what killed runs left, and creates this
    run's staging area. ``staging_dir`` is a local folder where steps may add their own files (dead
    letters, the report); they are published with the release. ``staging_url`` is where workers write
    (the same folder locally, the run's prefix on an object store); files they write there themselves
    (a dedup index) are listed with ``add_files``. Use ``write`` once, then
    ``publish``; on any failure call ``abort`` (or use the writer as a context manager).

    Args:
        output: Output config (folder or URL, SFT format, file formats, shard size).
        release_id: Folder name of the release under ``output.dir``.
        kept_columns: Source fields kept as string metadata columns (inputs' ``keep_columns``).

    Raises:
        ReleaseError: The id is not a folder name, or another run is writing the same release.
    """

    def __init__(self, output: OutputConfig, release_id: str, kept_columns: tuple[str, ...] | None = None):
        if not _RELEASE_ID.match(release_id) or release_id == LATEST:
            raise ReleaseError(f"'{release_id}' is not a valid release id (letters, digits, '.', '_', '-')")
        from fsspec.core import url_to_fs

        self.output = output
        self.kept_columns = kept_columns
        self.release_id = release_id
        self.counts: WriteCounts | None = None
        self.witness_checks: dict[str, list[str]] = {}
        self._lock_fd: int | None = None
        self._lease: ReleaseLease | None = None
        self.added_files: list[dict[str, Any]] = []
        url = output.dir if "://" in output.dir else str(Path(output.dir).expanduser().resolve())
        self.fs, root = url_to_fs(url)
        self.local = objectstore.is_local(self.fs)
        if self.local:
            self.root = Path(root)
            self.root.mkdir(parents=True, exist_ok=True)
            remove_stale_staging(self.root)
            remove_dead_locks(self.fs, str(self.root))
            self._token, self._lock_path, self._lock_fd = take_staging_lock(self.root, release_id)
            self._take_lease(str(self.root))
            self.staging_dir = self.root / f"{STAGING_PREFIX}{self._token}"
            self.staging_dir.mkdir()
            self.staging_url = str(self.staging_dir)
            self.release_dir: Path | str = self.root / release_id
        else:
            self.root = root.rstrip("/")
            self._token = f"{release_id}-{uuid.uuid4().hex}"
            remove_dead_locks(self.fs, self.root)
            self._take_lease(self.root)
            objectstore.remove_debris(self.fs, self.root, release_id, self._token)
            self.staging_url = self.fs.unstrip_protocol(objectstore.join(self.root, STAGING_PREFIX + self._token))
            self.staging_dir = Path(tempfile.mkdtemp(prefix=f"sftforge-{release_id}-"))
            self.release_dir = self.fs.unstrip_protocol(objectstore.join(self.root, release_id))
        self._state = "staging"

    def _take_lease(self, root: str) -> None:
        lease = ReleaseLease(self.fs, root, self.release_id, self._token)
        try:
            lease.acquire()
        except ReleaseLocked as exc:
            self._state = "aborted"
            self._release_locks()
            raise ReleaseError(str(exc)) from None
        self._lease = lease

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._state != "published":
            self.abort()

    def write(self, ds, prefix: str = "part-", extend=None) -> WriteCounts:
        """Consumes the final Dataset once; workers write every row into the staging area.

        Args:
            ds: Live rows (``split`` set) and rejected rows (``reject_stage`` and ``reject_reason`` set).
            prefix: Start of the data files' names (a refresh names its night's files ``part-<night>-``).
            extend: Called with the type checks the rows' witnesses pass per target (``witness_checks``)
                once they are known; may return a Dataset of more rows to write with them.

        Returns:
            Rows per split and output kind, rejected rows per stage, and the files written.
        """
        if self._state != "staging":
            raise ReleaseError(f"release {self.release_id}: write() is called once, before publish()")
        self._state = "writing"
        more = None if extend is None else (lambda checks: _maybe(self._prepare, extend(checks)))
        results, self.witness_checks = _write_buckets(self._prepare(ds), self.output, self.staging_url, prefix, more)
        instructions, documents, rejected, files = buckets.merge_results(results)
        self.counts = WriteCounts(
            instructions_by_split=dict(sorted(instructions.items())),
            documents_by_split=dict(sorted(documents.items())),
            rejected_by_stage=dict(sorted(rejected.items())),
            files=files,
            distributions=buckets.merge_distributions(results),
        )
        self._state = "written"
        log.info("release %s: wrote %d rows, rejected %d", self.release_id, self.counts.total_written,
                 self.counts.total_rejected)
        return self.counts

    def _prepare(self, ds):
        return ds.map_batches(
            prepare_batch, fn_kwargs={"output": self.output, "kept_columns": self.kept_columns},
            batch_format="pyarrow", batch_size=None, num_cpus=TASK_NUM_CPUS, **task_retry_args(),
        )

    def adopt(self, release_dir: str, files: list[dict[str, Any]], counts: WriteCounts) -> WriteCounts:
        """Copies data files of a published release into this one as they are, after ``write``.

        A refresh keeps the files of the nights whose rows all carry over this way: no row is read.
        Locally the files are hard-linked (releases never change a file in place), on an object store
        copied by the store.

        Args:
            release_dir: The published release (folder or URL) the files come from.
            files: Their manifest entries (paths relative to both releases, sizes and sha256).
            counts: The rows those files hold.

        Returns:
            This release's counts, the adopted files' included.
        """
        if self._state != "written":
            raise ReleaseError(f"release {self.release_id}: adopt() comes after write()")
        if files:
            if self.local:
                for item in files:
                    _link_or_copy(Path(release_dir) / item["path"], self.staging_dir / item["path"])
            else:
                from fsspec.core import url_to_fs

                source = url_to_fs(release_dir)[1].rstrip("/")
                staging = objectstore.join(self.root, STAGING_PREFIX + self._token)
                self.fs.copy([objectstore.join(source, item["path"]) for item in files],
                             [objectstore.join(staging, item["path"]) for item in files])
        merged = WriteCounts(
            instructions_by_split=_add(self.counts.instructions_by_split, counts.instructions_by_split),
            documents_by_split=_add(self.counts.documents_by_split, counts.documents_by_split),
            rejected_by_stage=_add(self.counts.rejected_by_stage, counts.rejected_by_stage),
            files=sorted(self.counts.files + [dict(item) for item in files], key=lambda item: item["path"]),
            distributions=self._adopted_distributions(files),
        )
        paths = [item["path"] for item in merged.files]
        if len(set(paths)) != len(paths):
            raise ReleaseError(f"release {self.release_id}: adopted files clash with the files written")
        self.counts = merged
        return merged

    def _adopted_distributions(self, files: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The written rows' summary and that of the adopted record files: only those are read back."""
        if self.counts.distributions is None:
            return None
        base = str(self.staging_dir) if self.local else objectstore.join(self.root, STAGING_PREFIX + self._token)
        return distributions.merge([self.counts.distributions] + [
            distributions.read_summary(self.fs, objectstore.join(base, path), key)
            for key, path in distributions.record_files(files)
        ] + [
            distributions.read_reject_summary(self.fs, objectstore.join(base, path), path)
            for path in distributions.reject_files(files)
        ])

    def publish(self, manifest: dict[str, Any]) -> Path | str:
        """Writes ``manifest.json`` and ``_SUCCESS``, puts the release in place, then moves ``LATEST``.

        Args:
            manifest: What the job knows (config, config hash, inputs, stage counts, ...). Secrets are
                masked (``redact``). The writer adds ``release``, ``rows``, ``files``, ``versions`` and
                ``published_at``.

        Returns:
            The published release: a folder, or a URL on an object store.
        """
        if self._state != "written":
            raise ReleaseError(f"release {self.release_id}: publish() needs a completed write() first")
        clashes = sorted({"rows", "files", "versions", "published_at"} & set(manifest))
        if clashes:
            raise ReleaseError(f"manifest keys {clashes} are filled in by the release writer")
        side_files = self._side_files()
        worker_files = self._worker_files()
        document = redact(dict(manifest))
        document.setdefault("release", self.release_id)
        document["rows"] = self.counts.as_dict()
        document["files"] = sorted(
            worker_files + [_describe(relative, path) for relative, path in side_files.items()],
            key=lambda item: item["path"],
        )
        document["versions"] = package_versions()
        document["published_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()
        if self.local:
            write_durably(self.staging_dir / MANIFEST, data)
            write_durably(self.staging_dir / SUCCESS, hashlib.sha256(data).hexdigest().encode())
            fsync_dir(self.staging_dir)
            self._swap_into_place()
            self._state = "published"
            self._move_latest()
        else:
            root = self.root
            staging = objectstore.join(root, STAGING_PREFIX + self._token)
            objectstore.commit(self.fs, root, self.release_id, staging, worker_files, side_files, data)
            self._state = "published"
            shutil.rmtree(self.staging_dir, ignore_errors=True)
        self._release_locks()
        log.info("release %s published at %s", self.release_id, self.release_dir)
        return self.release_dir

    def add_files(self, files: list[dict[str, Any]]) -> None:
        """Lists files that workers wrote into ``staging_url`` themselves (a dedup index's parts).

        Args:
            files: Manifest entries (``path`` relative to the release, ``bytes``, ``sha256``, ...) as the
                workers reported them. They are published like the shards: renamed with the staging
                folder, or copied server side from the staging prefix of an object store.
        """
        if self._state in ("published", "aborted"):
            raise ReleaseError(f"release {self.release_id}: add_files() after the release was closed")
        self.added_files.extend(dict(item) for item in files)

    def _worker_files(self) -> list[dict[str, Any]]:
        files = self.counts.files + self.added_files
        paths = [item["path"] for item in files]
        if len(set(paths)) != len(paths):
            raise ReleaseError(f"release {self.release_id}: a file is listed twice among {sorted(paths)[:5]}")
        return files

    def abort(self) -> None:
        """Removes the staging area; published releases and ``LATEST`` stay as they were."""
        if self._state in ("published", "aborted"):
            return
        shutil.rmtree(self.staging_dir, ignore_errors=True)
        if not self.local:
            try:
                self.fs.rm(objectstore.join(self.root, STAGING_PREFIX + self._token), recursive=True)
            except (FileNotFoundError, OSError) as exc:
                log.warning("release %s: staging left for the next run to remove (%s)", self.release_id, exc)
        self._state = "aborted"
        self._release_locks()

    def _side_files(self) -> dict[str, Path]:
        """Files the driver and steps put in ``staging_dir``, besides the workers' data files."""
        data = {item["path"] for item in self.counts.files + self.added_files}
        return {
            path.relative_to(self.staging_dir).as_posix(): path
            for path in sorted(p for p in self.staging_dir.rglob("*") if p.is_file())
            if path.relative_to(self.staging_dir).as_posix() not in data | {MANIFEST, SUCCESS}
        }

    def _swap_into_place(self) -> None:
        if not self.release_dir.exists():
            os.rename(self.staging_dir, self.release_dir)
            fsync_dir(self.root)
            return
        replaced = self.root / f"{REPLACED_PREFIX}{self._token}"
        if self._exchange(self.staging_dir, self.release_dir):
            # The new release is in place; the staging path now holds the old one, which abort must not
            # be mistaken for (a leftover is removed by the next run once this process is gone).
            self._state = "published"
            os.rename(self.staging_dir, replaced)
        else:
            os.rename(self.release_dir, replaced)
            try:
                os.rename(self.staging_dir, self.release_dir)
            except OSError:
                os.rename(replaced, self.release_dir)
                raise
        fsync_dir(self.root)
        shutil.rmtree(replaced, ignore_errors=True)

    @staticmethod
    def _exchange(first: Path, second: Path) -> bool:
        return exchange_paths(first, second)

    def _move_latest(self) -> None:
        temporary = self.root / f"{LATEST_TMP_PREFIX}{self._token}"
        write_durably(temporary, f"{self.release_id}\n".encode())
        os.replace(temporary, self.root / LATEST)
        fsync_dir(self.root)

    def _release_locks(self) -> None:
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        if self._lock_fd is None:
            return
        try:
            self._lock_path.unlink(missing_ok=True)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None


def _describe(relative: str, path: Path) -> dict[str, Any]:
    return {"path": relative, "format": path.suffix.lstrip(".") or None, "rows": None,
            "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _maybe(function, value):
    return None if value is None else function(value)


def _add(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    total = Counter(first)
    total.update(second)
    return dict(sorted((key, value) for key, value in total.items() if value))


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_buckets(
    prepared, output: OutputConfig, staging_url: str, prefix: str = "part-", extend=None,
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Runs the bucket plan on the cluster; returns what each bucket's task wrote and the witnesses'
    type checks per target."""
    import ray

    blocks = prepared.to_arrow_refs()
    survey = ray.remote(buckets.survey)
    surveys = ray.get([survey.remote(block) for block in blocks])
    if extend is not None:
        more = extend(_checks(buckets.merge_surveys(surveys)[1]))
        if more is not None:
            extra = more.to_arrow_refs()
            blocks += extra
            surveys += ray.get([survey.remote(block) for block in extra])
    rows_by_target, witnesses = buckets.merge_surveys(surveys)
    checks = _checks(witnesses)
    plan = buckets.plan_buckets(rows_by_target, output, witnesses, prefix)
    if not plan:
        return [], checks
    # SPREAD: a bucket's write is as costly as any other, so the cluster's nodes share them evenly.
    split = ray.remote(buckets.partition).options(num_returns=len(plan), scheduling_strategy="SPREAD")
    pieces = [split.remote(block, plan) for block in blocks]
    if len(plan) == 1:
        pieces = [[piece] for piece in pieces]
    write = ray.remote(buckets.write_bucket).options(scheduling_strategy="SPREAD")
    del blocks  # the partitions hold the rows now
    return ray.get([
        write.remote(bucket, staging_url, output, *[block_pieces[index] for block_pieces in pieces])
        for index, bucket in enumerate(plan)
    ]), checks


def _checks(witnesses: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {target: sorted(found) for target, found in sorted(witnesses.items())}
