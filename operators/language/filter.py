"""The language stage: labels every row with its language and keeps the allowed ones."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.base import Resources, Stage, StageResult
from sftforge.operators.language.codes import admitted, is_admitted
from sftforge.operators.language.config import LanguageConfig
from sftforge.operators.language.identifier import Identification, LanguageIdentifier
from sftforge.operators.text import row_texts


class LanguageFilter(Stage[LanguageConfig]):
    """Labels every row with its language and keeps the allowed ones.

    Adds ``lang`` (canonical code, ``und`` when a text has none) and ``lang_score``. A rejected row's
    reason names the language and the score: ``language: de (0.93) not in [en, zh]``,
    ``language: en score 0.31 < 0.50``, ``undetermined: empty``; for instruction data the side that
    failed is named (``language: response de (0.93) not in [en, zh]``).
    """

    name = "language"
    requires = (schema.DOC_ID, schema.KIND, schema.TEXT)
    adds: ClassVar[dict[str, pa.DataType]] = {schema.LANG: pa.string(), schema.LANG_SCORE: pa.float64()}

    def __init__(self, config: LanguageConfig):
        super().__init__(config)
        self.resources = Resources(
            num_cpus=config.num_cpus, actors=True, max_actors=config.max_actors, batch_rows=config.batch_rows
        )
        self._admitted = admitted(config.allowed) if config.allowed else None
        self._allowed_text = ", ".join(config.allowed) if config.allowed else ""
        self.identifier: LanguageIdentifier | None = None

    def setup(self) -> None:
        config = self.config
        self.identifier = LanguageIdentifier(
            config.model_path,
            second_opinion_below=config.second_opinion_below if config.second_opinion else 0.0,
            short_text_chars=config.short_text_chars if config.second_opinion else 0,
            lingua_accuracy=config.lingua_accuracy,
            lingua_preload=config.lingua_preload and config.second_opinion,
            arbitrate_only=self._admitted,
            use_script=config.second_opinion,
            use_cld2=config.second_opinion,
            use_lingua=config.second_opinion,
            window_chars=config.window_chars,
            max_windows=config.max_windows,
        )

    def process(self, table: pa.Table) -> StageResult:
        assert self.identifier is not None, "setup() loads the model"
        documents = pc.fill_null(pc.not_equal(table.column(schema.KIND), schema.KIND_INSTRUCTION), True)
        is_document = documents.to_pylist()
        field = self.config.text_field
        prompts, responses = self.sides(table)
        if field == "both":
            sides = [i for i, document in enumerate(is_document) if not document]
            found = self.identifier.identify(prompts + [responses[i] for i in sides])
            own, response_of = found[: table.num_rows], dict(zip(sides, found[table.num_rows :]))
        else:
            if field == "instruction":
                texts = prompts
            elif field == "output":  # a document has no response: its text decides
                texts = [
                    prompt if document else response
                    for prompt, response, document in zip(prompts, responses, is_document)
                ]
            else:
                texts = [
                    prompt if document else "\n".join(part for part in (prompt, response) if part)
                    for prompt, response, document in zip(prompts, responses, is_document)
                ]
            own, response_of = self.identifier.identify(texts), {}
        reasons = []
        for index, found in enumerate(own):
            side = "prompt " if index in response_of else ""
            reason = self.verdict(found, side)
            if reason is None and index in response_of:
                reason = self.verdict(response_of[index], "response ")
            reasons.append(reason)
        table = table.append_column(schema.LANG, pa.array([f.lang for f in own], type=pa.string()))
        table = table.append_column(
            schema.LANG_SCORE, pa.array([round(f.score, 4) for f in own], type=pa.float64())
        )
        return self.partition(table, reasons)

    @staticmethod
    def sides(table: pa.Table) -> tuple[list[str], list[str]]:
        """Returns each row's prompt and response (a document's text, and nothing).

        Multi-turn rows carry ``messages`` instead of instruction and output: their user turns are the
        prompt and their assistant turns the response.
        """
        prompts, responses = row_texts(table, "instruction"), row_texts(table, "output")
        if schema.MESSAGES in table.column_names:
            for index, messages in enumerate(table.column(schema.MESSAGES).to_pylist()):
                if messages and not prompts[index] and not responses[index]:
                    turns = [(turn.get("role"), turn.get("content") or "") for turn in messages]
                    prompts[index] = "\n".join(text for role, text in turns if role == schema.ROLE_USER)
                    responses[index] = "\n".join(
                        text for role, text in turns if role == schema.ROLE_ASSISTANT
                    )
        return prompts, responses

    def verdict(self, found: Identification, side: str = "") -> str | None:
        """Returns why a text fails the config, or None when it passes."""
        if found.undetermined is not None:
            return f"undetermined: {found.undetermined}" + (f" {side.strip()}" if side else "")
        if self._admitted is not None and not is_admitted(found.lang, self._admitted):
            return f"language: {side}{found.lang} ({found.score:.2f}) not in [{self._allowed_text}]"
        threshold = self.config.min_score_per_language.get(found.lang, self.config.min_score)
        if found.score < threshold:
            return f"language: {side}{found.lang} score {found.score:.2f} < {threshold:.2f}"
        return None


def language_counts(table: pa.Table) -> dict[str, dict[str, int]]:
    """Counts rows per language that the language stage kept and rejected, for the run report.

    Rows rejected by an earlier stage (no ``lang``) are left out; rows a later stage rejected count as
    kept here, since this stage kept them.
    """
    if schema.LANG not in table.column_names:
        return {"kept": {}, "rejected": {}}
    lang = table.column(schema.LANG)
    if schema.REJECT_STAGE in table.column_names:
        by_us = pc.fill_null(pc.equal(table.column(schema.REJECT_STAGE), LanguageFilter.name), False)
    else:
        by_us = pa.array([False] * table.num_rows)
    labelled = pc.is_valid(lang)
    result = {}
    for key, mask in (("kept", pc.and_(labelled, pc.invert(by_us))), ("rejected", pc.and_(labelled, by_us))):
        counts = pc.value_counts(lang.filter(mask))
        pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
        result[key] = dict(sorted(pairs, key=lambda pair: (-pair[1], pair[0])))
    return result
