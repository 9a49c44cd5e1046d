"""Pure quality signals, computed for a whole batch at once; one rule family per module.

Every function takes sequences of strings (a list or a pyarrow string array; ``None`` reads as empty)
and returns numpy arrays with one value per row, so the rules can be tested with plain strings and
run on a batch without a Python loop per row: regular expressions run in Arrow (RE2), counting and
duplicate detection in numpy. The few checks that need Python (URL grounding, instruction overlap)
only visit the rows that a vectorised prefilter lets through.

- ``arrow``: shared helpers (strings, matches, grouping, evidence) and the CJK character class.
- ``tokens``: words, each CJK character a word of its own.
- ``document``, ``ngrams``: Gopher / C4 / FineWeb document signals and repetition.
- ``answers``: response length, closed tasks, echoes of the instruction.
- ``refusal``: refusals and non-answers.
- ``repetition``: one word or phrase repeated over and over.
- ``truncation``: responses cut off before the end.
- ``context``: input the model cannot see, actions it cannot take.
- ``grounding``: invented URLs, unfilled placeholders.
"""

from sftforge.operators.quality.rules.answers import (
    blank_responses,
    closed_tasks,
    instruction_overlap,
    response_chars,
)
from sftforge.operators.quality.rules.arrow import (
    CJK_PY,
    CJK_RANGES,
    CJK_RE2,
    _match,
    _numpy,
    as_strings,
    cjk_fractions,
    non_space_chars,
)
from sftforge.operators.quality.rules.context import impossible_actions, unseen_inputs
from sftforge.operators.quality.rules.document import STOP_WORDS_EN, line_signals, word_signals
from sftforge.operators.quality.rules.grounding import placeholders, ungrounded_urls
from sftforge.operators.quality.rules.ngrams import DUP_NGRAM_SIZES, TOP_NGRAM_SIZES, ngram_signals
from sftforge.operators.quality.rules.refusal import REFUSAL_PATTERN, non_answers, refusals
from sftforge.operators.quality.rules.repetition import repeated_runs, repetition_requested
from sftforge.operators.quality.rules.tokens import Tokens, count_units, tokenize
from sftforge.operators.quality.rules.truncation import truncations

__all__ = [
    "CJK_PY", "CJK_RANGES", "CJK_RE2", "DUP_NGRAM_SIZES", "REFUSAL_PATTERN", "STOP_WORDS_EN", "TOP_NGRAM_SIZES",
    "Tokens", "_match", "_numpy", "as_strings", "blank_responses", "cjk_fractions", "closed_tasks", "count_units",
    "impossible_actions", "instruction_overlap", "line_signals", "ngram_signals", "non_answers", "non_space_chars",
    "placeholders", "refusals", "repeated_runs", "repetition_requested", "response_chars", "tokenize", "truncations", "ungrounded_urls", "unseen_inputs",
    "word_signals",
]
