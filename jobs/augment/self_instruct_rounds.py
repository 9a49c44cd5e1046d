"""Self-Instruct in rounds: the driver plans each round and commits it; workers make the calls.

A round: the driver picks the tasks each generation prompt shows (from the pool, with a generator
seeded by (seed, round, language), so a resumed round asks exactly the same things); the workers
(``self_instruct_workers``: Ray actors with their own engines, or one in the driver without Ray) ask
for new tasks and parse and rule-filter the replies; the driver checks the candidates' novelty against
the pool and each other, in the round's order (exact ROUGE-L >= 0.7, the pool possibly split across
actors), and the accepted ones join the pool; the workers classify them and make their instances; the
driver trims to the per-language targets and checkpoints the round. Only the instruction pool grows in
the driver; a round's rows pass through it once, to its checkpoint.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
from sftforge.jobs.augment.checkpoints import (
    STATE_SCHEMA_SELF_INSTRUCT,
    BatchOutput,
    Checkpoints,
    FailureGate,
    MethodOutcome,
    ProgressSink,
    dedup_rows,
    file_digest,
    fingerprint,
    join_url,
    load_finished,
)
from sftforge.jobs.augment.novelty_actors import LanguagePool, NoveltyPartition, close_pools, novelty_pools
from sftforge.jobs.augment.self_instruct_work import (
    GenerationResult,
    InstanceResult,
    InstructionSpec,
    PromptSpec,
    RoundPrompts,
    SelfInstructWorker,
    merge_output,
    usable_reply,
)
from sftforge.jobs.augment.self_instruct_workers import WorkerPool
from sftforge.operators.augment import filters
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.novelty import NoveltyIndex
from sftforge.operators.augment.provenance import DeadLetter, dead_letter_table, generated_table
from sftforge.operators.llm_client import LLMConfig

__all__ = ["SelfInstructGenerator", "usable_reply"]

#: Seconds between two progress lines.
PROGRESS_EVERY_S = 5.0

#: Settings that change how a round is computed, not what it asks or decides: not in the fingerprint.
NOT_FINGERPRINTED = {"novelty_partitions", "workers", "worker_cpus"}


class SelfInstructGenerator:
    """Runs Self-Instruct rounds until the target, resuming from finished rounds.

    Args:
        config: The method's config.
        llm: The resolved LLM config.
        work_dir: The augmentation work folder, local or an fsspec URL (the method's checkpoints go in a
            sub-folder).
        worker_class: The workers' class (a subclass in tests).
        partition_class: The novelty partitions' class (a subclass in tests).
    """

    method = si.METHOD

    def __init__(self, config: si.SelfInstructConfig, llm: LLMConfig, work_dir: str | Path,
                 worker_class: type[SelfInstructWorker] = SelfInstructWorker,
                 partition_class: type[NoveltyPartition] = NoveltyPartition):
        self.config = config
        self.llm = llm
        self.worker_class = worker_class
        self.seeds = si.load_seed_tasks(config.seed_tasks)
        self.languages = list(config.languages or sorted({seed.language for seed in self.seeds}))
        settings = config.model_dump(mode="json", exclude=NOT_FINGERPRINTED)  # decisions do not depend on them
        name = f"{self.method}-{fingerprint(self.method, settings, llm, file_digest(config.seed_tasks))}"
        self.checkpoints = Checkpoints(join_url(work_dir, name))
        self.outcome = MethodOutcome(self.method, self.checkpoints.url, config.target_rows)
        share, extra = divmod(config.target_rows, len(self.languages))
        self.targets = {lang: share + (1 if i < extra else 0) for i, lang in enumerate(self.languages)}
        self.rows_by_language: Counter = Counter()
        self.indexes: dict[str, NoveltyIndex | LanguagePool] = {}
        self.seed_instructions: dict[str, list[str]] = {}
        self.machine: dict[str, list[str]] = {lang: [] for lang in self.languages}
        for lang in self.languages:
            if not any(seed.language == lang for seed in self.seeds):
                raise si.SeedError(f"{config.seed_tasks}: no seed task in language '{lang}'")
        self.prompts = RoundPrompts.build(config, self.seeds, self.languages)
        pools = novelty_pools(self.languages, config.similarity_threshold, config.novelty_partitions,
                              partition_class)
        for lang in self.languages:
            seeds = [seed.instruction for seed in self.seeds if seed.language == lang]
            self.indexes[lang] = pools[lang]
            self.indexes[lang].extend(seeds)
            self.seed_instructions[lang] = seeds
        self.next_batch = 0
        self.stalled = 0
        self.gate = FailureGate(f"augment.{self.method}", llm)

    def resume(self) -> None:
        """Rebuilds the pool and counts from the finished rounds, in round order."""
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

    def close(self) -> None:
        """Ends the novelty partition actors, if the pool is split across some."""
        close_pools(self.indexes.values())

    def done(self) -> bool:
        return all(self.rows_by_language[lang] >= self.targets[lang] for lang in self.languages)

    def run(self, board: ProgressSink) -> None:
        """Runs rounds until the target, a stall, an endpoint failure or the end of the budget."""
        workers = WorkerPool(self.config, self.llm, self.prompts, self.worker_class)
        started, rows_before = time.monotonic(), self.outcome.rows
        last_line, printed_round = started, None
        try:
            while self._round(workers, board):
                if time.monotonic() - last_line >= PROGRESS_EVERY_S:
                    last_line, printed_round = time.monotonic(), self.next_batch
                    self._progress(workers, last_line - started, rows_before)
        finally:
            if printed_round != self.next_batch:  # the last round's line, unless it is out already
                self._progress(workers, time.monotonic() - started, rows_before)
            workers.close()

    def _progress(self, workers: WorkerPool, elapsed: float, rows_before: int) -> None:
        """One plain line on stderr (it reaches ``ray job logs``): rows/target, candidates, acceptance,
        requests/s, tokens/s, cost so far and ETA."""
        print(progress_line(self.outcome, workers.usage, elapsed, self.outcome.rows - rows_before),
              file=sys.stderr, flush=True)

    def _round(self, workers: WorkerPool, board: ProgressSink) -> bool:
        """Runs the next round; False when the method is done or stopped."""
        if self.done():
            return False
        if self.stalled >= self.config.max_stalled_batches:
            self.outcome.stopped = f"stalled: {self.stalled} batches in a row added no row"
            return False
        batch = self.next_batch
        output, by_language = self.run_batch(batch, workers)
        if output.endpoint_failures:
            # A round is all or nothing (the next one builds on its pool): it is not checkpointed, and a
            # re-run asks it again (its answered calls come from the response cache).
            self.gate.add(max(output.counters["prompts"], 1), output)
            self.outcome.counters["calls_failed_endpoint"] += output.endpoint_failures
            self.outcome.stopped = (f"endpoint failures ({output.last_failure}) in round {batch}: "
                                    "not checkpointed, a re-run asks again")
            return False
        self.gate.add(output.counters["prompts"], output)
        rows = len(output.rows)
        self.stalled = 0 if rows else self.stalled + 1
        self.rows_by_language.update(by_language)
        self._finish(batch, output, by_language)
        board.advance(self.method, len(output.rows))
        self.next_batch = batch + 1
        if output.budget_exhausted:
            self.outcome.stopped = "llm budget exhausted"
            return False
        return True

    def _finish(self, batch: int, output: BatchOutput, by_language: Counter) -> None:
        rows = dedup_rows(output)
        output.rows = rows
        table = generated_table(rows, self.checkpoints.source(batch))
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
        self.outcome.parts.append(self.checkpoints.part(batch))
        self.outcome.dead_parts.append(self.checkpoints.dead(batch))

    def run_batch(self, batch: int, workers: WorkerPool) -> tuple[BatchOutput, Counter]:
        """One round: plan, generate (workers), filter (here), classify and make instances (workers)."""
        output = BatchOutput()
        active = [lang for lang in self.languages if self.rows_by_language[lang] < self.targets[lang]]
        specs = self.plan(batch, active)
        output.counters["prompts"] += len(specs)
        all_accepted = self._accept(workers.generate(specs), output)
        output.counters["instructions_accepted"] += len(all_accepted)
        for lang, instruction in all_accepted:
            self.machine[lang].append(instruction)
        # Instances only for as many instructions as rows are still missing (each gives at least one row
        # when it gives any): near the target, the rest stay in the pool without costing calls.
        room = Counter({lang: self.targets[lang] - self.rows_by_language[lang] for lang in active})
        accepted = []
        for lang, instruction in all_accepted:
            if room[lang] > 0:
                accepted.append(InstructionSpec(len(accepted), lang, instruction))
                room[lang] -= 1
        output.counters["instructions_unused_target_met"] += len(all_accepted) - len(accepted)
        results = workers.instances(batch, accepted) if accepted else []
        by_language = self._commit_instances(results, output)
        output.counters["instances"] += len(output.rows)
        label_of = {(spec.language, spec.instruction): result.classification
                    for spec, result in zip(accepted, results, strict=True)}
        output.state = pa.table(
            {
                "language": [lang for lang, _ in all_accepted],
                "instruction": [instruction for _, instruction in all_accepted],
                "is_classification": [label_of.get(item) for item in all_accepted],
            },
            schema=STATE_SCHEMA_SELF_INSTRUCT,
        )
        return output, by_language

    def plan(self, batch: int, active: list[str]) -> list[PromptSpec]:
        """The round's generation prompts, numbered in order: the tasks each shows, drawn from the pool."""
        config = self.config
        share, extra = divmod(config.prompts_per_batch, len(active)) if active else (0, 0)
        specs: list[PromptSpec] = []
        for position, lang in enumerate(active):
            rng = random.Random(f"{config.seed}:{batch}:{lang}")
            for i in range(share + (1 if position < extra else 0)):
                tasks = si.sample_prompt_tasks(rng, self.seed_instructions[lang], self.machine[lang],
                                               config.seed_per_prompt, config.machine_per_prompt)
                specs.append(PromptSpec(len(specs), lang, f"generate:{batch}:{lang}:{i}",
                                        batch * config.prompts_per_batch + i, tasks))
        return specs

    def _accept(self, results: list[GenerationResult], output: BatchOutput) -> list[tuple[str, str]]:
        """The round's novel candidates, as (language, text), in order; the others become dead letters.

        Each language's candidates that pass the rule filters are checked at once, in the round's order,
        against the pool and each other: the same decisions as one at a time.
        """
        passing: dict[str, list[str]] = {lang: [] for lang in self.languages}
        for result in results:
            passing[result.language].extend(text for text, reason in result.candidates if reason is None)
        verdicts = {lang: iter(self.indexes[lang].filter_round(texts)) for lang, texts in passing.items() if texts}
        accepted: list[tuple[str, str]] = []
        for result in results:
            merge_output(output, result.output)
            for candidate, reason in result.candidates:
                detail = None
                if reason is None:
                    verdict = next(verdicts[result.language])
                    if verdict.novel:
                        accepted.append((result.language, candidate))
                        continue
                    reason, detail = filters.TOO_SIMILAR, f"rouge_l={verdict.score:.3f} with: {verdict.match}"
                output.drop(si_dead_letter(candidate, reason, detail, result))
        return accepted

    def _commit_instances(self, results: list[InstanceResult], output: BatchOutput) -> Counter:
        """Each instruction's rows, in order, within its language's target; returns rows per language."""
        by_language: Counter = Counter()
        for result in results:
            merge_output(output, result.output)
            lang, kept = result.language, result.rows
            room = self.targets[lang] - self.rows_by_language[lang] - by_language[lang]
            if len(kept) > room:
                output.counters["trimmed_over_target"] += len(kept) - max(room, 0)
                kept = kept[: max(room, 0)]
            output.rows.extend(kept)
            by_language[lang] += len(kept)
        return by_language


