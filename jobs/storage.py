"""Paths and URLs: which package a URL scheme needs (checked on the driver before Ray starts), a
filesystem for a path or URL, and joining parts onto either."""

from __future__ import annotations

import importlib.util
import posixpath

#: Extras of sftforge that install a scheme's filesystem.
_EXTRAS = {"s3fs": "sftforge[s3]"}
_LOCAL_SCHEMES = {"file", "local"}
#: Folders of a Ray runtime-env package: a config there is a temporary copy made by ``ray job submit``.
RAY_PACKAGE_MARKERS = ("runtime_resources/working_dir_files/", "_ray_pkg_")


def filesystem(url: str):
    """``(fs, path)`` for a local path or an fsspec URL."""
    from fsspec.core import url_to_fs

    return url_to_fs(url)


def join(root: str, *parts: str) -> str:
    """``root`` joined with ``parts`` (URLs keep their scheme)."""
    return posixpath.join(root.rstrip("/"), *parts)


def url_scheme(path: str) -> str | None:
    """``s3`` for ``s3://bucket/key``; ``None`` for a local path."""
    scheme, sep, _ = path.partition("://")
    if not sep or not scheme or not scheme.replace("-", "").replace("+", "").replace(".", "").isalnum():
        return None
    return scheme.lower()


def missing_filesystem(path: str) -> str | None:
    """Why ``path`` cannot be opened here (its scheme is unknown or its package is not installed), or ``None``."""
    scheme = url_scheme(path)
    if scheme is None or scheme in _LOCAL_SCHEMES:
        return None
    from fsspec.registry import known_implementations, registry

    if scheme in registry:
        return None
    known = known_implementations.get(scheme)
    if known is None:
        return f"'{path}': no filesystem is known for the URL scheme {scheme}://"
    module = known["class"].split(".", 1)[0]
    if importlib.util.find_spec(module) is not None:
        return None
    package = {"gcsfs": "gcsfs", "adlfs": "adlfs", "s3fs": "s3fs"}.get(module, module)
    how = f"pip install '{_EXTRAS[package]}'" if package in _EXTRAS else f"pip install {package}"
    return f"'{path}': {scheme}:// URLs need the package {package}, which is not installed ({how})"


def inside_ray_package(path: str) -> bool:
    """Whether ``path`` lies in a Ray runtime-env package (a ``--working-dir`` copy)."""
    text = str(path).replace("\\", "/")
    return any(marker in text for marker in RAY_PACKAGE_MARKERS)
