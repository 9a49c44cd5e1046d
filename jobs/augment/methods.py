"""The augmentation methods as the driver runs them: Self-Instruct rounds, and per-row methods over
parent rows (round trip, paraphrase, instruction back-translation, QA).

Each turns a batch into generated rows, dead letters and resume state; the prompts, parsers and filters
they use are the pure parts in ``operators.augment``.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.augment import (
    back_translation,
    filters,
    instruction_backtranslation,
    paraphrase,
    qa_generation,
)
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.novelty import NoveltyIndex
from sftforge.operators.augment.prompts import resolve
from sftforge.operators.augment.provenance import (
    DeadLetter,
    GeneratedRow,
    dead_letter_table,
    generated_table,
)
from sftforge.operators.llm_client import BUDGET_EXHAUSTED, LLMConfig, LLMEngine, LLMRequest, PromptTemplate
from sftforge.operators.llm_client.request import TRUNCATED

log = logging.getLogger("sftforge.augment")
from sftforge.jobs.augment.checkpoints import (
    STATE_SCHEMA_PARENTS,
    STATE_SCHEMA_SELF_INSTRUCT,
    BatchOutput,
    Checkpoints,
    MethodOutcome,
    ProgressSink,
    dedup_rows,
    file_digest,
    fingerprint,
    finish_batch,
    llm_dead_letter,
    load_finished,
    trim_to_target,
)

# --- Self-Instruct ----------------------------------------------------------------------------------


class SelfInstructGenerator:
    """Runs Self-Instruct rounds until the target, resuming from finished batches."""

    method = si.METHOD

    def __init__(self, config: si.SelfInstructConfig, llm: LLMConfig, work_dir: Path):
        self.config = config
        self.llm = llm
        self.seeds = si.load_seed_tasks(config.seed_tasks)
        self.languages = list(config.languages or sorted({seed.language for seed in self.seeds}))
        folder = work_dir / f"{self.method}-{fingerprint(self.method, config.model_dump(mode='json'), llm, file_digest(config.seed_tasks))}"
        self.checkpoints = Checkpoints(folder)
        self.outcome = MethodOutcome(self.method, folder, config.target_rows)
        share, extra = divmod(config.target_rows, len(self.languages))
        self.targets = {lang: share + (1 if i < extra else 0) for i, lang in enumerate(self.languages)}
        self.rows_by_language: Counter = Counter()
        self.indexes: dict[str, NoveltyIndex] = {}
        self.seed_instructions: dict[str, list[str]] = {}
        self.machine: dict[str, list[str]] = {lang: [] for lang in self.languages}
        self.classify_examples: dict[str, str] = {}
        self.instance_examples: dict[tuple[str, bool], str] = {}
        self.templates = {
            family: {lang: resolve(template, config.templates) for lang, template in templates.items()}
            for family, templates in (
                ("generate", si.GENERATE),
                ("classify", si.CLASSIFY),
                ("input_first", si.INSTANCES_INPUT_FIRST),
                ("output_first", si.INSTANCES_OUTPUT_FIRST),
            )
        }
        for lang in self.languages:
            seeds = [seed for seed in self.seeds if seed.language == lang]
            if not seeds:
                raise si.SeedError(f"{config.seed_tasks}: no seed task in language '{lang}'")
            index = NoveltyIndex(config.similarity_threshold)
            index.extend(seed.instruction for seed in seeds)
            self.indexes[lang] = index
            self.seed_instructions[lang] = [seed.instruction for seed in seeds]
            self.classify_examples[lang] = si.render_classification_examples(seeds, lang, config.classify_examples)
            for classification in (False, True):
                self.instance_examples[(lang, classification)] = si.render_instance_examples(
                    seeds, lang, classification, config.instance_examples
                )
        self.next_batch = 0
        self.stalled = 0

    def resume(self) -> None:
        """Rebuilds the pool and counts from the finished batches, in batch order."""
        finished = load_finished(self.checkpoints, self.outcome)
        for batch in finished:
            state = self.checkpoints.state(batch)
            for lang, instruction in zip(state.column("language").to_pylist(), state.column("instruction").to_pylist()):
                if lang in self.indexes:
                    self.indexes[lang].add(instruction)
                    self.machine[lang].append(instruction)
            info = self.checkpoints.info(batch)
            for lang, count in info.get("rows_by_language", {}).items():
                self.rows_by_language[lang] += count
            self.stalled = int(info.get("stalled", 0))
            self.next_batch = batch + 1

    def done(self) -> bool:
        return all(self.rows_by_language[lang] >= self.targets[lang] for lang in self.languages)

    def run(self, engine: LLMEngine, board: ProgressSink) -> None:
        config = self.config
        while not self.done():
            if self.stalled >= config.max_stalled_batches:
                self.outcome.stopped = f"stalled: {self.stalled} batches in a row added no row"
                break
            batch = self.next_batch
            output, by_language = self.run_batch(batch, engine)
            rows = len(output.rows)
            self.stalled = 0 if rows else self.stalled + 1
            self.rows_by_language.update(by_language)
            self._finish(batch, output, by_language)
            board.advance(self.method, len(output.rows))
            self.next_batch = batch + 1
            if output.budget_exhausted:
                self.outcome.stopped = "llm budget exhausted"
                break

    def _finish(self, batch: int, output: BatchOutput, by_language: Counter) -> None:
        rows = dedup_rows(output)
        output.rows = rows
        source = f"augment/{self.outcome.folder.name}/{self.checkpoints.part(batch).name}"
        table = generated_table(rows, source)
        output.counters["rows"] += table.num_rows
        output.counters["batches"] += 1
        info = {
            "batch": batch,
            "rows": table.num_rows,
            "counters": dict(output.counters),
            "rows_by_language": dict(by_language),
            "stalled": self.stalled,
        }
        state = output.state if output.state is not None else STATE_SCHEMA_SELF_INSTRUCT.empty_table()
        self.checkpoints.write(batch, table, dead_letter_table(output.dead), state, info)
        self.outcome.rows += table.num_rows
        self.outcome.counters.update(output.counters)
        self.outcome.parts.append(str(self.checkpoints.part(batch)))
        self.outcome.dead_parts.append(str(self.checkpoints.dead(batch)))

    def run_batch(self, batch: int, engine: LLMEngine) -> tuple[BatchOutput, Counter]:
        """One round: generate, filter, classify, make instances. Pure apart from ``engine``."""
        config = self.config
        method = self.method
        output = BatchOutput()
        active = [lang for lang in self.languages if self.rows_by_language[lang] < self.targets[lang]]
        share, extra = divmod(config.prompts_per_batch, len(active))
        requests: list[LLMRequest] = []
        shown: list[tuple[str, list[str]]] = []
        for position, lang in enumerate(active):
            rng = random.Random(f"{config.seed}:{batch}:{lang}")
            for i in range(share + (1 if position < extra else 0)):
                tasks = si.sample_prompt_tasks(
                    rng, self.seed_instructions[lang], self.machine[lang], config.seed_per_prompt,
                    config.machine_per_prompt,
                )
                requests.append(
                    si.generation_request(
                        f"generate:{batch}:{lang}:{i}", tasks, lang, config.new_per_prompt,
                        sample=batch * config.prompts_per_batch + i, temperature=config.temperature,
                        template=self.templates["generate"][lang],
                    )
                )
                shown.append((lang, tasks))
        output.counters["prompts"] += len(requests)
        accepted: list[tuple[str, str]] = []
        for result, (lang, tasks) in zip(engine.run(requests), shown, strict=True):
            truncated = result.reason == TRUNCATED and bool(result.raw)
            if not result.ok and not truncated:
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, None, "generate", result))
                continue
            text = result.text if result.ok else result.raw
            candidates = si.parse_generated_instructions(text, tasks, truncated=truncated)
            if truncated:
                output.counters["generate_replies_truncated"] += 1  # the complete items are kept
            if not candidates:
                output.drop(DeadLetter(method, None, "generate", filters.UNPARSEABLE, "no new numbered task in the reply",
                                       raw=text, template=result.template, model=result.model))
                continue
            output.counters["candidates"] += len(candidates)
            for candidate in candidates:
                reason, detail = si.candidate_reason(candidate, lang, config.filters, self.indexes[lang])
                if reason is not None:
                    output.drop(DeadLetter(method, None, "filter", reason, detail, candidate=candidate,
                                           template=result.template, model=result.model))
                else:
                    accepted.append((lang, candidate))
        output.counters["instructions_accepted"] += len(accepted)
        for lang, instruction in accepted:
            self.machine[lang].append(instruction)
        # Instances only for as many instructions as rows are still missing (each gives at least one row
        # when it gives any): near the target, the rest stay in the pool without costing calls.
        room = Counter({lang: self.targets[lang] - self.rows_by_language[lang] for lang in active})
        all_accepted, accepted = accepted, []
        for lang, instruction in all_accepted:
            if room[lang] > 0:
                accepted.append((lang, instruction))
                room[lang] -= 1
        output.counters["instructions_unused_target_met"] += len(all_accepted) - len(accepted)

        classify = [
            si.classification_request(f"classify:{batch}:{i}", instruction, lang, self.classify_examples[lang],
                                      template=self.templates["classify"][lang])
            for i, (lang, instruction) in enumerate(accepted)
        ]
        labels: list[bool] = []
        for result in engine.run(classify):
            verdict = si.parse_is_classification(result.text) if result.ok else None
            if verdict is None:
                output.counters["classification_unclear"] += 1
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
            labels.append(bool(verdict))
        output.counters["classification_tasks"] += sum(labels)

        instance_requests = []
        for i, ((lang, instruction), classification) in enumerate(zip(accepted, labels, strict=True)):
            family = "output_first" if classification else "input_first"
            instance_requests.append(
                si.instances_request(
                    f"instances:{batch}:{i}", instruction, lang, classification, config.instances_per_task,
                    self.instance_examples[(lang, classification)], template=self.templates[family][lang],
                )
            )
        by_language: Counter = Counter()
        for (lang, instruction), classification, result in zip(
            accepted, labels, engine.run(instance_requests), strict=True
        ):
            truncated = result.reason == TRUNCATED and bool(result.raw)
            if not result.ok and not truncated:
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, None, "instances", result))
                continue
            text = result.text if result.ok else result.raw
            instances = si.parse_instances(text, classification, truncated=truncated)
            if truncated:
                output.counters["instance_replies_truncated"] += 1  # the complete instances are kept
            kept, dropped = si.select_instances(instruction, instances, config.instances_per_task)
            if not instances:
                output.drop(DeadLetter(method, None, "instances", filters.UNPARSEABLE, "no complete instance in the reply",
                                       candidate=instruction, raw=text, template=result.template,
                                       model=result.model))
            for instance, reason in dropped:
                output.drop(DeadLetter(method, None, "instances", reason, None,
                                       candidate=f"{instruction}\n{instance.input}\n{instance.output}",
                                       template=result.template, model=result.model))
            room = self.targets[lang] - self.rows_by_language[lang] - by_language[lang]
            if len(kept) > room:
                output.counters["trimmed_over_target"] += len(kept) - max(room, 0)
                kept = kept[: max(room, 0)]
            family = "output_first" if classification else "input_first"
            templates = (self.templates["generate"][lang], self.templates["classify"][lang],
                         self.templates[family][lang])
            for instance in kept:
                output.rows.append(
                    GeneratedRow(method, None, instruction, instance.input, instance.output, result.model, templates)
                )
            by_language[lang] += len(kept)
        output.counters["instances"] += len(output.rows)
        label_of = dict(zip(accepted, labels, strict=True))
        output.state = pa.table(
            {
                "language": [lang for lang, _ in all_accepted],
                "instruction": [instruction for _, instruction in all_accepted],
                "is_classification": [label_of.get(item) for item in all_accepted],
            },
            schema=STATE_SCHEMA_SELF_INSTRUCT,
        )
        return output, by_language


# --- Per-row methods --------------------------------------------------------------------------------


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

    def __init__(self, config, llm: LLMConfig, work_dir: Path, extra: str = ""):
        self.config = config
        self.llm = llm
        folder = work_dir / f"{self.method}-{fingerprint(self.method, config.model_dump(mode='json'), llm, extra)}"
        self.checkpoints = Checkpoints(folder)
        self.outcome = MethodOutcome(self.method, folder, config.target_rows)
        self.used = np.empty(0, dtype=np.uint64)
        self.used_now: set[int] = set()
        self.pending: list[Parent] = []
        self.next_batch = 0

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

    def __init__(self, config: back_translation.RoundTripConfig, llm: LLMConfig, work_dir: Path):
        super().__init__(config, llm, work_dir)
        self.templates = {lang: resolve(t, config.templates) for lang, t in back_translation.TRANSLATE.items()}

    def skip_reason(self, row):
        reason = _instruction_skip(row, self.config.max_source_chars, self.config.include_output)
        if reason is None and filters.text_language(row[schema.INSTRUCTION]) not in self.config.pivot:
            return "no_pivot_for_language"
        return reason

    def process(self, parents, batch, engine):
        config, method = self.config, self.method
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
            legs = [next(first) for _ in fields]
            failed = next((leg for leg in legs if not leg.ok), None)
            if failed is not None:
                output.budget_exhausted |= failed.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, p.doc_id, "translate", failed))
                continue
            pivots = [back_translation.parse_translation(leg.text) for leg in legs]
            problem = None
            for name, leg, pivot_text in zip(fields, legs, pivots):
                reason, detail = back_translation.pivot_reason(getattr(p, name), pivot_text, config.pivot[p.language])
                if reason is not None:
                    problem = DeadLetter(method, p.doc_id, "translate", reason, f"{name}: {detail}",
                                         candidate=pivot_text, raw=leg.text, template=leg.template, model=leg.model)
                    break
            if problem is not None:
                output.drop(problem)
                continue
            back_parents.append(p)
            back_requests += [
                back_translation.translation_request(f"{p.doc_id}:{name}:back", pivot_text, p.language, self.templates)
                for name, pivot_text in zip(fields, pivots)
            ]
        output.counters["pivots_ok"] += len(back_parents)
        second = iter(engine.run(back_requests))
        for p in back_parents:
            legs = [next(second) for _ in fields]
            failed = next((leg for leg in legs if not leg.ok), None)
            if failed is not None:
                output.budget_exhausted |= failed.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, p.doc_id, "back_translate", failed))
                continue
            results = {name: back_translation.parse_translation(leg.text) for name, leg in zip(fields, legs)}
            problem = None
            for name, leg in zip(fields, legs):
                reason, detail = back_translation.round_trip_reason(getattr(p, name), results[name], p.language, config)
                if reason is not None:
                    problem = DeadLetter(method, p.doc_id, "check", reason, f"{name}: {detail}" if detail else name,
                                         candidate=results[name], template=leg.template, model=leg.model)
                    break
            if problem is not None:
                output.drop(problem)
                continue
            template = self.templates["zh" if p.language == "zh" else "en"]
            output.rows.append(
                GeneratedRow(method, p.doc_id, results["instruction"], p.input, results.get("output", p.output),
                             legs[0].model, (template,))
            )
        return output


class ParaphraseMethod(RowMethod):
    """Paraphrases of instruction rows."""

    method = paraphrase.METHOD
    kind = schema.KIND_INSTRUCTION

    def __init__(self, config: paraphrase.ParaphraseConfig, llm: LLMConfig, work_dir: Path):
        super().__init__(config, llm, work_dir)
        self.templates = {lang: resolve(t, config.templates) for lang, t in paraphrase.REWRITE.items()}

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
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, p.doc_id, "paraphrase", result))
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


class InstructionBacktranslationMethod(RowMethod):
    """Humpback: self-augment (instruction for a document) and self-curate (the judge)."""

    method = instruction_backtranslation.METHOD
    kind = schema.KIND_DOCUMENT

    def __init__(
        self, config: instruction_backtranslation.InstructionBacktranslationConfig, llm: LLMConfig, work_dir: Path,
        seed_tasks: str | None,
    ):
        from sftforge.operators.judge.judge import JudgeConfig, LLMJudge

        seeds = si.load_seed_tasks(seed_tasks) if seed_tasks else []
        super().__init__(config, llm, work_dir, extra=file_digest(seed_tasks) if seed_tasks else "")
        self.examples: dict[str, list[tuple[str, str]]] = {"en": [], "zh": []}
        for seed in seeds:
            for instance in seed.instances:
                prompt = "\n".join(part for part in (seed.instruction, instance.input) if part)
                self.examples[seed.language].append((prompt, instance.output))
        self.templates = {lang: resolve(t, config.templates) for lang, t in instruction_backtranslation.SELF_AUGMENT.items()}
        self.judge = LLMJudge(JudgeConfig(threshold=config.threshold, score=config.score), llm=llm)

    def skip_reason(self, row):
        return instruction_backtranslation.document_reason(row[schema.TEXT] or "", self.config)

    def _examples(self, p: Parent) -> str:
        pool = self.examples.get(p.language) or []
        if not pool or not self.config.few_shot:
            return ""
        start = parent_hash("examples", p.doc_id) % len(pool)
        chosen = [pool[(start + i) % len(pool)] for i in range(min(self.config.few_shot, len(pool)))]
        return instruction_backtranslation.render_examples(chosen, p.language, self.config.example_chars)

    def process(self, parents, batch, engine):
        config, method = self.config, self.method
        output = BatchOutput()
        requests = [
            instruction_backtranslation.self_augment_request(
                f"{p.doc_id}:self_augment", p.text, p.language, self._examples(p), self.templates
            )
            for p in parents
        ]
        candidates: list[tuple[Parent, GeneratedRow]] = []
        for p, result in zip(parents, engine.run(requests), strict=True):
            if not result.ok:
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, p.doc_id, "self_augment", result))
                continue
            instruction = instruction_backtranslation.parse_instruction(result.text)
            reason, detail = instruction_backtranslation.instruction_reason(instruction, p.text, p.language, config)
            if reason is not None:
                output.drop(DeadLetter(method, p.doc_id, "self_augment", reason, detail, candidate=instruction,
                                       raw=result.text, template=result.template, model=result.model))
                continue
            candidates.append(
                (p, GeneratedRow(method, p.doc_id, instruction, "", p.text.strip(), result.model,
                                 (self.templates[p.language],)))
            )
        output.counters["candidates"] += len(candidates)
        if not candidates:
            return output
        table = pa.table(
            {
                schema.DOC_ID: [row.doc_id for _, row in candidates],
                schema.KIND: [schema.KIND_INSTRUCTION] * len(candidates),
                schema.INSTRUCTION: [row.instruction for _, row in candidates],
                schema.INPUT: [""] * len(candidates),
                schema.OUTPUT: [row.output for _, row in candidates],
            }
        )
        planned = self.judge.requests_for(table)
        results = engine.run([request for _, request in planned])
        judged = self.judge.apply(table, [row for row, _ in planned], results)
        scores = dict(zip(judged.kept.column(schema.DOC_ID).to_pylist(),
                          judged.kept.column(schema.JUDGE_SCORE).to_pylist()))
        for (p, row), result in zip(candidates, results, strict=True):
            if row.doc_id in scores:
                curated = GeneratedRow(method, p.doc_id, row.instruction, "", row.output, row.model,
                                       (*row.templates, *_judge_templates(p.language)), judge_score=scores[row.doc_id])
                output.rows.append(curated)
            elif not result.ok:
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, p.doc_id, "self_curate", result))
            else:
                from sftforge.operators.judge.judge import judgement_score

                score = judgement_score(result.data, config.score)
                output.drop(DeadLetter(method, p.doc_id, "self_curate", filters.BELOW_THRESHOLD,
                                       f"judge score {score:g} < {config.threshold:g}", candidate=row.instruction,
                                       raw=result.text, template=result.template, model=result.model))
        return output


def _judge_templates(language: str) -> tuple[PromptTemplate, ...]:
    from sftforge.operators.judge.judge import JUDGE_TEMPLATE_EN, JUDGE_TEMPLATE_ZH

    return (JUDGE_TEMPLATE_ZH if language == "zh" else JUDGE_TEMPLATE_EN,)


class QAGenerationMethod(RowMethod):
    """Questions and answers from document passages."""

    method = qa_generation.METHOD
    kind = schema.KIND_DOCUMENT

    def __init__(self, config: qa_generation.QAGenerationConfig, llm: LLMConfig, work_dir: Path):
        super().__init__(config, llm, work_dir)
        family = qa_generation.MULTIPLE_CHOICE if config.question_type == "multiple_choice" else qa_generation.OPEN
        self.templates = {lang: resolve(t, config.templates) for lang, t in family.items()}

    def skip_reason(self, row):
        return qa_generation.passage_reason(row[schema.TEXT] or "", self.config)

    def process(self, parents, batch, engine):
        config, method = self.config, self.method
        output = BatchOutput()
        requests = [
            qa_generation.qa_request(f"{p.doc_id}:qa", p.text, p.language, config, self.templates) for p in parents
        ]
        for p, result in zip(parents, engine.run(requests), strict=True):
            if not result.ok:
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                output.drop(llm_dead_letter(method, p.doc_id, "generate", result))
                continue
            kept, dropped = qa_generation.validate_questions(result.data, p.text, p.language, config)
            output.counters["candidates"] += len(kept) + len(dropped)
            for shown, reason, detail in dropped:
                output.drop(DeadLetter(method, p.doc_id, "validate", reason, detail, candidate=shown,
                                       template=result.template, model=result.model))
            for question in kept:
                instruction, input_, answer = qa_generation.row_fields(question, p.text)
                output.rows.append(GeneratedRow(method, p.doc_id, instruction, input_, answer, result.model,
                                                (self.templates[p.language],)))
        return output


