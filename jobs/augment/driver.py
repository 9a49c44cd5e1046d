"""The augmentation driver: generates rows with the LLM engine, in checkpointed batches, up to a target.

Each method writes its finished batches to its own folder of the work directory (a local folder or any
fsspec URL, such as ``s3://bucket/prefix``)::

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
``k``, so a resumed batch asks exactly what the killed one asked. Its LLM calls run on worker actors
when Ray runs (``self_instruct_rounds``, ``self_instruct_workers``). The per-row methods (round trip,
paraphrase, instruction back-translation, QA) stream the parent rows once, in bounded batches, and skip
parents that a finished batch already used (their ``doc_id`` hashes are the ``state`` files).

Memory stays bounded by one batch, plus the novelty index for Self-Instruct and 8 bytes per used
parent for the per-row methods.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from fsspec.core import url_to_fs
from sftforge.jobs.augment.checkpoints import AugmentOutcome, read_parquet_file
from sftforge.jobs.augment.document_methods import InstructionBacktranslationMethod, QAGenerationMethod
from sftforge.jobs.augment.row_methods import ParaphraseMethod, RoundTripMethod, RowMethod, parents_from_table
from sftforge.jobs.augment.self_instruct_rounds import SelfInstructGenerator
from sftforge.operators.augment.config import METHOD_ORDER, AugmentConfig
from sftforge.operators.augment.provenance import (
    AUGMENT_DEAD_LETTER_SCHEMA,
    GENERATED_SCHEMA,
)
from sftforge.operators.llm_client import LLMConfig, LLMEngine

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
        work_dir: Checkpoint folder, local or an fsspec URL (``config.work_dir`` wins when set).
        parents: Returns a fresh iterator of parent batches (the pipeline's rows after cleaning); only
            live rows are used. None: per-row methods have no parents and generate nothing.
        progress: Override ``config.progress``.

    Returns:
        The outcome per method, with the part files of all finished batches.
    """
    work = str(config.work_dir or work_dir)
    fs, root = url_to_fs(work)
    fs.makedirs(root, exist_ok=True)
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
                try:
                    generator.resume()
                    outcome.methods[name] = generator.outcome
                    board.add(name, method_config.target_rows, generator.outcome.rows)
                    if not generator.done():
                        generator.run(board)  # its workers have their own engines
                finally:
                    generator.close()
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
        yield read_parquet_file(part, GENERATED_SCHEMA)


def read_dead_letters(outcome: AugmentOutcome) -> Iterator[pa.Table]:
    """The dead letters of every finished batch, one part at a time."""
    for part in outcome.dead_parts:
        yield read_parquet_file(part, AUGMENT_DEAD_LETTER_SCHEMA)


def _parent_source(paths: Sequence[str]) -> ParentSource:
    import pyarrow.dataset as pads

    def batches() -> Iterator[pa.Table]:
        for path in paths:
            file_format = "json" if path.endswith((".jsonl", ".json")) else "parquet"
            for batch in pads.dataset(path, format=file_format).to_batches(batch_size=1024):
                yield pa.Table.from_batches([batch])

    return batches


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sftforge.jobs.augment.driver``: runs augmentation alone, outside a pipeline run.

    Parent rows (for the per-row methods) come from Parquet or JSONL files in the base schema, such as
    a release's outputs. Prints the report as JSON.
    """
    import argparse

    import yaml
    from sftforge.operators.llm_client import LLMService

    parser = argparse.ArgumentParser(prog="python -m sftforge.jobs.augment.driver", description=main.__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML or JSON file of an AugmentConfig")
    parser.add_argument("--llm", required=True, help="YAML or JSON file of an LLMConfig")
    parser.add_argument("--work-dir", required=True,
                        help="checkpoint folder or fsspec URL (resumes when it holds batches)")
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

