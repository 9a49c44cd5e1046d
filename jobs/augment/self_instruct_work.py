"""The work of a Self-Instruct round that grows with the rows: LLM calls and the parsing of their replies.

The driver plans a round (which tasks each generation prompt shows) and commits it (the novelty
decisions, the target, the checkpoint); a ``SelfInstructWorker`` does the rest for its share of the
round's prompts and instructions, with its own ``LLMEngine``. The worker is pure apart from its engine
and holds no state between calls, so the same class runs in the driver's process or as a Ray actor
(``self_instruct_workers``), and a restarted actor answers a retried call exactly as the first one did
(the answered calls come from the response cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sftforge.jobs.augment.checkpoints import BatchOutput
from sftforge.operators.augment import filters
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.prompts import resolve
from sftforge.operators.augment.provenance import DeadLetter, GeneratedRow
from sftforge.operators.llm_client import BUDGET_EXHAUSTED, LLMConfig, LLMEngine, LLMResult, PromptTemplate
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


#: What a worker reports of its calls, for the progress lines (never for decisions or the funnel).
USAGE = ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "cost")


@dataclass(frozen=True)
class RoundPrompts:
    """What every worker needs to render a round's prompts: templates and few-shot examples per language.

    Built once by the driver from the seed file and the config, so workers need no access to the file.
    """

    templates: dict[str, dict[str, PromptTemplate]]
    classify_examples: dict[str, str]
    instance_examples: dict[tuple[str, bool], str]

    @classmethod
    def build(cls, config: si.SelfInstructConfig, seeds: list[si.SeedTask], languages: list[str]) -> RoundPrompts:
        templates = {
            family: {lang: resolve(template, config.templates) for lang, template in by_language.items()}
            for family, by_language in (
                ("generate", si.GENERATE),
                ("classify", si.CLASSIFY),
                ("input_first", si.INSTANCES_INPUT_FIRST),
                ("output_first", si.INSTANCES_OUTPUT_FIRST),
            )
        }
        classify, instances = {}, {}
        for lang in languages:
            own = [seed for seed in seeds if seed.language == lang]
            classify[lang] = si.render_classification_examples(own, lang, config.classify_examples)
            for classification in (False, True):
                instances[(lang, classification)] = si.render_instance_examples(
                    own, lang, classification, config.instance_examples
                )
        return cls(templates, classify, instances)


@dataclass(frozen=True)
class PromptSpec:
    """One generation prompt of a round, planned by the driver: its number, language and shown tasks."""

    number: int
    language: str
    request_id: str
    sample: int
    tasks: list[str]


@dataclass
class GenerationResult:
    """What one generation prompt gave: candidates with the reason each fails the rule filters (None:
    passes them; the novelty check is the driver's), and the prompt's dead letters and counters."""

    number: int
    language: str
    candidates: list[tuple[str, str | None]] = field(default_factory=list)
    template: str | None = None
    model: str | None = None
    output: BatchOutput = field(default_factory=BatchOutput)


@dataclass(frozen=True)
class InstructionSpec:
    """An accepted instruction of a round, numbered in the round's order."""

    number: int
    language: str
    instruction: str


@dataclass
class InstanceResult:
    """An instruction's classification and its kept instances (before the target trims them)."""

    number: int
    language: str
    classification: bool
    rows: list[GeneratedRow] = field(default_factory=list)
    output: BatchOutput = field(default_factory=BatchOutput)


class SelfInstructWorker:
    """Generates candidates and instances for its share of a round (a Ray actor, or in the driver).

    Args:
        config: The method's config.
        llm: The resolved LLM config (its coordinator holds the cluster-wide limits and budget).
        prompts: The round's templates and examples (``RoundPrompts.build``).
    """

    def __init__(self, config: si.SelfInstructConfig, llm: LLMConfig, prompts: RoundPrompts):
        self.config = config
        self.llm = llm
        self.prompts = prompts
        self._engine: LLMEngine | None = None

    @property
    def engine(self) -> LLMEngine:
        if self._engine is None:
            self._engine = LLMEngine(self.llm, stage=f"augment.{si.METHOD}")
        return self._engine

    def _usage_since(self, before: dict) -> dict[str, float]:
        after = self.engine.ledger()
        return {name: after.get(name, 0) - before.get(name, 0) for name in USAGE}

    def generate(self, specs: list[PromptSpec]) -> tuple[list[GenerationResult], dict[str, float]]:
        """Asks each prompt for new tasks; parses and rule-filters the replies.

        Returns:
            Each prompt's result, and the calls' usage (requests, tokens, cost).
        """
        config, templates = self.config, self.prompts.templates["generate"]
        before = self.engine.ledger()
        requests = [
            si.generation_request(spec.request_id, spec.tasks, spec.language, config.new_per_prompt,
                                  sample=spec.sample, temperature=config.temperature,
                                  template=templates[spec.language])
            for spec in specs
        ]
        results = []
        for spec, result in zip(specs, self.engine.run(requests), strict=True):
            out = GenerationResult(spec.number, spec.language, template=result.template, model=result.model)
            results.append(out)
            reply = usable_reply(out.output, result, "generate", "generate_replies_truncated")
            if reply is None:
                continue
            text, truncated = reply
            candidates = si.parse_generated_instructions(text, spec.tasks, truncated=truncated)
            if not candidates:
                out.output.drop(DeadLetter(si.METHOD, None, "generate", filters.UNPARSEABLE,
                                           "no new numbered task in the reply", raw=text,
                                           template=result.template, model=result.model))
                continue
            out.output.counters["candidates"] += len(candidates)
            out.candidates = [(candidate, filters.instruction_reason(candidate, spec.language, config.filters))
                              for candidate in candidates]
        return results, self._usage_since(before)

    def instances(
        self, round_number: int, specs: list[InstructionSpec]
    ) -> tuple[list[InstanceResult], dict[str, float]]:
        """Classifies each instruction, then asks for its instances and keeps those the filters pass.

        Returns:
            Each instruction's result, and the calls' usage (requests, tokens, cost).
        """
        config, prompts = self.config, self.prompts
        before = self.engine.ledger()
        classify = [
            si.classification_request(f"classify:{round_number}:{spec.number}", spec.instruction, spec.language,
                                      prompts.classify_examples[spec.language],
                                      template=prompts.templates["classify"][spec.language])
            for spec in specs
        ]
        results = [InstanceResult(spec.number, spec.language, False) for spec in specs]
        for out, result in zip(results, self.engine.run(classify), strict=True):
            verdict = si.parse_is_classification(result.text) if result.ok else None
            if verdict is None:
                out.output.counters["classification_unclear"] += 1
                out.output.budget_exhausted |= result.reason == BUDGET_EXHAUSTED
                if is_endpoint_failure(result.reason):
                    out.output.endpoint_failures += 1
                    out.output.last_failure = result.reason
            out.classification = bool(verdict)
            out.output.counters["classification_tasks"] += out.classification
        requests = []
        for spec, out in zip(specs, results, strict=True):
            family = "output_first" if out.classification else "input_first"
            requests.append(si.instances_request(
                f"instances:{round_number}:{spec.number}", spec.instruction, spec.language, out.classification,
                config.instances_per_task, prompts.instance_examples[(spec.language, out.classification)],
                template=prompts.templates[family][spec.language],
            ))
        for spec, out, result in zip(specs, results, self.engine.run(requests), strict=True):
            self._keep_instances(spec, out, result)
        return results, self._usage_since(before)

    def _keep_instances(self, spec: InstructionSpec, out: InstanceResult, result: LLMResult) -> None:
        reply = usable_reply(out.output, result, "instances", "instance_replies_truncated")
        if reply is None:
            return
        text, truncated = reply
        instruction, lang = spec.instruction, spec.language
        instances = si.parse_instances(text, out.classification, truncated=truncated)
        kept, dropped = si.select_instances(instruction, instances, self.config.instances_per_task)
        if not instances:
            out.output.drop(DeadLetter(si.METHOD, None, "instances", filters.UNPARSEABLE,
                                       "no complete instance in the reply", candidate=instruction, raw=text,
                                       template=result.template, model=result.model))
        for instance, reason in dropped:
            out.output.drop(DeadLetter(si.METHOD, None, "instances", reason, None,
                                       candidate=f"{instruction}\n{instance.input}\n{instance.output}",
                                       template=result.template, model=result.model))
        family = "output_first" if out.classification else "input_first"
        templates = self.prompts.templates
        names = (templates["generate"][lang], templates["classify"][lang], templates[family][lang])
        out.rows = [GeneratedRow(si.METHOD, None, instruction, instance.input, instance.output, result.model, names)
                    for instance in kept]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def merge_output(into: BatchOutput, part: BatchOutput) -> None:
    """Adds a worker's dead letters, counters and failures to the round's output (rows stay apart)."""
    into.dead.extend(part.dead)
    into.counters.update(part.counters)
    into.budget_exhausted |= part.budget_exhausted
    into.endpoint_failures += part.endpoint_failures
    if part.last_failure is not None:
        into.last_failure = part.last_failure


__all__ = [
    "GenerationResult",
    "InstanceResult",
    "InstructionSpec",
    "PromptSpec",
    "RoundPrompts",
    "SelfInstructWorker",
    "merge_output",
    "usable_reply",
]
