"""Self-Instruct's seed tasks: the JSONL format of the paper's ``seed_tasks.jsonl``, read and checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sftforge.operators.augment import filters
from sftforge.operators.augment.filters import Language
from sftforge.operators.read.json_lines import json_objects


class SeedError(ValueError):
    """The seed-task file cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Instance:
    """One input/output example of a task (``input`` is "" when the task takes none)."""

    input: str
    output: str


@dataclass(frozen=True)
class SeedTask:
    """A task of the seed file (Self-Instruct format).

    Attributes:
        instruction: What to do.
        instances: Example inputs and outputs.
        is_classification: Whether the answer is one of a fixed set of labels.
        language: ``en`` or ``zh``, detected from the instruction.
    """

    instruction: str
    instances: tuple[Instance, ...]
    is_classification: bool
    language: Language


def load_seed_tasks(path: str | Path) -> list[SeedTask]:
    """Reads a Self-Instruct seed file: JSONL, one task per line with ``instruction``, ``instances``
    (a list of ``{input, output}``) and ``is_classification``.

    Raises:
        SeedError: The file is missing, or a line is not valid JSON, lacks a field, or is in a language
            other than English and Chinese; the message names the file and line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SeedError(f"cannot read seed tasks {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise SeedError(f"seed tasks {path} are not UTF-8: {error}") from None
    tasks = []
    for where, record in json_objects(lines, str(path), SeedError):
        instruction = record.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise SeedError(f"{where}: 'instruction' must be a non-empty string")
        raw_instances = record.get("instances")
        if not isinstance(raw_instances, list) or not raw_instances:
            raise SeedError(f"{where}: 'instances' must be a non-empty list of {{input, output}}")
        instances = []
        for item in raw_instances:
            if not isinstance(item, dict) or not isinstance(item.get("output"), str):
                raise SeedError(f"{where}: each instance needs a string 'output'")
            input_ = item.get("input") or ""
            if not isinstance(input_, str):
                raise SeedError(f"{where}: an instance's 'input' must be a string")
            instances.append(Instance(input_.strip(), item["output"].strip()))
        is_classification = record.get("is_classification", False)
        if not isinstance(is_classification, bool):
            raise SeedError(f"{where}: 'is_classification' must be true or false")
        language = filters.text_language(instruction)
        if language is None:
            raise SeedError(f"{where}: the instruction is neither English nor Chinese")
        tasks.append(SeedTask(instruction.strip(), tuple(instances), is_classification, language))
    if not tasks:
        raise SeedError(f"seed tasks {path}: no tasks")
    return tasks
