from __future__ import annotations

import pytest
from sftforge.jobs.release.manifest import MASK, is_secret_key, package_versions, redact


def test_redact_masks_secrets_only():
    manifest = {
        "llm": {
            "api_key": "sk-live",
            "api_key_env": "OPENAI_API_KEY",
            "max_tokens": 512,
            "base_url": "https://user:hunter2@example.com/v1",
            "headers": {"Authorization": "Bearer abcdefghijkl"},
        },
        "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz",
        "aws": {"secretAccessKey": "x", "access_key_id": "AKIA..."},
        "notes": ["sk-abcdefghijklmnopqrstuvwx", "plain"],
        "password": None,
        "use_token": True,
    }
    masked = redact(manifest)
    assert masked["llm"]["api_key"] == MASK
    assert masked["llm"]["api_key_env"] == "OPENAI_API_KEY"
    assert masked["llm"]["max_tokens"] == 512
    assert masked["llm"]["base_url"] == f"https://user:{MASK}@example.com/v1"
    assert masked["llm"]["headers"]["Authorization"] == MASK
    assert masked["HF_TOKEN"] == MASK
    assert masked["aws"]["secretAccessKey"] == MASK
    assert masked["notes"] == [MASK, "plain"]
    assert masked["password"] is None and masked["use_token"] is True
    assert manifest["llm"]["api_key"] == "sk-live"  # the input is not modified


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("openaiApiKey", True),
        ("OPENAI_API_KEY", True),
        ("token", True),
        ("refresh_token", True),
        ("client_secret", True),
        ("db_password", True),
        ("private_key", True),
        ("max_tokens", False),
        ("tokenizer", False),
        ("api_key_env", False),
        ("token_file", False),
        ("monkey", False),
        ("key", False),
        ("sort_key", False),
    ],
)
def test_secret_key_names(key, secret):
    assert is_secret_key(key) is secret


def test_package_versions_name_the_runtime():
    versions = package_versions()
    assert {"python", "pyarrow", "ray", "pydantic"} <= set(versions)
    assert all(isinstance(value, str) and value for value in versions.values())
