"""The augmentation driver: generates rows with the LLM engine, in checkpointed batches, up to a target.

Each method writes its finished batches to its own folder of the work directory::

    <work_dir>/<method>-<fingerprint>/part-000007.parquet    generated rows (GENERATED_SCHEMA)
                                      dead-000007.parquet    dropped candidates and failed calls
                                      state-000007.parquet   what a resumed run needs (see below)
                                      done-000007.json       the batch's counters; written last

A batch counts as finished only once its ``done`` file exists (each file is written to a temporary
name and renamed), so a run killed at any point resumes cleanly: finished batches are read back, not
redone, and the calls of the unfinished batch that were answered before the kill are answered again
by the engine's response cache without a request. The fingerprint covers the method's settings (not
its target), the model and sampling parameters and the seed file, so a changed setting starts afresh
while a raised target continues.

Self-Instruct is a loop over batches of generation prompts whose state (the instruction pool) is
rebuilt from the ``state`` files on resume; batch ``k`` draws its prompts from a generator seeded with
``k``, so a resumed batch asks exactly what the killed one asked. The per-row methods (round trip,
paraphrase, instruction back-translation, QA) stream the parent rows once, in bounded batches, and skip
parents that a finished batch already used (their ``doc_id`` hashes are the ``state`` files).

Memory stays bounded by one batch, plus the novelty index for Self-Instruct and 8 bytes per used
parent for the per-row methods.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from operators import schema
from operators.augment import back_translation, filters, instruction_backtranslation, paraphrase, qa_generation
from operators.augment import self_instruct as si
from operators.augment.config import METHOD_ORDER, AugmentConfig
from operators.augment.novelty import NoveltyIndex
from operators.augment.prompts import resolve
from operators.augment.provenance import (
    AUGMENT_DEAD_LETTER_SCHEMA,
    GENERATED_SCHEMA,
    DeadLetter,
    GeneratedRow,
    dead_letter_table,
    generated_table,
)
from operators.llm import BUDGET_EXHAUSTED, LLMConfig, LLMEngine, LLMRequest, LLMResult, PromptTemplate
from operators.llm.request import TRUNCATED

log = logging.getLogger("sftforge.augment")

STATE_SCHEMA_SELF_INSTRUCT = pa.schema(
    [("language", pa.string()), ("instruction", pa.string()), ("is_classification", pa.bool_())]
)
STATE_SCHEMA_PARENTS = pa.schema([("parent_hash", pa.uint64())])


# --- Checkpoints ------------------------------------------------------------------------------------


def fingerprint(method: str, settings: Mapping[str, Any], llm: LLMConfig, extra: str = "") -> str:
    """Short hash of what shapes a method's output (its target excluded, so a raised target resumes)."""
    material = {
        "method": method,
        "settings": {key: value for key, value in settings.items() if key not in ("target_rows", "enabled")},
        "sampling": llm.sampling_parameters(),
        "structured_output": llm.structured_output,
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Checkpoints:
    """The finished batches of one method in its work folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, kind: str, batch: int, suffix: str = "parquet") -> Path:
        return self.root / f"{kind}-{batch:06d}.{suffix}"

    def finished(self) -> list[int]:
        """Numbers of the finished batches, ascending."""
        return sorted(int(path.stem.split("-")[1]) for path in self.root.glob("done-*.json"))

    def info(self, batch: int) -> dict[str, Any]:
        return json.loads(self._path("done", batch, "json").read_text(encoding="utf-8"))

    def state(self, batch: int) -> pa.Table:
        return pq.read_table(self._path("state", batch))

    def part(self, batch: int) -> Path:
        return self._path("part", batch)

    def dead(self, batch: int) -> Path:
        return self._path("dead", batch)

    def write(self, batch: int, rows: pa.Table, dead: pa.Table, state: pa.Table, info: dict[str, Any]) -> None:
        """Writes a batch's files, the ``done`` marker last."""
        for kind, table in (("part", rows), ("dead", dead), ("state", state)):
            _atomic_write_parquet(table, self._path(kind, batch))
        target = self._path("done", batch, "json")
        temporary = target.with_name(f".tmp-{target.name}")
        temporary.write_text(json.dumps(info, sort_keys=True), encoding="utf-8")
        os.replace(temporary, target)


def _atomic_write_parquet(table: pa.Table, path: Path) -> None:
    temporary = path.with_name(f".tmp-{path.name}")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


# --- Progress ---------------------------------------------------------------------------------------


class ProgressBoard:
    """One progress bar per method (rows, rate, ETA), on stderr; silent when disabled."""

    def __init__(self, enabled: bool):
        self._progress = None
        self._tasks: dict[str, Any] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                refresh_per_second=2,
            )
            self._progress.start()

    def add(self, method: str, total: int, completed: int) -> None:
        if self._progress is not None:
            self._tasks[method] = self._progress.add_task(method, total=total, completed=completed, rate="")

    def advance(self, method: str, rows: int) -> None:
        if self._progress is not None and method in self._tasks:
            task_id = self._tasks[method]
            self._progress.advance(task_id, rows)
            speed = next((task.speed for task in self._progress.tasks if task.id == task_id), None)
            self._progress.update(task_id, rate=f"{speed:,.1f} rows/s" if speed else "")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


