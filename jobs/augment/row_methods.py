"""Per-row methods over parent rows: the shared batching and resume logic (``RowMethod``), round trip
and paraphrase. Each turns a batch of parents into generated rows, dead letters and resume state; the
prompts, parsers and filters they use are the pure parts in ``operators.augment``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.jobs.augment.checkpoints import (
    STATE_SCHEMA_PARENTS,
    BatchOutput,
    Checkpoints,
    FailureGate,
    MethodOutcome,
    ProgressSink,
    fingerprint,
    finish_batch,
    join_url,
    load_finished,
    trim_to_target,
)
from sftforge.operators import schema
from sftforge.operators.augment import back_translation, filters, paraphrase
from sftforge.operators.augment.prompts import resolve
from sftforge.operators.augment.provenance import DeadLetter, GeneratedRow
from sftforge.operators.llm_client import LLMConfig, LLMEngine, LLMResult, PromptTemplate


@dataclass(frozen=True)
class Parent:
    """A source row a per-row method works from."""

    doc_id: str
    kind: str
    text: str
    instruction: str
    input: str
    output: str
    language: str


def parent_hash(method: str, doc_id: str) -> int:
    """64-bit hash of (method, doc_id): the resume key, and the sample-rate draw."""
    return int.from_bytes(hashlib.blake2b(f"{method}\0{doc_id}".encode(), digest_size=8).digest(), "little")


def parents_from_table(table: pa.Table) -> list[dict[str, Any]]:
    """The live rows of a batch as dicts with the fields parents need."""
    if schema.REJECT_STAGE in table.column_names:
        table = table.filter(pc.is_null(table.column(schema.REJECT_STAGE)))
    columns = {}
    for name in (schema.DOC_ID, schema.KIND, schema.TEXT, schema.INSTRUCTION, schema.INPUT, schema.OUTPUT):
        columns[name] = table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
    return [
        {name: values[i] for name, values in columns.items()} for i in range(table.num_rows)
    ]


class RowMethod:
    """A method that makes rows from single parent rows; subclasses build and check the calls."""

    method: str
    kind: str  # the parent kind the method reads
    #: The method's built-in prompt template per language; the config's ``templates`` override them.
    builtin_templates: Mapping[str, PromptTemplate] = {}

    def __init__(self, config, llm: LLMConfig, work_dir: str | Path, extra: str = ""):
        self.config = config
        self.llm = llm
        self.templates = {lang: resolve(t, config.templates) for lang, t in self.builtin_templates.items()}
        name = f"{self.method}-{fingerprint(self.method, config.model_dump(mode='json'), llm, extra)}"
        self.checkpoints = Checkpoints(join_url(work_dir, name))
        self.outcome = MethodOutcome(self.method, self.checkpoints.url, config.target_rows)
        self.used = np.empty(0, dtype=np.uint64)
        self.used_now: set[int] = set()
        self.pending: list[Parent] = []
        self.next_batch = 0
        self.gate = FailureGate(f"augment.{self.method}", llm)

    def resume(self) -> None:
        finished = load_finished(self.checkpoints, self.outcome)
        hashes = [self.checkpoints.state(batch).column("parent_hash").to_numpy() for batch in finished]
        self.used = np.sort(np.concatenate(hashes)) if hashes else np.empty(0, dtype=np.uint64)
        self.next_batch = finished[-1] + 1 if finished else 0

    def done(self) -> bool:
        return self.outcome.rows >= self.config.target_rows or self.outcome.stopped is not None

    def skip_reason(self, row: Mapping[str, Any]) -> str | None:
        """Why a row is not a parent of this method (None: it is)."""
        raise NotImplementedError

    def offer(self, row: Mapping[str, Any]) -> bool:
        """Takes ``row`` as a parent when eligible; True when a batch is full."""
        doc_id = row[schema.DOC_ID]
        if row[schema.KIND] != self.kind or not doc_id:
            return False
        key = parent_hash(self.method, doc_id)
        if key / 2**64 >= self.config.sample_rate:
            return False
        if key in self.used_now or _contains(self.used, key):
            return False
        reason = self.skip_reason(row)
        if reason is not None:
            self.outcome.counters[f"skipped.{reason}"] += 1
            return False
        self.used_now.add(key)
        content = row[schema.TEXT] if self.kind == schema.KIND_DOCUMENT else row[schema.INSTRUCTION]
        self.pending.append(
            Parent(doc_id, row[schema.KIND], row[schema.TEXT] or "", row[schema.INSTRUCTION] or "",
                   row[schema.INPUT] or "", row[schema.OUTPUT] or "", filters.text_language(content or "") or "")
        )
        return len(self.pending) >= self.config.parents_per_batch

    def flush(self, engine: LLMEngine, board: ProgressSink) -> None:
        """Processes the pending parents as one batch and checkpoints it."""
        if not self.pending or self.done():
            self.pending = []
            return
        parents, self.pending = self.pending, []
        batch = self.next_batch
        output = self.process(parents, batch, engine)
        output.counters["parents"] += len(parents)
        self.gate.add(len(parents), output)  # raises EndpointOutage beyond the tolerated share
        trim_to_target(output, self.config.target_rows - self.outcome.rows)
        output.state = pa.table(
            {"parent_hash": pa.array([parent_hash(self.method, p.doc_id) for p in parents], type=pa.uint64())}
        )
        before = self.outcome.rows
        finish_batch(self.checkpoints, self.outcome, batch, output, STATE_SCHEMA_PARENTS)
        board.advance(self.method, self.outcome.rows - before)
        self.next_batch = batch + 1
        if output.budget_exhausted:
            self.outcome.stopped = "llm budget exhausted"

    def process(self, parents: Sequence[Parent], batch: int, engine: LLMEngine) -> BatchOutput:
        raise NotImplementedError


def _contains(sorted_hashes: np.ndarray, key: int) -> bool:
    if not len(sorted_hashes):
        return False
    key_array = np.uint64(key)
    position = int(np.searchsorted(sorted_hashes, key_array))
    return position < len(sorted_hashes) and sorted_hashes[position] == key_array


def _instruction_skip(row: Mapping[str, Any], max_chars: int, include_output: bool = False) -> str | None:
    instruction = row[schema.INSTRUCTION] or ""
    if not instruction.strip() or not (row[schema.OUTPUT] or "").strip():
        return "no_instruction_pair"
    if filters.text_language(instruction) is None:
        return "unsupported_language"
    if len(instruction) > max_chars or (include_output and len(row[schema.OUTPUT]) > max_chars):
        return filters.TOO_LONG
    return None


class RoundTripMethod(RowMethod):
    """Round-trip back-translation of instruction rows (instruction, and response when configured)."""

    method = back_translation.METHOD
    kind = schema.KIND_INSTRUCTION
    builtin_templates = back_translation.TRANSLATE
    config: back_translation.RoundTripConfig

    def skip_reason(self, row):
        reason = _instruction_skip(row, self.config.max_source_chars, self.config.include_output)
        if reason is None and filters.text_language(row[schema.INSTRUCTION]) not in self.config.pivot:
            return "no_pivot_for_language"
        return reason

    def process(self, parents, batch, engine):
        config = self.config
        output = BatchOutput()
        fields = ("instruction", "output") if config.include_output else ("instruction",)
        there = [
            back_translation.translation_request(
                f"{p.doc_id}:{name}:there", getattr(p, name), config.pivot[p.language], self.templates
            )
            for p in parents
            for name in fields
        ]
        first = iter(engine.run(there))
        back_requests, back_parents = [], []
        for p in parents:
            pivots = _checked_legs(
                output, p, fields, [next(first) for _ in fields], ("translate", "translate"),
                lambda source, text, p=p: back_translation.pivot_reason(
                    source, text, config.pivot[p.language]
                ),
                keep_raw=True,
            )
            if pivots is None:
                continue
            back_parents.append(p)
            back_requests += [
                back_translation.translation_request(f"{p.doc_id}:{name}:back", pivots[name], p.language, self.templates)
                for name in fields
            ]
        output.counters["pivots_ok"] += len(back_parents)
        second = iter(engine.run(back_requests))
        for p in back_parents:
            legs = [next(second) for _ in fields]
            results = _checked_legs(
                output, p, fields, legs, ("back_translate", "check"),
                lambda source, text, p=p: back_translation.round_trip_reason(
                    source, text, p.language, config
                ),
                keep_raw=False,
            )
            if results is None:
                continue
            template = self.templates["zh" if p.language == "zh" else "en"]
            output.rows.append(
                GeneratedRow(self.method, p.doc_id, results["instruction"], p.input, results.get("output", p.output),
                             legs[0].model, (template,))
            )
        return output


def _checked_legs(
    output: BatchOutput,
    parent: Parent,
    fields: Sequence[str],
    legs: Sequence[LLMResult],
    steps: tuple[str, str],
    check: Callable[[str, str], tuple[str | None, str | None]],
    keep_raw: bool,
) -> dict[str, str] | None:
    """One parent's translations in one direction, parsed (field -> text), or None once its loss is recorded.

    Both directions of the round trip go through here: a failed call is recorded under ``steps[0]``, and
    a text that ``check`` (source field, translation) refuses becomes a dead letter under ``steps[1]``,
    with the raw reply when ``keep_raw``.
    """
    method = back_translation.METHOD
    failed = next((leg for leg in legs if not leg.ok), None)
    if failed is not None:
        output.call_failed(method, parent.doc_id, steps[0], failed)
        return None
    texts = {name: back_translation.parse_translation(leg.text) for name, leg in zip(fields, legs)}
    for name, leg in zip(fields, legs):
        reason, detail = check(getattr(parent, name), texts[name])
        if reason is not None:
            evidence = f"{name}: {detail}" if detail else name
            output.drop(DeadLetter(method, parent.doc_id, steps[1], reason, evidence, candidate=texts[name],
                                   raw=leg.text if keep_raw else None, template=leg.template, model=leg.model))
            return None
    return texts


class ParaphraseMethod(RowMethod):
    """Paraphrases of instruction rows."""

    method = paraphrase.METHOD
    kind = schema.KIND_INSTRUCTION
    builtin_templates = paraphrase.REWRITE
    config: paraphrase.ParaphraseConfig

    def skip_reason(self, row):
        return _instruction_skip(row, self.config.max_source_chars)

    def process(self, parents, batch, engine):
        config, method = self.config, self.method
        output = BatchOutput()
        requests = [
            paraphrase.paraphrase_request(
                f"{p.doc_id}:paraphrase", p.instruction, p.language, config.paraphrases_per_instruction,
                temperature=config.temperature, templates=self.templates,
            )
            for p in parents
        ]
        for p, result in zip(parents, engine.run(requests), strict=True):
            if not result.ok:
                output.call_failed(method, p.doc_id, "paraphrase", result)
                continue
            candidates = paraphrase.parse_paraphrases(result.text)
            if not candidates:
                output.drop(DeadLetter(method, p.doc_id, "paraphrase", filters.UNPARSEABLE, "no numbered rewrite",
                                       raw=result.text, template=result.template, model=result.model))
                continue
            output.counters["candidates"] += len(candidates)
            kept, dropped = paraphrase.select_paraphrases(p.instruction, candidates, p.language, config)
            for candidate, reason, detail in dropped:
                output.drop(DeadLetter(method, p.doc_id, "check", reason, detail, candidate=candidate,
                                       template=result.template, model=result.model))
            for candidate in kept:
                output.rows.append(GeneratedRow(method, p.doc_id, candidate, p.input, p.output, result.model,
                                                (self.templates[p.language],)))
        return output
