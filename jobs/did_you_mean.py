"""Suggests the config key a user most likely meant when a key is unknown."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence

from pydantic import BaseModel


def _model_in(annotation) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def suggest_key(root: type[BaseModel], location: Sequence[str | int]) -> str | None:
    """The closest known key to the unknown one at ``location`` (pydantic's error ``loc``), or ``None``.

    >>> from sftforge.jobs.config import JobConfig
    >>> suggest_key(JobConfig, ("output", "sft_fromat"))
    'sft_format'
    """
    model: type[BaseModel] | None = root
    for part in location[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    if model is None or not location or not isinstance(location[-1], str):
        return None
    matches = difflib.get_close_matches(location[-1], list(model.model_fields), n=1, cutoff=0.6)
    return matches[0] if matches else None
