"""``AugmentConfig``: which augmentation methods a job runs, and where their work is checkpointed."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from sftforge.operators.augment.back_translation import RoundTripConfig
from sftforge.operators.augment.instruction_backtranslation import InstructionBacktranslationConfig
from sftforge.operators.augment.paraphrase import ParaphraseConfig
from sftforge.operators.augment.qa_generation import QAGenerationConfig
from sftforge.operators.augment.self_instruct import SelfInstructConfig
from sftforge.operators.base import StageConfig


class AugmentConfig(StageConfig):
    """LLM augmentation: each method is configured under its own key; an absent key is not run.

    Attributes:
        work_dir: Folder of the checkpoints (finished batches as Parquet parts); a re-run with the same
            settings resumes from it. None: ``<output.dir>/_augment``.
        progress: Show a progress bar per method (rate and ETA).
        workers: Actors of the per-row methods' stage, each with its own engine (the cluster-wide limits
            and the response cache are shared).
        worker_cpus: CPUs reserved per actor (LLM calls wait on the network, so a fraction).
        batch_rows: Rows per batch handed to an actor; the target's overshoot is at most one batch's
            rows per worker.
        self_instruct: Self-Instruct from a seed-task file.
        round_trip: Round-trip back-translation of instruction rows.
        instruction_backtranslation: Humpback: instructions for documents, curated by the judge.
        paraphrase: Paraphrases of instruction rows.
        qa_generation: Questions and answers from document passages.
    """

    work_dir: str | None = None
    progress: bool = True
    workers: int = Field(default=2, ge=1)
    worker_cpus: float = Field(default=0.25, gt=0)
    batch_rows: int = Field(default=256, ge=1)
    self_instruct: SelfInstructConfig | None = None
    round_trip: RoundTripConfig | None = None
    instruction_backtranslation: InstructionBacktranslationConfig | None = None
    paraphrase: ParaphraseConfig | None = None
    qa_generation: QAGenerationConfig | None = None

    @model_validator(mode="after")
    def _seed_files_exist(self) -> AugmentConfig:
        for key in ("self_instruct", "instruction_backtranslation"):
            method = getattr(self, key)
            path = getattr(method, "seed_tasks", None) if method is not None else None
            if method is not None and method.enabled and path and not Path(path).is_file():
                raise ValueError(f"{key}.seed_tasks: no such file '{path}'")
        return self

    def methods(self) -> dict[str, StageConfig]:
        """The enabled methods by name, in the order they run."""
        enabled = {}
        for name in METHOD_ORDER:
            method = getattr(self, name)
            if method is not None and method.enabled:
                enabled[name] = method
        return enabled


#: Config keys of the methods, in the order they run.
METHOD_ORDER = ("self_instruct", "round_trip", "paraphrase", "instruction_backtranslation", "qa_generation")
