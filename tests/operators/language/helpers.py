"""Texts and cached models shared by the language tests (each model loads once per session)."""

from __future__ import annotations

import functools

import pyarrow as pa
from sftforge.operators import schema
from sftforge.operators.language.config import LanguageConfig
from sftforge.operators.language.filter import LanguageFilter
from sftforge.operators.language.identifier import LanguageIdentifier

ENGLISH = "The committee will publish its final report on the new railway line next spring."
GERMAN = "Der Ausschuss wird seinen Abschlussbericht über die neue Bahnstrecke im Frühjahr veröffentlichen."
CHINESE = "委员会将于明年春天发布关于新铁路线的最终报告，并征求沿线居民的意见。"
FRENCH = "Le comité publiera son rapport final sur la nouvelle ligne ferroviaire au printemps prochain."


@functools.cache
def stage(**settings) -> LanguageFilter:
    """One stage per config for the whole module: models load once."""
    if "min_score_per_language" in settings:
        settings = {**settings, "min_score_per_language": dict(settings["min_score_per_language"])}
    built = LanguageFilter(LanguageConfig(**settings))
    built.setup()
    built._ready = True
    return built


@functools.cache
def identifier(**settings) -> LanguageIdentifier:
    return LanguageIdentifier(**settings)


def documents(*texts: str | None) -> pa.Table:
    return pa.table(
        {
            schema.DOC_ID: [f"d{index}" for index in range(len(texts))],
            schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
            schema.TEXT: pa.array(list(texts), type=pa.string()),
        }
    )


def instructions(*pairs: tuple[str, str]) -> pa.Table:
    return pa.table(
        {
            schema.DOC_ID: [f"i{index}" for index in range(len(pairs))],
            schema.KIND: [schema.KIND_INSTRUCTION] * len(pairs),
            schema.TEXT: pa.nulls(len(pairs), pa.string()),
            schema.INSTRUCTION: [instruction for instruction, _ in pairs],
            schema.INPUT: [""] * len(pairs),
            schema.OUTPUT: [output for _, output in pairs],
        }
    )


def reasons_by_id(result) -> dict[str, str | None]:
    reasons = {doc_id: None for doc_id in result.kept.column(schema.DOC_ID).to_pylist()}
    rejected = result.rejected
    reasons.update(
        zip(rejected.column(schema.DOC_ID).to_pylist(), rejected.column(schema.REJECT_REASON).to_pylist())
    )
    return reasons
