"""The language config: checked on the driver, before Ray starts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sftforge.operators.language.config import LanguageConfig


def test_a_missing_model_fails_when_the_config_is_read(tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        LanguageConfig(model_path=str(tmp_path / "missing.ftz"))


def test_bad_codes_and_unknown_keys_are_config_errors():
    with pytest.raises(ValidationError, match="'english' is not an ISO 639"):
        LanguageConfig(allowed=("english",))
    with pytest.raises(ValidationError):
        LanguageConfig(alowed=("en",))
    with pytest.raises(ValidationError, match="allowed is empty"):
        LanguageConfig(allowed=())
