"""Self-Instruct (Wang et al., 2022): grow a small seed set of tasks into many, with the model itself.

One round, as in the paper:

1. **Generate instructions.** Each prompt lists 8 tasks, 6 drawn from the seed tasks and 2 from the
   machine-generated ones (all 8 from the seeds until there are some), and asks the model to continue
   the numbered list with new tasks.
2. **Filter.** A new instruction is dropped when it is in the wrong language, too short or too long
   (words in English, characters in Chinese), asks for something a text model cannot do (images,
   graphs, files, drawing, plotting ...), starts badly (punctuation, a character outside the language,
   "Write a program"), or has ROUGE-L >= 0.7 with any instruction in the pool (``NoveltyIndex``).
   Survivors join the pool.
3. **Identify classification tasks** with a few-shot Yes/No prompt built from the seed tasks' labels.
4. **Generate instances** per instruction: input-first for ordinary tasks, output-first (class label,
   then an input of that class) for classification tasks, so that the inputs are not all of one class.
5. **Filter instances**: empty outputs, input equal to output, exact duplicates, and inputs that got
   different outputs are dropped.

The module is pure: it builds ``LLMRequest`` s and parses replies; its templates, seed-task file and
filters are in ``self_instruct_templates``, ``self_instruct_seeds`` and ``self_instruct_filters`` (and
re-exported here). ``sftforge.jobs.augment.self_instruct_rounds`` runs the rounds.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from pydantic import Field, model_validator
from sftforge.operators.augment import filters
from sftforge.operators.augment.filters import InstructionFilterConfig, Language
from sftforge.operators.augment.prompts import TemplateOverride, check_overrides, one_line
from sftforge.operators.augment.replies import (
    empty_if_placeholder,
    labelled_records,
    numbered_items,
    strip_wrappers,
)
from sftforge.operators.augment.self_instruct_filters import (
    candidate_reason,
    candidate_reasons,
    select_instances,
)
from sftforge.operators.augment.self_instruct_seeds import Instance, SeedError, SeedTask, load_seed_tasks
from sftforge.operators.augment.self_instruct_templates import (
    CLASSIFY,
    GENERATE,
    INSTANCES_INPUT_FIRST,
    INSTANCES_OUTPUT_FIRST,
    TEMPLATES,
)
from sftforge.operators.base import StageConfig
from sftforge.operators.llm_client import LLMRequest, PromptTemplate

METHOD = "self_instruct"

__all__ = [
    "CLASSIFY",
    "GENERATE",
    "INSTANCES_INPUT_FIRST",
    "INSTANCES_OUTPUT_FIRST",
    "METHOD",
    "TEMPLATES",
    "Instance",
    "SeedError",
    "SeedTask",
    "SelfInstructConfig",
    "candidate_reason",
    "candidate_reasons",
    "classification_request",
    "generation_request",
    "instances_request",
    "load_seed_tasks",
    "parse_generated_instructions",
    "parse_instances",
    "parse_is_classification",
    "render_classification_examples",
    "render_instance_examples",
    "render_task_list",
    "sample_prompt_tasks",
    "select_instances",
]

_TASK_WORD = {"en": "Task", "zh": "任务"}
_COLON = {"en": ": ", "zh": "："}
_INPUT_LABELS = ("Input", "输入")
_OUTPUT_LABELS = ("Output", "输出")
_LABEL_LABELS = ("Class label", "Class Label", "Label", "类别标签", "标签", "类别")
_YES = ("是", "对")
_NO = ("否", "不")


# --- Config -----------------------------------------------------------------------------------------


class SelfInstructConfig(StageConfig):
    """Self-Instruct generation.

    Attributes:
        enabled: Run the method.
        seed_tasks: The seed-task JSONL file.
        target_rows: Instruction/input/output rows to generate (summed over languages).
        languages: Languages to generate in (default: those of the seed tasks); the target is split
            evenly between them.
        prompts_per_batch: Generation prompts per batch (a batch is the unit of checkpointing).
        new_per_prompt: New tasks each prompt asks for.
        seed_per_prompt: Seed tasks shown in each prompt (6 in the paper).
        machine_per_prompt: Machine-generated tasks shown once there are some (2 in the paper).
        instances_per_task: Most instances asked for, and kept, per instruction.
        similarity_threshold: ROUGE-L at or above which a new instruction is a near copy (0.7).
        novelty_partitions: Ray actors the novelty pool is split across (1: held by the driver). The
            decisions do not depend on it, so it is not part of the checkpoints' fingerprint.
        workers: Ray actors that make a round's LLM calls and parse the replies, each with its own
            engine (one worker in the driver's process when Ray is not running). The requests and
            decisions do not depend on it, so it is not part of the fingerprint either.
        worker_cpus: CPUs each worker actor reserves (its calls wait on the network; 0 lets the workers
            start beside CPU-bound actors such as the novelty partitions on a small cluster).
        classify_examples: Seed tasks shown in the classification prompt.
        instance_examples: Seed tasks with instances shown in the instance prompt.
        temperature: Sampling temperature of instruction generation (None: the LLM config's).
        max_stalled_batches: Stop after this many batches in a row that added no row.
        filters: Length bounds and word lists.
        seed: Seed of the sampling of prompt tasks.
        templates: Replacements of this method's templates, by template name.
    """

    enabled: bool = True
    seed_tasks: str
    target_rows: int = Field(default=1000, ge=1, le=1_000_000_000)
    languages: list[Language] | None = None
    prompts_per_batch: int = Field(default=32, ge=1)
    new_per_prompt: int = Field(default=8, ge=1, le=64)
    seed_per_prompt: int = Field(default=6, ge=1)
    machine_per_prompt: int = Field(default=2, ge=0)
    instances_per_task: int = Field(default=3, ge=1, le=32)
    similarity_threshold: float = Field(default=0.7, gt=0, le=1)
    novelty_partitions: int = Field(default=1, ge=1, le=1024)
    workers: int = Field(default=2, ge=1, le=1024)
    worker_cpus: float = Field(default=0.0, ge=0)
    classify_examples: int = Field(default=8, ge=0)
    instance_examples: int = Field(default=2, ge=0)
    temperature: float | None = Field(default=0.7, ge=0, le=2)
    max_stalled_batches: int = Field(default=5, ge=1)
    filters: InstructionFilterConfig = InstructionFilterConfig()
    seed: int = 0
    templates: dict[str, TemplateOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _templates_are_known(self) -> SelfInstructConfig:
        check_overrides(self.templates, TEMPLATES)
        return self


# --- Prompts ----------------------------------------------------------------------------------------


def sample_prompt_tasks(
    rng: random.Random, seeds: Sequence[str], machine: Sequence[str], num_seed: int, num_machine: int
) -> list[str]:
    """The tasks one generation prompt shows: ``num_seed`` seeds and ``num_machine`` machine tasks,
    shuffled; seeds fill the machine slots while there are not enough machine-generated tasks."""
    machine_count = min(num_machine, len(machine))
    seed_count = min(len(seeds), num_seed + num_machine - machine_count)
    # Sampling positions picks exactly what sampling the lists would, without copying a large pool.
    tasks = [seeds[i] for i in rng.sample(range(len(seeds)), seed_count)]
    tasks += [machine[i] for i in rng.sample(range(len(machine)), machine_count)]
    rng.shuffle(tasks)
    return tasks


def render_task_list(tasks: Sequence[str], language: Language) -> str:
    """``Task 1: ...`` lines (``任务 1：...`` in Chinese)."""
    word, colon = _TASK_WORD[language], _COLON[language]
    return "\n".join(f"{word} {number}{colon}{one_line(task)}" for number, task in enumerate(tasks, start=1))


def generation_request(
    request_id: str,
    tasks: Sequence[str],
    language: Language,
    count: int,
    *,
    sample: int = 0,
    temperature: float | None = None,
    template: PromptTemplate | None = None,
) -> LLMRequest:
    """The prompt that asks for ``count`` new tasks after the listed ones."""
    template = template or GENERATE[language]
    return LLMRequest(
        id=request_id,
        template=template,
        variables={
            "count": count,
            "first": len(tasks) + 1,
            "last": len(tasks) + count,
            "tasks": render_task_list(tasks, language),
        },
        sample=sample,
        temperature=temperature,
    )


def parse_generated_instructions(reply: str, shown: Sequence[str], *, truncated: bool = False) -> list[str]:
    """New instructions in a generation reply: its numbered items, less verbatim repeats of the tasks
    the prompt showed.

    Small models often restart the numbering at 1 instead of continuing it, so the numbers are not
    trusted; near copies of shown tasks are left to the novelty filter, which rejects (and counts) them.

    Args:
        reply: The reply text.
        shown: The tasks the prompt listed.
        truncated: The reply stopped at ``max_tokens``: its last item may be cut off and is dropped.
    """
    items = [text for _, text in numbered_items(reply, words=("Task", "Instruction", "任务", "指令"))]
    if truncated and items:
        items = items[:-1]
    repeats = {filters.normalized(task) for task in shown}
    return [text for text in items if text and filters.normalized(text) not in repeats]


def render_classification_examples(seeds: Sequence[SeedTask], language: Language, limit: int) -> str:
    """Few-shot lines for the classification prompt, alternating classification and other seeds."""
    positives = [seed for seed in seeds if seed.is_classification]
    negatives = [seed for seed in seeds if not seed.is_classification]
    chosen: list[SeedTask] = []
    while len(chosen) < limit and (positives or negatives):
        for pool in (positives, negatives):
            if pool and len(chosen) < limit:
                chosen.append(pool.pop(0))
    if language == "zh":
        return "".join(
            f"任务：{one_line(seed.instruction)}\n分类任务：{'是' if seed.is_classification else '否'}\n\n"
            for seed in chosen
        )
    return "".join(
        f"Task: {one_line(seed.instruction)}\nClassification: {'Yes' if seed.is_classification else 'No'}\n\n"
        for seed in chosen
    )


def classification_request(
    request_id: str,
    instruction: str,
    language: Language,
    examples: str,
    template: PromptTemplate | None = None,
) -> LLMRequest:
    """The Yes/No prompt that decides whether ``instruction`` is a classification task."""
    return LLMRequest(
        id=request_id,
        template=template or CLASSIFY[language],
        variables={"examples": examples, "instruction": one_line(instruction)},
        max_tokens=8,
    )


def parse_is_classification(reply: str) -> bool | None:
    """True for Yes / 是, False for No / 否, None when the reply says neither."""
    text = strip_wrappers(reply, labels=("Classification", "Answer", "分类任务", "回答", "答案")).casefold()
    word = re.match(r"[a-z]+", text)
    if word:
        return {"yes": True, "no": False}.get(word.group())
    for prefix in _NO:  # "不是" starts with neither "是" nor "yes"; test the negatives first
        if text.startswith(prefix):
            return False
    for prefix in _YES:
        if text.startswith(prefix):
            return True
    return None


def render_instance_examples(
    seeds: Sequence[SeedTask], language: Language, classification: bool, limit: int
) -> str:
    """Seed tasks of the same kind with their instances, in the format the instance prompt asks for."""
    chosen = [seed for seed in seeds if seed.is_classification == classification][:limit]
    if language == "zh":
        task, example, input_, output, label = "任务：", "示例", "输入：", "输出：", "类别标签："
    else:
        task, example, input_, output, label = "Task: ", "Example", "Input: ", "Output: ", "Class label: "
    blocks = []
    for seed in chosen:
        lines = [f"{task}{one_line(seed.instruction)}"]
        for number, instance in enumerate(seed.instances, start=1):
            if classification:
                lines += [f"{label}{instance.output}", f"{input_}{instance.input}"]
            else:
                lines += [f"{example} {number}", f"{input_}{instance.input}", f"{output}{instance.output}"]
        blocks.append("\n".join(lines) + "\n\n")
    return "".join(blocks)


def instances_request(
    request_id: str,
    instruction: str,
    language: Language,
    classification: bool,
    count: int,
    examples: str,
    template: PromptTemplate | None = None,
) -> LLMRequest:
    """The prompt for instances: output-first for classification tasks, input-first otherwise."""
    family = INSTANCES_OUTPUT_FIRST if classification else INSTANCES_INPUT_FIRST
    return LLMRequest(
        id=request_id,
        template=template or family[language],
        variables={"count": count, "examples": examples, "instruction": instruction.strip()},
    )


def parse_instances(reply: str, classification: bool, *, truncated: bool = False) -> list[Instance]:
    """Instances in an instance reply (``Input:``/``Output:`` or ``Class label:``/``Input:`` records).

    A record without an output (or label) is skipped; an input written as "none", "N/A" or "无" is "".
    ``truncated``: the reply stopped at ``max_tokens``, so its last record may be cut off and is dropped.
    """
    if classification:
        records = labelled_records(reply, {"output": _LABEL_LABELS, "input": _INPUT_LABELS})
    else:
        records = labelled_records(reply, {"input": _INPUT_LABELS, "output": _OUTPUT_LABELS})
    if truncated:
        records = records[:-1]
    instances = []
    for record in records:
        output = record.get("output", "").strip()
        if not output:
            continue
        instances.append(Instance(empty_if_placeholder(record.get("input", "")), output))
    if not records and not classification and not truncated:
        # A task that needs no input is often answered outright, without the format: that answer is the
        # instance (the instance filters drop it when it merely repeats the task).
        answer = strip_wrappers(reply, labels=_OUTPUT_LABELS)
        if answer:
            instances.append(Instance("", answer))
    return instances