def si_dead_letter(candidate: str, reason: str, detail: str | None, result: GenerationResult) -> DeadLetter:
    """A generated candidate dropped by a filter."""
    return DeadLetter(si.METHOD, None, "filter", reason, detail, candidate=candidate,
                      template=result.template, model=result.model)


def progress_line(outcome: MethodOutcome, usage: Counter, elapsed: float, rows_now: int) -> str:
    """rows/target, candidates and their acceptance, requests/s, tokens/s, cost and ETA (from this run's
    rate)."""
    elapsed = max(elapsed, 1e-6)
    counters = outcome.counters
    candidates, accepted = counters.get("candidates", 0), counters.get("instructions_accepted", 0)
    acceptance = f"{accepted / candidates:.0%}" if candidates else "-"
    left = outcome.target - outcome.rows
    rate = rows_now / elapsed
    eta = "done" if left <= 0 else (f"{left / rate:,.0f}s" if rate > 0 else "?")
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    return (f"augment {outcome.method}: {outcome.rows:,}/{outcome.target:,} rows, {candidates:,} candidates, "
            f"{accepted:,} instructions accepted ({acceptance}), {usage.get('requests', 0) / elapsed:,.1f} req/s, "
            f"{tokens / elapsed:,.0f} tok/s, cost {usage.get('cost', 0.0):.4f}, ETA {eta}")
