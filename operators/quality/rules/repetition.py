"""One word or phrase said over and over: "very very very ...", "好好好好……", a list looping."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sftforge.operators.quality.rules.arrow import _match, as_strings
from sftforge.operators.quality.rules.tokens import Tokens

MAX_UNIT_TOKENS = 8


def repeated_runs(tokens: Tokens, max_unit: int = MAX_UNIT_TOKENS) -> tuple[np.ndarray, list[str | None]]:
    """Per row, the most times one unit of 1 to ``max_unit`` tokens repeats back to back, and the unit.

    A unit of ``k`` tokens repeats at position ``i`` when token ``i + k`` equals token ``i``; a run of
    ``L`` such positions is ``L // k + 1`` copies of the unit. This counts copies in a row only, so
    parallel sentences ("男同是……，女同是……") and a refrain between verses count 1: they repeat, but
    not back to back. Punctuation is not a token, so "好，好，好" is three copies. Rows with no repeat
    get 1 (0 when empty).
    """
    n = tokens.num_rows
    best = np.minimum(tokens.words, 1).astype(np.int64)
    where = np.full(n, -1, np.int64)
    width = np.zeros(n, np.int64)
    ids, row_of = tokens.ids, tokens.row_of
    for k in range(1, max_unit + 1):
        if len(ids) <= k:
            break
        same = (ids[:-k] == ids[k:]) & (row_of[:-k] == row_of[k:])
        if not same.any():
            continue
        edges = np.diff(np.r_[0, same.astype(np.int8), 0])
        starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
        copies = (ends - starts) // k + 1
        rows = row_of[starts]
        # Keep, per row, the run with the most copies (a later, equal run does not replace it).
        order = np.lexsort((-starts, copies, rows))
        last = np.r_[rows[order][1:] != rows[order][:-1], True]
        chosen = order[last]
        better = copies[chosen] > best[rows[chosen]]
        target = rows[chosen][better]
        best[target] = copies[chosen][better]
        where[target] = starts[chosen][better]
        width[target] = k
    evidence: list[str | None] = [None] * n
    found = np.nonzero(where >= 0)[0]
    if len(found):
        words = tokens.lowered.take(pa.array(np.concatenate([where[found] + j for j in range(MAX_UNIT_TOKENS)]).clip(
            0, max(len(ids) - 1, 0)))).to_pylist()
        for index, row in enumerate(found):
            unit = [words[index + j * len(found)] for j in range(width[row])]
            joiner = "" if all(len(word) == 1 and not word.isascii() for word in unit) else " "
            evidence[row] = f"{joiner.join(unit)} x{best[row]}"
    return best, evidence


_REPETITIVE_FORMS = (
    r"\b(?:lyrics|songs?|chorus|refrain|verses?|chants?|cheers?|jingles?|nursery rhymes?|tongue[- ]twisters?|"
    r"mantras?|slogans?)\b|歌词|歌曲|副歌|童谣|儿歌|绕口令|口号|顺口溜"
)


def repetition_requested(instructions) -> np.ndarray:
    """Prompts whose answer repeats by design: songs, chants, refrains, tongue twisters (歌词, 绕口令)."""
    return _match(as_strings(instructions), _REPETITIVE_FORMS)
