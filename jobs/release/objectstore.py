"""Publishing a release to an object store (``s3://``, ``gs://``, ``abfs://``), which has no atomic rename.

The commit protocol:

1. At start the run takes the release's lock object with a lease (``sftforge.jobs.release.lease``); a
   second run of the same release id fails there. Holding it, the run deletes what dead runs of this id
   left: their ``.staging-<release>-<token>/`` prefixes.
2. Workers write the data files under ``<output.dir>/.staging-<release>-<token>/`` (the run's tag) and
   report each file's size and sha256. Nothing there is ever read as a release.
3. The commit removes ``<release>/_SUCCESS`` first (a replaced release stops being trusted before any of
   its files change), deletes the rest of the old ``<release>/``, copies the staged files in (server
   side: no byte passes through the driver), uploads the driver's own files (report, indexes, dead
   letters), checks that the objects under ``<release>/`` are exactly the manifest's files with their
   sizes, writes ``manifest.json``, then ``_SUCCESS`` (the manifest's sha256), then ``LATEST`` (on S3 a
   conditional write against the ``LATEST`` it read), then deletes the staging prefix and the lock.
4. A run that dies at any point leaves no ``_SUCCESS`` for its release and ``LATEST`` as it was; the
   next run of the id removes its debris. Readers (``verified_release``) trust only a release whose
   ``_SUCCESS`` holds the sha256 of its ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from sftforge.jobs.release.layout import LATEST, MANIFEST, SUCCESS
from sftforge.jobs.release.stream import ReleaseError

log = logging.getLogger("sftforge.release")

STAGING_PREFIX = ".staging-"


def is_local(fs) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols or "local" in protocols


def join(*parts: str) -> str:
    return "/".join(part.strip("/") if index else part.rstrip("/") for index, part in enumerate(parts))


def remove_debris(fs, root: str, release_id: str, own_token: str) -> list[str]:
    """Deletes the staging prefixes of earlier runs of ``release_id`` (the caller holds its lock)."""
    removed = []
    prefix = f"{STAGING_PREFIX}{release_id}-"
    try:
        entries = fs.ls(root, detail=False, refresh=True)
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        token = name[len(STAGING_PREFIX) :]
        if name.startswith(prefix) and token != own_token and len(token) == len(own_token):
            fs.rm(entry, recursive=True)
            removed.append(entry)
            log.warning("removed %s left by a run of release %s that did not finish", name, release_id)
    return removed


def commit(
    fs, root: str, release_id: str, staging: str, data_files: list[dict[str, Any]],
    side_files: dict[str, Path], manifest: bytes,
) -> str:
    """Publishes a staged release under ``root`` (steps 3 of the protocol); returns the release path.

    Args:
        data_files: Manifest entries of the files the workers wrote under ``staging``.
        side_files: Release-relative path -> local file, for what the driver wrote.
        manifest: The bytes of ``manifest.json`` (it lists data and side files).
    """
    release = join(root, release_id)
    latest_tag = _etag(fs, join(root, LATEST))
    if fs.exists(join(release, SUCCESS)):
        fs.rm_file(join(release, SUCCESS))
    if fs.exists(release):
        fs.rm(release, recursive=True)
    if data_files:
        fs.copy(
            [join(staging, item["path"]) for item in data_files],
            [join(release, item["path"]) for item in data_files],
        )
    for relative, local in sorted(side_files.items()):
        fs.put_file(str(local), join(release, relative))
    expected = {item["path"]: item["bytes"] for item in data_files}
    expected.update({relative: local.stat().st_size for relative, local in side_files.items()})
    found = {
        path[len(release) + 1 :]: info["size"]
        for path, info in fs.find(release, detail=True, withdirs=False).items()
    } if fs.exists(release) else {}
    if found != expected:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        raise ReleaseError(
            f"release {release_id}: the store does not hold exactly the manifest's files "
            f"(missing {missing[:5]}, unexpected {extra[:5]}); not published"
        )
    fs.pipe_file(join(release, MANIFEST), manifest)
    fs.pipe_file(join(release, SUCCESS), hashlib.sha256(manifest).hexdigest().encode())
    _move_latest(fs, join(root, LATEST), release_id, latest_tag)
    fs.rm(staging, recursive=True)
    return release


def _etag(fs, path: str) -> str | None:
    try:
        return fs.info(path, refresh=True).get("ETag") if fs.exists(path) else None
    except (FileNotFoundError, TypeError):
        return None


def _move_latest(fs, path: str, release_id: str, seen_tag: str | None) -> None:
    """Writes ``LATEST``; on S3 only if it is still what the run read (else another run moved it: retry)."""
    data = f"{release_id}\n".encode()
    if "s3" not in ((fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)):
        fs.pipe_file(path, data)
        return
    for _attempt in range(5):
        try:
            if seen_tag is None:
                fs.pipe_file(path, data, mode="create")
            else:
                fs.pipe_file(path, data, IfMatch=seen_tag)
            return
        except (FileExistsError, OSError) as exc:
            log.info("LATEST changed while publishing %s (%s); writing it again", release_id, exc)
            seen_tag = _etag(fs, path)
    fs.pipe_file(path, data)


def verified_release(output_dir: str, release_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The URL and manifest of a release that is safe to read: ``LATEST``'s, or ``release_id``.

    Raises:
        ReleaseError: The release has no ``_SUCCESS``, or its ``_SUCCESS`` does not match its manifest.
    """
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(output_dir)
    if release_id is None:
        try:
            release_id = fs.cat_file(join(root, LATEST)).decode().strip()
        except FileNotFoundError:
            raise ReleaseError(f"{output_dir} has no LATEST release") from None
    release = join(root, release_id)
    try:
        success = fs.cat_file(join(release, SUCCESS)).decode().strip()
        manifest = fs.cat_file(join(release, MANIFEST))
    except FileNotFoundError:
        raise ReleaseError(f"release {release_id} in {output_dir} is incomplete (no _SUCCESS)") from None
    if success != hashlib.sha256(manifest).hexdigest():
        raise ReleaseError(f"release {release_id} in {output_dir}: _SUCCESS does not match its manifest")
    return fs.unstrip_protocol(release), json.loads(manifest)
