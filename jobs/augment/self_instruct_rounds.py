"""Self-Instruct as the driver runs it: rounds of generation prompts, the novelty filter, classification
and instances, checkpointed per round."""

from __future__ import annotations

import random
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
    load_finished,
)
from sftforge.jobs.augment.novelty_actors import LanguagePool, novelty_pools
from sftforge.operators.augment import filters
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.novelty import NoveltyIndex
from sftforge.operators.augment.prompts import resolve
from sftforge.operators.augment.provenance import (
    DeadLetter,
    GeneratedRow,
    dead_letter_table,
    generated_table,
)
from sftforge.operators.llm_client import BUDGET_EXHAUSTED, LLMConfig, LLMEngine, LLMRequest, LLMResult
from sftforge.operators.llm_client.request import TRUNCATED, is_endpoint_failure


def usable_reply(
    output: BatchOutput, result: LLMResult, step: str, truncated_counter: str
) -> tuple[str, bool] | None:
    """A reply's text and whether it was cut at the token limit, or None once its failed call is recorded.

    A reply cut at the token limit still counts (its complete items are kept); ``truncated_counter``
    counts those.
    """
    truncated = result.reason == TRUNCATED and bool(result.raw)
    if not result.ok and not truncated:
        output.call_failed(si.METHOD, None, step, result)
        return None
    if truncated:
        output.counters[truncated_counter] += 1
    return (result.text if result.ok else result.raw), truncated


class SelfInstructGenerator:
    """Runs Self-Instruct rounds until the target, resuming from finished batches."""

    method = si.METHOD

    def __init__(self, config: si.SelfInstructConfig, llm: LLMConfig, work_dir: Path):
        self.config = config
        self.llm = llm
        self.seeds = si.load_seed_tasks(config.seed_tasks)
        self.languages = list(config.languages or sorted({seed.language for seed in self.seeds}))
        settings = config.model_dump(mode="json", exclude={"novelty_partitions"})  # decisions do not depend on it
        folder = work_dir / f"{self.method}-{fingerprint(self.method, settings, llm, file_digest(config.seed_tasks))}"
        self.checkpoints = Checkpoints(folder)
        self.outcome = MethodOutcome(self.method, folder, config.target_rows)
        share, extra = divmod(config.target_rows, len(self.languages))
        self.targets = {lang: share + (1 if i < extra else 0) for i, lang in enumerate(self.languages)}
        self.rows_by_language: Counter = Counter()
        self.indexes: dict[str, NoveltyIndex | LanguagePool] = {}
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
        pools = novelty_pools(self.languages, config.similarity_threshold, config.novelty_partitions)
        for lang in self.languages:
            seeds = [seed for seed in self.seeds if seed.language == lang]
            if not seeds:
                raise si.SeedError(f"{config.seed_tasks}: no seed task in language '{lang}'")
            index = pools[lang]
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
        self.gate = FailureGate(f"augment.{self.method}", llm)

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
            if output.endpoint_failures:
                # A round is all or nothing (the next one builds on its pool): it is not checkpointed, and a
                # re-run asks it again (its answered calls come from the response cache).
                self.gate.add(max(output.counters["prompts"], 1), output)
                self.outcome.counters["calls_failed_endpoint"] += output.endpoint_failures
                self.outcome.stopped = (f"endpoint failures ({output.last_failure}) in round {batch}: "
                                        "not checkpointed, a re-run asks again")
                break
            self.gate.add(output.counters["prompts"], output)
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
        output = BatchOutput()
        active = [lang for lang in self.languages if self.rows_by_language[lang] < self.targets[lang]]
        all_accepted = self._generate(batch, active, engine, output)
        output.counters["instructions_accepted"] += len(all_accepted)
        for lang, instruction in all_accepted:
            self.machine[lang].append(instruction)
        # Instances only for as many instructions as rows are still missing (each gives at least one row
        # when it gives any): near the target, the rest stay in the pool without costing calls.
        room = Counter({lang: self.targets[lang] - self.rows_by_language[lang] for lang in active})
        accepted = []
        for lang, instruction in all_accepted:
            if room[lang] > 0:
                accepted.append((lang, instruction))
                room[lang] -= 1
        output.counters["instructions_unused_target_met"] += len(all_accepted) - len(accepted)
        labels = self._classify(batch, accepted, engine, output)
        by_language = self._instances(batch, accepted, labels, engine, output)
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

    def _generate(
        self, batch: int, active: list[str], engine: LLMEngine, output: BatchOutput
    ) -> list[tuple[str, str]]:
        """New instructions for the languages short of their target: the novel ones, as (language, text)."""
        config, method = self.config, self.method
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
            reply = usable_reply(output, result, "generate", "generate_replies_truncated")
            if reply is None:
                continue
            text, truncated = reply
            candidates = si.parse_generated_instructions(text, tasks, truncated=truncated)
            if not candidates:
                output.drop(DeadLetter(method, None, "generate", filters.UNPARSEABLE, "no new numbered task in the reply",
                                       raw=text, template=result.template, model=result.model))
                continue
            output.counters["candidates"] += len(candidates)
            reasons = si.candidate_reasons(candidates, lang, config.filters, self.indexes[lang])
            for candidate, (reason, detail) in zip(candidates, reasons, strict=True):
                if reason is not None:
                    output.drop(DeadLetter(method, None, "filter", reason, detail, candidate=candidate,
                                           template=result.template, model=result.model))
                else:
                    accepted.append((lang, candidate))
        return accepted

    def _classify(
        self, batch: int, accepted: list[tuple[str, str]], engine: LLMEngine, output: BatchOutput
    ) -> list[bool]:
        """Whether each instruction is a classification task (an unclear answer counts as not)."""
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
                if is_endpoint_failure(result.reason):
                    output.endpoint_failures += 1
                    output.last_failure = result.reason
            labels.append(bool(verdict))
        output.counters["classification_tasks"] += sum(labels)
        return labels

    def _instances(
        self, batch: int, accepted: list[tuple[str, str]], labels: list[bool], engine: LLMEngine,
        output: BatchOutput,
    ) -> Counter:
        """Each instruction's instances as rows, within its language's target; returns rows per language."""
        config, method = self.config, self.method
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
            reply = usable_reply(output, result, "instances", "instance_replies_truncated")
            if reply is None:
                continue
            text, truncated = reply
            instances = si.parse_instances(text, classification, truncated=truncated)
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
        return by_language
