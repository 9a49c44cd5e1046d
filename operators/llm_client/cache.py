"""The content-addressed response cache: the same request is never paid for twice.

The key is the SHA-256 of the canonical JSON of everything that shapes a reply: the model and sampling
parameters, the ``response_format``, the template's name and version, the rendered messages and the
sample index. The API key and the endpoint URL are not part of it (the same model behind another URL
answers the same), and nothing secret is ever written.

Entries are small JSON files, ``<root>/<key[:2]>/<key>.json``, on a local directory or any fsspec URL
all workers reach. Local writes go to a temporary file renamed into place, so a reader never sees half
an entry and concurrent writers of the same key are harmless (both write the same content). Object
stores write whole objects, which is atomic already.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

import fsspec

CACHE_FORMAT = 1


@dataclass(frozen=True)
class CachedCompletion:
    """What the cache keeps of one reply: enough to answer again without the endpoint."""

    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    model: str


def cache_key(material: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``material``."""
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Reads and writes cached completions under ``url`` (a directory or an fsspec URL)."""

    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))
        if self.local:
            os.makedirs(self.root, exist_ok=True)

    def path(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key[:2]}/{key}.json"

    def get(self, key: str) -> CachedCompletion | None:
        """The entry for ``key``, or None (a corrupt entry counts as a miss and is overwritten later)."""
        path = self.path(key)
        try:
            if self.local:
                with open(path, "rb") as handle:
                    raw = handle.read()
            else:
                raw = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        try:
            entry = json.loads(raw)
            if entry.get("format") != CACHE_FORMAT or entry.get("key") != key:
                return None
            return CachedCompletion(**entry["completion"])
        except (ValueError, TypeError, KeyError):
            return None

    def put(self, key: str, completion: CachedCompletion) -> None:
        """Stores ``completion`` under ``key`` atomically."""
        data = json.dumps(
            {"format": CACHE_FORMAT, "key": key, "completion": asdict(completion)}, ensure_ascii=False
        ).encode("utf-8")
        path = self.path(key)
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
