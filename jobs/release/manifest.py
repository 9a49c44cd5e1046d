"""What a release's manifest records besides the job's own entries: package versions, and no secrets."""

from __future__ import annotations

import importlib.metadata
import platform
import re
from typing import Any

#: Distributions whose versions go into the manifest when installed.
VERSIONED_PACKAGES = (
    "sftforge",
    "ray",
    "pyarrow",
    "numpy",
    "pydantic",
    "datasketch",
    "rensa",
    "fasttext-numpy2",
    "lingua-language-detector",
    "openai",
    "tenacity",
    "llama-cpp-python",
    "fsspec",
    "PyYAML",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a release, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


_SECRET_WORDS = {
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credential",
    "credentials",
    "authorization",
    "cookie",
    "bearer",
}
_KEY_QUALIFIERS = {"api", "access", "private", "secret", "client", "auth", "signing", "encryption", "session"}
_NAME_ONLY_SUFFIXES = {"env", "var", "file", "path", "name", "header"}
_SECRET_VALUE = re.compile(
    r"^(sk-[A-Za-z0-9_-]{16,}|(?i:bearer)\s+\S{8,}|gh[pousr]_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,})$"
)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/:@\s]+):(?P<password>[^/@\s]+)@", re.IGNORECASE
)
MASK = "***"


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``OPENAI_TOKEN``, ``password``), not a setting
    that merely mentions one (``max_tokens``, ``api_key_env``)."""
    words = [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", key)]
    if not words or words[-1] in _NAME_ONLY_SUFFIXES:
        return False
    if any(word in _SECRET_WORDS for word in words):
        return True
    return any(
        word == "key" and index > 0 and words[index - 1] in _KEY_QUALIFIERS
        for index, word in enumerate(words)
    )


def redact(obj: Any) -> Any:
    """A copy of ``obj`` with secrets masked: values under secret-looking keys, values that look like API
    keys or bearer tokens, and passwords inside URLs."""
    if isinstance(obj, dict):
        return {
            key: MASK
            if isinstance(key, str)
            and is_secret_key(key)
            and value not in (None, "")
            and not isinstance(value, bool)
            else redact(value)
            for key, value in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact(value) for value in obj]
    if isinstance(obj, str):
        if _SECRET_VALUE.match(obj.strip()):
            return MASK
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", obj)
    return obj