# --- Results ----------------------------------------------------------------------------------------


@dataclass
class MethodOutcome:
    """What one method produced, this run and earlier runs together.

    Attributes:
        method: The method.
        folder: Its checkpoint folder.
        target: The configured target.
        rows: Generated rows in the finished batches.
        resumed_rows: Of those, rows found already finished when this run started.
        counters: Funnel counters summed over the finished batches.
        stopped: Why it stopped short of the target (None when it reached it).
        parts: Part files of the finished batches (generated rows).
        dead_parts: Dead-letter files of the finished batches.
    """

    method: str
    folder: Path
    target: int
    rows: int = 0
    resumed_rows: int = 0
    counters: Counter = field(default_factory=Counter)
    stopped: str | None = None
    parts: list[str] = field(default_factory=list)
    dead_parts: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        dead = {key.split(".", 1)[1]: value for key, value in sorted(self.counters.items()) if key.startswith("dead.")}
        skipped = {
            key.split(".", 1)[1]: value for key, value in sorted(self.counters.items()) if key.startswith("skipped.")
        }
        plain = {
            key: value for key, value in sorted(self.counters.items()) if not key.startswith(("dead.", "skipped."))
        }
        return {
            "target": self.target,
            "rows": self.rows,
            "resumed_rows": self.resumed_rows,
            "stopped": self.stopped,
            "funnel": plain,
            "dead_lettered": dead,
            "parents_skipped": skipped,
        }


@dataclass
class AugmentOutcome:
    """All methods' outcomes, in run order."""

    methods: dict[str, MethodOutcome] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(outcome.rows for outcome in self.methods.values())

    @property
    def parts(self) -> list[str]:
        return [part for outcome in self.methods.values() for part in outcome.parts]

    @property
    def dead_parts(self) -> list[str]:
        return [part for outcome in self.methods.values() for part in outcome.dead_parts]

    def rows_by_method(self) -> dict[str, int]:
        return {method: outcome.rows for method, outcome in self.methods.items()}

    def report(self) -> dict[str, Any]:
        return {
            "rows_generated": self.rows,
            "rows_by_method": self.rows_by_method(),
            "methods": {method: outcome.report() for method, outcome in self.methods.items()},
        }


@dataclass
class BatchOutput:
    """One batch's generated rows, dead letters, resume state and counters."""

    rows: list[GeneratedRow] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    state: pa.Table | None = None
    counters: Counter = field(default_factory=Counter)
    budget_exhausted: bool = False

    def drop(self, letter: DeadLetter) -> None:
        self.dead.append(letter)
        self.counters[f"dead.{letter.reason}"] += 1


def _llm_dead_letter(method: str, parent_id: str | None, step: str, result: LLMResult) -> DeadLetter:
    return DeadLetter(
        method=method,
        parent_id=parent_id,
        step=step,
        reason=result.reject_reason or "llm_unknown",
        detail=result.detail,
        raw=result.raw,
        template=result.template,
        model=result.model,
    )


def _template_id(template: PromptTemplate) -> str:
    return f"{template.name}@{template.version}"


def _trim(output: BatchOutput, room: int) -> None:
    if len(output.rows) > room:
        output.counters["trimmed_over_target"] += len(output.rows) - room
        del output.rows[room:]


