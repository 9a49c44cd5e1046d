"""Gopher's repetition signals: top and duplicated word n-grams (character n-grams in CJK text)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sftforge.operators.quality.rules.arrow import _group
from sftforge.operators.quality.rules.tokens import Tokens

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


_MIX = np.uint64(0x9E3779B97F4A7C15)
_ROW_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


def ngram_signals(
    tokens: Tokens,
    rows: np.ndarray | None = None,
    top_sizes: Iterable[int] = TOP_NGRAM_SIZES,
    dup_sizes: Iterable[int] = DUP_NGRAM_SIZES,
    cjk_rows: np.ndarray | None = None,
    cjk_scale: int | np.ndarray = 1,
) -> dict[str, dict[int, np.ndarray]]:
    """Gopher's repetition signals over word n-grams (character n-grams for CJK rows).

    ``top[n]`` is the share of a row's characters covered by its most frequent n-gram (counted with
    every occurrence; 0 when no n-gram occurs twice). ``dup[n]`` is the share of characters inside
    n-grams that repeat an earlier n-gram of the same row (overlapping repeats counted once).

    The whole batch is processed at once: each n-gram is hashed from token ids with a rolling 64-bit
    polynomial mixed with its row, and one sort per n finds repeats in every row together. An n-gram
    can only repeat where its (n-1)-gram prefix repeats, so each n only sorts the positions that were
    repeats at n-1: on ordinary text the work shrinks quickly after bigrams.

    Args:
        tokens: The batch's tokens.
        rows: Boolean mask of the rows to score; others get NaN (default: all rows).
        top_sizes, dup_sizes: The n of each signal.
        cjk_rows: Rows counted in characters; their n is multiplied by ``cjk_scale``, since a Chinese
            word is about two characters and Gopher's thresholds are calibrated on words.
        cjk_scale: The multiplier for ``cjk_rows``: one for all, or one per row.
    """
    top_sizes, dup_sizes = tuple(top_sizes), tuple(dup_sizes)
    n_rows = tokens.num_rows
    result: dict[str, dict[int, np.ndarray]] = {
        "top": {n: np.full(n_rows, np.nan) for n in top_sizes},
        "dup": {n: np.full(n_rows, np.nan) for n in dup_sizes},
    }
    selected = np.ones(n_rows, bool) if rows is None else np.asarray(rows, bool)
    cjk = np.zeros(n_rows, bool) if cjk_rows is None else np.asarray(cjk_rows, bool)
    scale_of = np.where(cjk, np.broadcast_to(np.asarray(cjk_scale, np.int64), (n_rows,)), 1)
    for table in result.values():
        for values in table.values():
            values[selected] = 0.0
    if not (top_sizes or dup_sizes):
        return result
    for scale in np.unique(scale_of[selected]).tolist():
        subset = selected & (scale_of == scale)
        if subset.any():
            _ngram_pass(tokens, subset, {n * scale: n for n in top_sizes}, {n * scale: n for n in dup_sizes}, result)
    return result


def _ngram_pass(tokens: Tokens, subset: np.ndarray, top: dict[int, int], dup: dict[int, int],
                result: dict[str, dict[int, np.ndarray]]) -> None:
    """Fills ``result`` for the rows in ``subset``; ``top``/``dup`` map the n to measure to the n reported."""
    n_rows = tokens.num_rows
    take = subset[tokens.row_of]
    row_of, ids, lengths = tokens.row_of[take], tokens.ids[take], tokens.lengths[take]
    count = len(ids)
    if count == 0:
        return
    total_chars = np.bincount(row_of, weights=lengths, minlength=n_rows)
    cumulative = np.concatenate([[0], np.cumsum(lengths)])
    mixed = (ids.astype(np.uint64) + np.uint64(1)) * _MIX
    first_needed = min(list(top) + list(dup))
    # Start positions still able to repeat, and the hash of their n-gram so far.
    starts = np.arange(count)
    rolling = mixed.copy()
    with np.errstate(over="ignore"):
        for n in range(1, max(list(top) + list(dup)) + 1):
            if n > 1:
                ends = starts + n - 1
                inside = ends < count
                inside[inside] = row_of[ends[inside]] == row_of[starts[inside]]
                starts, rolling = starts[inside], rolling[inside]
                rolling = rolling * _MIX + mixed[starts + n - 1]
            if n < first_needed or len(starts) == 0:
                continue
            rows_of_start = row_of[starts]
            groups = _group(rolling ^ (rows_of_start.astype(np.uint64) * _ROW_MIX))
            if n in top:
                first, counts = groups.first, groups.counts
                unique_rows = rows_of_start[first]
                chars = (cumulative[starts[first] + n] - cumulative[starts[first]]).astype(float)
                share = np.minimum(counts * chars / np.maximum(total_chars[unique_rows], 1), 1.0)
                candidates = np.nonzero(counts >= 2)[0]
                if len(candidates):
                    order = candidates[
                        np.lexsort((share[candidates], counts[candidates], unique_rows[candidates]))
                    ]
                    ordered_rows = unique_rows[order]
                    last = np.r_[ordered_rows[1:] != ordered_rows[:-1], True]
                    result["top"][top[n]][ordered_rows[last]] = share[order[last]]
            if n in dup:
                # Characters in the union of the windows [r, r + n) of repeated n-grams: with the starts
                # sorted, each window adds the tokens up to the next window's start (windows never cross
                # rows, and a later window starts no earlier than this one).
                repeated = np.sort(starts[groups.repeated])
                ends = np.minimum(repeated + n, np.r_[repeated[1:], count])
                chars = cumulative[ends] - cumulative[repeated]
                covered = np.bincount(row_of[repeated], weights=chars, minlength=n_rows)
                result["dup"][dup[n]][subset] = (covered / np.maximum(total_chars, 1))[subset]
            # Only n-grams that occur at least twice can extend into repeated (n+1)-grams.
            again = groups.counts[groups.group_of] >= 2
            starts, rolling = starts[again], rolling[again]
