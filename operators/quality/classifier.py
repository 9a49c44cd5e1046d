"""A fastText quality classifier: the text it reads, and scoring with a trained model.

Training lives in ``jobs/train_quality.py`` (``sftforge train-quality``); this module holds what both
training and the quality stage must agree on, so that a model always sees text shaped the way it was
trained on: one line, lower-cased, CJK characters separated by spaces (fastText splits on whitespace
only), the prompt and the response marked with field tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sftforge.operators.base import StageError
from sftforge.operators.text import CJK_PY

LABEL_GOOD = "good"
LABEL_BAD = "bad"
LABEL_PREFIX = "__label__"
#: Version of the text shaping below; stored beside a model and checked when it is loaded.
TEXT_FORMAT = "sftforge-quality-text-v1"

_PROMPT_MARK = "__prompt__"
_RESPONSE_MARK = "__response__"
_DOCUMENT_MARK = "__document__"
_CJK = re.compile(f"([{CJK_PY}])")
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"([.,!?;:()\[\]{}\"“”‘’«»，。！？；：（）【】、])")


class ClassifierError(StageError):
    """A quality model cannot be used (missing, unreadable, or trained on another text format)."""


def _shape(text: str, limit: int) -> str:
    text = _CJK.sub(r" \1 ", text[:limit].lower())
    return _SPACE.sub(" ", _PUNCT.sub(r" \1 ", text)).strip()


def classifier_text(instruction: str | None = None, input: str | None = None, output: str | None = None,
                    text: str | None = None, prompt_chars: int = 600, response_chars: int = 2000) -> str:
    """The single line a quality model reads for one row.

    A pair becomes ``__prompt__ <instruction and input> __response__ <output>``; a document
    ``__document__ <text>``. Long fields are cut (the start of a response says most about it, and
    fastText's cost grows with length).
    """
    if instruction or output or input:
        prompt = "\n".join(part for part in (instruction, input) if part)
        return f"{_PROMPT_MARK} {_shape(prompt, prompt_chars)} {_RESPONSE_MARK} {_shape(output or '', response_chars)}"
    return f"{_DOCUMENT_MARK} {_shape(text or '', prompt_chars + response_chars)}"


def training_line(label: str, line: str) -> str:
    """One line of a fastText training file."""
    return f"{LABEL_PREFIX}{label} {line}"


def metadata_path(model_path: str | Path) -> Path:
    """Where the JSON that describes a model lives (``model.bin`` -> ``model.bin.json``)."""
    return Path(f"{model_path}.json")


class QualityModel:
    """A fastText quality model that returns P(good) for shaped texts.

    Load one with ``QualityModel.load``; the model file is fastText's own format (no pickles), and its
    metadata file, written by ``train_quality``, must name the same ``TEXT_FORMAT``.
    """

    def __init__(self, model):
        labels = set(model.get_labels())
        expected = {LABEL_PREFIX + LABEL_GOOD, LABEL_PREFIX + LABEL_BAD}
        if labels != expected:
            raise ClassifierError(f"quality model has labels {sorted(labels)}, expected {sorted(expected)}")
        self._model = model

    @classmethod
    def load(cls, path: str | Path) -> QualityModel:
        """Loads a model saved by ``train_quality``.

        Raises:
            ClassifierError: The file is missing, not a fastText model, has other labels, or was trained
                on another text format.
        """
        import fasttext

        path = Path(path)
        if not path.is_file():
            raise ClassifierError(f"quality model {path} does not exist")
        meta_file = metadata_path(path)
        if meta_file.is_file():
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            if meta.get("text_format") != TEXT_FORMAT:
                raise ClassifierError(
                    f"quality model {path} was trained on text format {meta.get('text_format')!r}, "
                    f"this version reads {TEXT_FORMAT!r}; retrain it with `sftforge train-quality`"
                )
        try:
            model = fasttext.load_model(str(path))
        except ValueError as exc:
            raise ClassifierError(f"quality model {path} is not a fastText model: {exc}") from None
        try:
            return cls(model)
        except ClassifierError as exc:
            raise ClassifierError(f"{path}: {exc}") from None

    def probability_good(self, lines: Sequence[str]) -> np.ndarray:
        """P(good) for each shaped line (see ``classifier_text``)."""
        if not lines:
            return np.zeros(0)
        labels, probabilities = self._model.predict([line.replace("\n", " ") for line in lines], k=2)
        good = LABEL_PREFIX + LABEL_GOOD
        result = np.zeros(len(lines))
        for row, (names, values) in enumerate(zip(labels, probabilities)):
            for name, value in zip(names, values):
                if name == good:
                    result[row] = float(value)
        return np.clip(result, 0.0, 1.0)