def _finish_batch(
    checkpoints: Checkpoints, outcome: MethodOutcome, batch: int, output: BatchOutput, state_schema: pa.Schema
) -> None:
    rows = _dedup_rows(output)
    source = f"augment/{outcome.folder.name}/{checkpoints.part(batch).name}"
    table = generated_table(rows, source)
    dead = dead_letter_table(output.dead)
    state = output.state if output.state is not None else state_schema.empty_table()
    output.counters["rows"] += table.num_rows
    output.counters["batches"] += 1
    info = {"batch": batch, "rows": table.num_rows, "counters": dict(output.counters)}
    checkpoints.write(batch, table, dead, state, info)
    outcome.rows += table.num_rows
    outcome.counters.update(output.counters)
    outcome.parts.append(str(checkpoints.part(batch)))
    outcome.dead_parts.append(str(checkpoints.dead(batch)))


def _dedup_rows(output: BatchOutput) -> list[GeneratedRow]:
    seen: set[str] = set()
    rows = []
    for row in output.rows:
        if row.doc_id in seen:
            output.drop(DeadLetter(row.method, row.parent_id, "rows", filters.DUPLICATE, candidate=row.instruction))
            continue
        seen.add(row.doc_id)
        rows.append(row)
    return rows


def _load_finished(checkpoints: Checkpoints, outcome: MethodOutcome) -> list[int]:
    finished = checkpoints.finished()
    for batch in finished:
        info = checkpoints.info(batch)
        outcome.rows += int(info["rows"])
        outcome.counters.update(info["counters"])
        outcome.parts.append(str(checkpoints.part(batch)))
        outcome.dead_parts.append(str(checkpoints.dead(batch)))
    outcome.resumed_rows = outcome.rows
    return finished


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
        finished = _load_finished(self.checkpoints, self.outcome)
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

    def run(self, engine: LLMEngine, board: ProgressBoard) -> None:
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
        rows = _dedup_rows(output)
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
                output.drop(_llm_dead_letter(method, None, "generate", result))
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
            if not result.ok:
                output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                output.drop(_llm_dead_letter(method, None, "instances", result))
                continue
            instances = si.parse_instances(result.text, classification)
            kept, dropped = si.select_instances(instruction, instances, config.instances_per_task)
            if not instances:
                output.drop(DeadLetter(method, None, "instances", filters.UNPARSEABLE, "no instance in the reply",
                                       candidate=instruction, raw=result.text, template=result.template,
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
        output.state = pa.table(
            {
                "language": [lang for lang, _ in accepted],
                "instruction": [instruction for _, instruction in accepted],
                "is_classification": labels,
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
        finished = _load_finished(self.checkpoints, self.outcome)
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

    def flush(self, engine: LLMEngine, board: ProgressBoard) -> None:
        """Processes the pending parents as one batch and checkpoints it."""
        if not self.pending or self.done():
            self.pending = []
            return
        parents, self.pending = self.pending, []
        batch = self.next_batch
        output = self.process(parents, batch, engine)
        output.counters["parents"] += len(parents)
        _trim(output, self.config.target_rows - self.outcome.rows)
        output.state = pa.table(
            {"parent_hash": pa.array([parent_hash(self.method, p.doc_id) for p in parents], type=pa.uint64())}
        )
        before = self.outcome.rows
        _finish_batch(self.checkpoints, self.outcome, batch, output, STATE_SCHEMA_PARENTS)
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
                output.drop(_llm_dead_letter(method, p.doc_id, "translate", failed))
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
                output.drop(_llm_dead_letter(method, p.doc_id, "back_translate", failed))
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
                output.drop(_llm_dead_letter(method, p.doc_id, "paraphrase", result))
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
        from operators.llm_judge import JudgeConfig, LLMJudge

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
                output.drop(_llm_dead_letter(method, p.doc_id, "self_augment", result))
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
                output.drop(_llm_dead_letter(method, p.doc_id, "self_curate", result))
            else:
                from operators.llm_judge import judgement_score

                score = judgement_score(result.data, config.score)
                output.drop(DeadLetter(method, p.doc_id, "self_curate", filters.BELOW_THRESHOLD,
                                       f"judge score {score:g} < {config.threshold:g}", candidate=row.instruction,
                                       raw=result.text, template=result.template, model=result.model))
        return output


def _judge_templates(language: str) -> tuple[PromptTemplate, ...]:
    from operators.llm_judge import JUDGE_TEMPLATE_EN, JUDGE_TEMPLATE_ZH

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
                output.drop(_llm_dead_letter(method, p.doc_id, "generate", result))
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


# --- The run ----------------------------------------------------------------------------------------


ParentSource = Callable[[], Iterable[pa.Table]]


def run_augment(
    config: AugmentConfig,
    llm: LLMConfig,
    work_dir: str | Path,
    parents: ParentSource | None = None,
    *,
    progress: bool | None = None,
) -> AugmentOutcome:
    """Runs every enabled method to its target (or until it stalls or the budget ends).

    Args:
        config: The augmentation config.
        llm: The resolved LLM config (``LLMService.config``).
        work_dir: Checkpoint folder (``config.work_dir`` wins when set).
        parents: Returns a fresh iterator of parent batches (the pipeline's rows after cleaning); only
            live rows are used. None: per-row methods have no parents and generate nothing.
        progress: Override ``config.progress``.

    Returns:
        The outcome per method, with the part files of all finished batches.
    """
    work = Path(config.work_dir or work_dir)
    work.mkdir(parents=True, exist_ok=True)
    methods = config.methods()
    outcome = AugmentOutcome()
    board = ProgressBoard(config.progress if progress is None else progress)
    engines: dict[str, LLMEngine] = {}

    def engine_for(method: str) -> LLMEngine:
        if method not in engines:
            engines[method] = LLMEngine(llm, stage=f"augment.{method}")
        return engines[method]

    try:
        row_methods: list[RowMethod] = []
        for name in METHOD_ORDER:
            if name not in methods:
                continue
            method_config = methods[name]
            if name == "self_instruct":
                generator = SelfInstructGenerator(method_config, llm, work)
                generator.resume()
                outcome.methods[name] = generator.outcome
                board.add(name, method_config.target_rows, generator.outcome.rows)
                if not generator.done():
                    generator.run(engine_for(name), board)
                continue
            if name == "round_trip":
                method = RoundTripMethod(method_config, llm, work)
            elif name == "paraphrase":
                method = ParaphraseMethod(method_config, llm, work)
            elif name == "instruction_backtranslation":
                seeds = method_config.seed_tasks or (config.self_instruct.seed_tasks if config.self_instruct else None)
                method = InstructionBacktranslationMethod(method_config, llm, work, seeds)
            else:
                method = QAGenerationMethod(method_config, llm, work)
            method.resume()
            outcome.methods[name] = method.outcome
            board.add(name, method_config.target_rows, method.outcome.rows)
            row_methods.append(method)
        if row_methods and parents is not None:
            _run_row_methods(row_methods, parents, engine_for, board)
        for method in row_methods:
            if not method.done() and method.outcome.stopped is None:
                method.outcome.stopped = "parents exhausted" if parents is not None else "no parent rows given"
    finally:
        board.close()
        for engine in engines.values():
            engine.close()
    return outcome


def _run_row_methods(
    methods: list[RowMethod], parents: ParentSource, engine_for: Callable[[str], LLMEngine], board: ProgressBoard
) -> None:
    active = [method for method in methods if not method.done()]
    if not active:
        return
    for table in parents():
        for row in parents_from_table(table):
            for method in active:
                if not method.done() and method.offer(row):
                    method.flush(engine_for(method.method), board)
        active = [method for method in active if not method.done()]
        if not active:
            return  # stop reading: every target is met
    for method in active:
        method.flush(engine_for(method.method), board)


def read_generated(outcome: AugmentOutcome) -> Iterator[pa.Table]:
    """The generated rows of every finished batch, one part at a time."""
    for part in outcome.parts:
        yield pq.read_table(part, schema=GENERATED_SCHEMA)


def read_dead_letters(outcome: AugmentOutcome) -> Iterator[pa.Table]:
    """The dead letters of every finished batch, one part at a time."""
    for part in outcome.dead_parts:
        yield pq.read_table(part, schema=AUGMENT_DEAD_LETTER_SCHEMA)


def augment_step(ds, ctx):
    """The pipeline step: generates rows and returns ``ds`` with them appended (union).

    Place it after cleaning and before language, dedup and quality, so that generated rows are
    filtered like every other row and deduplicated against the originals too. The per-row methods read
    their parents from ``ds``; ``ds`` is materialised first so that the stages before this step run
    (and count their rows) once. Generated rows are counted under ``generate`` in the run's counters
    (``rows`` in total and ``rows_<method>``), the funnel goes to the run report under ``augment``, and
    the dead letters are published with the release under ``augment_dead_letter/<method>/``.

    The LLM comes from ``ctx.llm`` (a started ``LLMService``) when the pipeline has one, else from
    ``ctx.config.llm`` with a service started for this step.
    """
    import contextlib
    import shutil

    from jobs.stats import record
    from operators.llm import LLMService

    config: AugmentConfig | None = getattr(ctx.config, "augment", None)
    if config is None or not config.methods():
        return ds
    service = getattr(ctx, "llm", None)
    llm_config = getattr(ctx.config, "llm", None)
    if service is None and llm_config is None:
        line = "augment skipped: no 'llm' endpoint is configured"
        log.warning(line)
        ctx.report["augment"] = {"skipped": line}
        return ds
    import ray.data

    needs_parents = any(name != "self_instruct" for name in config.methods())
    if needs_parents:
        ds = ds.materialize()
    work_dir = config.work_dir or str(Path(ctx.config.output.dir) / "_augment")
    opened = contextlib.nullcontext(service) if service is not None else LLMService(
        llm_config, run_id=f"augment-{ctx.release_id}")
    with opened as llm:
        if not llm.available:
            ctx.report["augment"] = {"skipped": llm.skip_reason}
            log.warning(llm.skip_reason)
            return ds
        parents = (lambda: ds.iter_batches(batch_format="pyarrow", batch_size=1024)) if needs_parents else None
        outcome = run_augment(config, llm.config, work_dir, parents)
        if service is None:
            ctx.manifest["augment_llm"] = llm.report()
    counts = {"rows": outcome.rows, **{f"rows_{method}": rows for method, rows in outcome.rows_by_method().items()}}
    record("generate", counts, ctx.stats_actor)
    ctx.report["augment"] = outcome.report()
    for method, method_outcome in outcome.methods.items():
        folder = Path(ctx.staging_dir) / "augment_dead_letter" / method
        folder.mkdir(parents=True, exist_ok=True)
        for part in method_outcome.dead_parts:
            shutil.copyfile(part, folder / Path(part).name)
    if not outcome.rows:
        return ds
    target = _union_schema(ds)
    generated_rows = ray.data.read_parquet(outcome.parts).map_batches(
        _conform, fn_kwargs={"target": target}, batch_format="pyarrow"
    )
    return ds.map_batches(_conform, fn_kwargs={"target": target}, batch_format="pyarrow").union(
        generated_rows
    )


def _union_schema(ds) -> pa.Schema:
    """The columns of the original rows plus the provenance columns, in that order."""
    fields = list(ds.schema().base_schema) if ds.schema() is not None else list(schema.BASE_SCHEMA)
    names = {f.name for f in fields}
    for f in GENERATED_SCHEMA:
        if f.name not in names:
            fields.append(f)
    return pa.schema(fields)


def _conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    columns = []
    for f in target:
        if f.name in table.column_names:
            column = table.column(f.name)
            columns.append(column if column.type == f.type else column.cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=target)


def _parent_source(paths: Sequence[str]) -> ParentSource:
    import pyarrow.dataset as pads

    def batches() -> Iterator[pa.Table]:
        for path in paths:
            file_format = "json" if path.endswith((".jsonl", ".json")) else "parquet"
            for batch in pads.dataset(path, format=file_format).to_batches(batch_size=1024):
                yield pa.Table.from_batches([batch])

    return batches


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jobs.augment``: runs augmentation alone, outside a pipeline run.

    Parent rows (for the per-row methods) come from Parquet or JSONL files in the base schema, such as
    a release's outputs. Prints the report as JSON.
    """
    import argparse

    import yaml

    from operators.llm import LLMService

    parser = argparse.ArgumentParser(prog="python -m jobs.augment", description=main.__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML or JSON file of an AugmentConfig")
    parser.add_argument("--llm", required=True, help="YAML or JSON file of an LLMConfig")
    parser.add_argument("--work-dir", required=True, help="checkpoint folder (resumes when it holds batches)")
    parser.add_argument("--parents", nargs="*", default=[], help="Parquet/JSONL files of parent rows")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        config = AugmentConfig.model_validate(yaml.safe_load(handle))
    with open(args.llm, encoding="utf-8") as handle:
        llm_config = LLMConfig.model_validate(yaml.safe_load(handle))
    with LLMService(llm_config, run_id=f"augment-{os.getpid()}") as service:
        if not service.available:
            print(service.skip_reason)
            return 1
        outcome = run_augment(
            config, service.config, args.work_dir, _parent_source(args.parents) if args.parents else None,
            progress=False if args.no_progress else None,
        )
    print(json.dumps(outcome.report(), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
