"""LLM augmentation: Self-Instruct, round-trip and instruction back-translation, paraphrase, QA.

Each method is one module of pure parts (prompt templates in English and Chinese, request builders,
reply parsers, filters); ``sftforge.jobs.augment.driver`` drives them through the LLM engine at scale. Generated rows
carry provenance (``operators.augment.provenance``) and go through the pipeline's language, dedup and
quality stages like every other row.
"""

from sftforge.operators.augment.chrf import chrf
from sftforge.operators.augment.config import METHOD_ORDER, AugmentConfig
from sftforge.operators.augment.novelty import (
    NoveltyIndex,
    NoveltyVerdict,
    lcs_length,
    naive_scan,
    rouge_l,
    rouge_l_text,
)
from sftforge.operators.augment.provenance import (
    AUGMENT_DEAD_LETTER_SCHEMA,
    GENERATED_SCHEMA,
    DeadLetter,
    GeneratedRow,
    with_provenance_columns,
)

__all__ = [
    "AUGMENT_DEAD_LETTER_SCHEMA",
    "GENERATED_SCHEMA",
    "METHOD_ORDER",
    "AugmentConfig",
    "DeadLetter",
    "GeneratedRow",
    "NoveltyIndex",
    "NoveltyVerdict",
    "chrf",
    "lcs_length",
    "naive_scan",
    "rouge_l",
    "rouge_l_text",
    "with_provenance_columns",
]
