"""One nightly refresh: what ``run_job`` asks of it before reading, before writing and before publishing.

``RefreshSession.prepare`` (on the driver, before Ray reads anything) takes the lock, finds the previous
release (``LATEST``; only a release with ``_SUCCESS``), fingerprints every input file and plans the run.
``inputs`` narrows the job to new and changed files; ``finish_rows`` adds the carried rows to the final
Dataset and saves the carry store; ``account`` checks the counts, carried rows as their own category;
``manifest`` records what the next night needs.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sftforge.jobs.refresh import carry, index, segments
from sftforge.jobs.refresh.lock import RefreshLock
from sftforge.jobs.refresh.plan import (
    RefreshPlan,
    check_lineage_names,
    fresh_specs,
    list_inputs,
    plan_refresh,
    processing_hash,
)
from sftforge.jobs.refresh.releases import (
    RefreshError,
    Release,
    forget_listings,
    join,
    latest_release,
    open_release,
)

log = logging.getLogger("sftforge.refresh")


@dataclass
class RefreshSession:
    """State of one refresh run; see the module docstring for the order of the calls."""

    config: Any
    release_id: str
    run_id: str
    previous: Release | None = None
    since: str | None = None
    plan: RefreshPlan | None = None
    dropped_ids: list[str] = field(default_factory=list)
    carried_index: str | None = None
    segments: segments.SegmentPlan | None = None
    #: Manifest entries of the carry files workers wrote into the staging location.
    release_files: list[dict[str, Any]] = field(default_factory=list)
    _lock: RefreshLock | None = None
    _carried_counts: dict[str, int] = field(default_factory=dict)
    _carried_rejects: dict[str, int] = field(default_factory=dict)
    _night: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return str(self.config.output.dir)

    def prepare(self) -> None:
        """Takes the lock and plans the run (on the driver, before any data is read).

        Raises:
            RefreshError: Another refresh of ``output.dir`` is running, ``LATEST`` names a release
                without ``_SUCCESS``, or two input files share a lineage name.
        """
        self._lock = RefreshLock(self.root, self.run_id).acquire()
        try:
            forget_listings([self.root, *(path for spec in self.config.inputs for path in spec.paths)])
            self.previous = latest_release(self.root)
            self.since = self._since()
            files = list_inputs(self.config.inputs)
            check_lineage_names(files)
            previous_files, reason = None, None
            if self.previous is not None:
                recorded = self.previous.manifest.get("refresh")
                if not recorded:
                    reason = f"release {self.previous.release_id} was not made by a refresh"
                elif recorded.get("processing_hash") != processing_hash(self.config.model_dump(mode="json")):
                    reason = f"the config changed since release {self.previous.release_id}"
                else:
                    previous_files = recorded["files"]
            self.plan = plan_refresh(files, previous_files, reason)
            log.info("refresh %s: %s%s", self.release_id, self.plan.counts(),
                     f" (full run: {self.plan.full_reason})" if self.plan.full_reason else "")
            if self.carrying:
                dropped = self.plan.source_names(self.plan.changed + self.plan.vanished)
                self.segments = segments.plan_segments(self.previous.manifest.get("refresh"), set(dropped),
                                                       self.release_id)
                self.dropped_ids = carry.dropped_doc_ids(self._carry_files(self.segments.dissolved), dropped)
        except BaseException:
            self.close()
            raise

    def _since(self) -> str | None:
        """The release this one is compared with: the previous one, or the one before a re-run."""
        if self.previous is None:
            return None
        if self.previous.release_id != self.release_id:
            return self.previous.release_id
        return (self.previous.manifest.get("refresh") or {}).get("since")

    def _carry_files(self, names: list[str] | None) -> list[str]:
        """Carry files of the previous release's segments ``names`` (all of them for None)."""
        if names is None:
            return carry.carry_files(self.previous)
        found = segments.segment_files(self.previous.manifest.get("files", []), set(names), carry.CARRY_DIR + "/")
        return [self.previous.file_path(item["path"]) for item in found if item["path"].endswith(".parquet")]

    def _copied(self) -> list[dict[str, Any]]:
        """Records of the previous release's segments copied as they are."""
        return list(self.segments.copied.values()) if self.carrying and self.segments else []

    @property
    def carrying(self) -> bool:
        return self.previous is not None and self.plan is not None and not self.plan.full_reason

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def inputs(self):
        """The job's inputs narrowed to the files this run processes."""
        return fresh_specs(self.config.inputs, self.plan)

    def resolve_against(self, job_config, staging_url: str):
        """The job config with ``dedup.against: auto`` replaced by the carried previous index.

        The previous index's files are copied into the release's staging index (``staging_url``:
        the staging folder, or the run's object-store prefix), where the dedup step adds this night's
        rows to them.
        """
        dedup = job_config.dedup
        if dedup is None or index.AUTO not in dedup.against:
            return job_config
        others = [path for path in dedup.against if path != index.AUTO]
        if self.carrying and (dedup.exact.enabled or dedup.near.enabled):
            target = join(str(staging_url), index.INDEX_DIR)
            self.carried_index = index.carry_index(self.previous, self.dropped_ids, target)
        against = others + ([self.carried_index] if self.carried_index else [])
        return job_config.model_copy(update={"dedup": dedup.model_copy(update={"against": against})})

    def finish_rows(self, ds, staging_dir: str, stats_actor: str | None, staging_url: str | None = None):
        """Adds the rows of dissolved segments to the final Dataset and has workers save the night's carry
        store under ``staging_url`` (default ``staging_dir``); ``release_files`` lists its files."""
        self._staging, self._stats_actor = staging_dir, stats_actor
        self._staging_url = staging_url or str(staging_dir)
        if self.carrying:
            carried = carry.read_carried(self._carry_files(self.segments.dissolved),
                                         self.plan.source_names(self.plan.unchanged), self.dropped_ids, stats_actor)
            if carried is not None:
                ds = ds.union(carried)
        return self._save(ds)

    def _save(self, ds):
        # Numbered after the files of an earlier call (the type-witness fallback adds a second one).
        first = 1 + max((int(item["path"].rsplit("-", 1)[1].split(".")[0]) for item in self.release_files), default=-1)
        final, files = carry.save_final_rows(ds, self._staging_url, self._stats_actor,
                                             segments.file_prefix(self.release_id), first=first)
        self.release_files.extend(files)
        return final

    def write(self, writer, ds):
        """Writes the night's segment, then copies the copied segments' files; returns the release's counts."""
        from sftforge.jobs.release.stream import WriteCounts

        extend = self._extend if self._copied() else None
        night = writer.write(ds, prefix=segments.file_prefix(self.release_id), extend=extend)
        self._night = {"counts": night, "checks": writer.witness_checks}
        copied = self._copied()
        files = segments.segment_files(self.previous.manifest.get("files", []), set(self.segments.copied)) \
            if copied else []
        counts = WriteCounts(
            instructions_by_split=dict(segments.summed(copied, "instructions_by_split")),
            documents_by_split=dict(segments.summed(copied, "documents_by_split")),
            rejected_by_stage=dict(segments.summed(copied, "rejected_by_stage")),
        )
        log.info("refresh %s: %d segment(s) copied (%d files), %s dissolved", self.release_id, len(copied),
                 len(files), "all" if self.segments is None or self.segments.dissolved is None
                 else len(self.segments.dissolved))
        return writer.adopt(self.previous.path if copied else "", files, counts)

    def _extend(self, checks: dict[str, list[str]]):
        """The rows of every copied segment, when the first files would miss a type witness (see ``segments``)."""
        if segments.covers(self.segments.copied, self.release_id, checks):
            return None
        names = self.segments.dissolve_all()
        log.info("refresh %s: the night's rows have types the first files do not witness; segments %s are "
                 "written again", self.release_id, names)
        rows = carry.read_carried(self._carry_files(names), self.plan.source_names(self.plan.unchanged),
                                  self.dropped_ids, self._stats_actor)
        if rows is None:
            return None
        return self._save(rows)

    def fresh_written(self, counters: dict, written: int, rejected_by_stage: dict[str, int]):
        """The written and rejected counts of the rows this run processed (carried rows taken out)."""
        copied, copied_rejects = segments.carried_counts(self._copied())
        carried = Counter(counters.get(carry.CARRIED_SCOPE, {}))
        carried.update(copied)
        carried_rejects = Counter(counters.get(carry.CARRIED_REJECTS_SCOPE, {}))
        carried_rejects.update(copied_rejects)
        self._carried_counts = {key: int(carried.get(key, 0)) for key in ("rows", "live", "rejected")}
        self._carried_rejects = {key: value for key, value in sorted(carried_rejects.items()) if value}
        fresh_rejects = Counter(rejected_by_stage)
        fresh_rejects.subtract(carried_rejects)
        if any(value < 0 for value in fresh_rejects.values()):
            raise RefreshError(f"carried rejects {dict(carried_rejects)} exceed rejects/ {rejected_by_stage}")
        return written - self._carried_counts["live"], {k: v for k, v in fresh_rejects.items() if v}

    def accounting(self, fresh: dict[str, Any], counters: dict) -> dict[str, Any]:
        """The release's accounting: the fresh rows' (checked) plus the carried rows as their own category."""
        c = self._carried_counts
        document = dict(fresh)
        document["rows_carried"] = c.get("rows", 0)
        document["rows_written"] = fresh["rows_written"] + c.get("live", 0)
        document["rows_rejected"] = fresh["rows_rejected"] + c.get("rejected", 0)
        document["carried_rejected_by_stage"] = dict(self._carried_rejects)
        document["dropped"] = self.dropped_rows()
        return document

    def _by_path(self, by_source: dict[str, Any]) -> dict[str, Any]:
        """Per-file figures keyed by lineage name (``source_file``), re-keyed by the files' paths."""
        return {f["path"]: by_source[f["source"]] for f in self.plan.files if f["source"] in by_source}

    def dropped_rows(self) -> dict[str, int]:
        """Rows of the previous release not carried: from vanished files, from changed files."""
        if not self.carrying:
            return {"vanished_files": 0, "changed_files": 0}
        before = (self.previous.manifest.get("refresh") or {}).get("rows_by_file", {})
        return {"vanished_files": sum(int(before.get(p, 0)) for p in self.plan.vanished),
                "changed_files": sum(int(before.get(p, 0)) for p in self.plan.changed)}

    def check_carried(self) -> None:
        """The carried source rows must be exactly the previous release's rows of the unchanged files.

        Raises:
            sftforge.jobs.accounting.AccountingError: With the numbers.
        """
        from sftforge.jobs.accounting import AccountingError

        if not self.carrying:
            return
        before = (self.previous.manifest.get("refresh") or {}).get("rows_by_file", {})
        expected = sum(int(before.get(path, 0)) for path in self.plan.unchanged)
        found = sum(self._final_files.get(path, 0) for path in self.plan.source_names(self.plan.unchanged))
        if expected != found:
            raise AccountingError(f"refresh: the unchanged files held {expected} rows in release "
                                  f"{self.previous.release_id}, {found} were carried over")

    def manifest(self, counters: dict) -> dict[str, Any]:
        """The manifest's ``refresh`` section: what the next night plans from."""
        copied = self._copied()
        night_files = dict(counters.get(carry.FINAL_FILES_SCOPE, {}))
        night_splits = dict(counters.get(carry.FINAL_SPLITS_SCOPE, {}))
        self._final_files = dict(segments.summed(copied, "rows_by_source") + Counter(night_files))
        splits = {carry.FINAL_SPLITS_SCOPE: dict(segments.summed(copied, "rows_by_source_split") + Counter(night_splits))}
        self.check_carried()
        records = {name: record for name, record in (self.segments.copied.items() if copied else [])}
        night = self._night.get("counts")
        if night is not None and night.total_written + night.total_rejected:
            records[self.release_id] = segments.segment_record(night_files, night_splits, night, self._night["checks"])
        return {
            "previous": self.previous.release_id if self.previous else None,
            "since": self.since,
            "full_reason": self.plan.full_reason,
            "processing_hash": processing_hash(self.config.model_dump(mode="json")),
            "files": self.plan.files,
            "file_changes": {"new": self.plan.new, "changed": self.plan.changed, "vanished": self.plan.vanished,
                             "unchanged": len(self.plan.unchanged)},
            "rows_by_file": {f["path"]: self._final_files.get(f["source"], 0) for f in self.plan.files},
            "rows_by_file_split": self._by_path(carry.split_counts(splits)),
            segments.SEGMENTS: dict(sorted(records.items())),
            "carry_dir": carry.CARRY_DIR,
        }

    def since_release(self) -> Release | None:
        """The release the report's "since the last release" section compares with."""
        if self.since is None:
            return None
        if self.previous is not None and self.since == self.previous.release_id:
            return self.previous
        try:
            return open_release(self.root, self.since)
        except RefreshError:
            return None

    def report_sections(self, refresh_manifest: dict[str, Any], counts, accounting: dict[str, Any]) -> dict:
        """The report's ``refresh`` section and, after a first release, ``since_last_release``."""
        from pathlib import Path

        from sftforge.jobs.diff import diff_manifests
        from sftforge.jobs.release.report import top_reasons

        sections: dict[str, Any] = {"refresh": {
            "previous": refresh_manifest["previous"],
            "full_reason": refresh_manifest["full_reason"],
            "files": self.plan.counts(),
            "rows_carried": accounting.get("rows_carried", 0),
            "rows_dropped": accounting.get("dropped", {}),
        }}
        since = self.since_release()
        if since is not None:
            current = {"release": self.release_id, "rows": counts.as_dict(), "refresh": refresh_manifest,
                       "rejections": top_reasons(Path(str(self._staging)) / "rejects",
                                                 summary=(counts.distributions or {}).get("rejections"))}
            sections["since_last_release"] = diff_manifests(since.manifest, current)
        return sections
