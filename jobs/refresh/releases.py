"""Reading published releases of an ``output.dir`` (local folder or fsspec URL).

Only a release with ``_SUCCESS`` is trusted, and only the files its manifest lists are read. Every path
inside a release is made by ``release_path``, the one place that knows the layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sftforge.jobs.release.layout import LATEST, MANIFEST, SUCCESS
from sftforge.jobs.storage import filesystem, join


class RefreshError(Exception):
    """A refresh cannot go on (an overlapping run, an unusable previous release); nothing is published."""


def forget_listings(urls: list[str]) -> None:
    """Drops what fsspec remembers of the stores of ``urls`` (listings, sizes, ETags).

    A driver that lives through several nights (a test, a notebook, a long-lived submitter) would
    otherwise plan tonight from last night's listing: a new file unseen, a changed one unchanged.
    """
    for url in urls:
        filesystem(url)[0].invalidate_cache()


def release_path(root: str, release: str, *parts: str) -> str:
    """A path inside release ``release`` of ``output.dir`` ``root``."""
    return join(root, release, *parts)


@dataclass(frozen=True)
class Release:
    """A published release: its id, folder (URL or path) and manifest."""

    release_id: str
    path: str
    manifest: dict[str, Any]

    def files(self, prefix: str = "") -> list[dict[str, Any]]:
        """Manifest entries of the release's files whose path starts with ``prefix``."""
        return [item for item in self.manifest.get("files", []) if item["path"].startswith(prefix)]

    def file_path(self, relative: str) -> str:
        return join(self.path, relative)


def latest_release_id(root: str) -> str | None:
    """The id in ``<root>/LATEST``, or None when nothing was published."""
    fs, path = filesystem(join(root, LATEST))
    try:
        with fs.open(path, "rb") as handle:
            return handle.read().decode("utf-8").strip() or None
    except FileNotFoundError:
        return None


def open_release(root: str, release_id: str) -> Release:
    """The published release ``release_id`` of ``root``.

    Raises:
        RefreshError: It has no ``_SUCCESS`` or no readable manifest.
    """
    fs, success = filesystem(release_path(root, release_id, SUCCESS))
    if not fs.exists(success):
        raise RefreshError(f"release {release_id} in {root} has no {SUCCESS}; it is incomplete and not trusted")
    fs, manifest_path = filesystem(release_path(root, release_id, MANIFEST))
    try:
        with fs.open(manifest_path, "rb") as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise RefreshError(f"release {release_id} in {root}: cannot read {MANIFEST} ({exc})") from None
    if manifest.get("release") != release_id:
        raise RefreshError(f"release {release_id} in {root}: its manifest names {manifest.get('release')!r}")
    return Release(release_id, release_path(root, release_id), manifest)


def latest_release(root: str) -> Release | None:
    """The release ``LATEST`` points at, or None when there is none yet."""
    release_id = latest_release_id(root)
    return open_release(root, release_id) if release_id else None
