"""Per-rule verdicts of one batch: failures, the reason text, the soft score."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sftforge.operators.quality.config import RULES


class Verdicts:
    """Collects per-rule failures, reason details and soft scores for one batch."""

    def __init__(self, num_rows: int):
        self.num_rows = num_rows
        self.failures: list[tuple[str, np.ndarray, list[str | None]]] = []
        self.score = np.ones(num_rows)

    def bound(self, rule: str, values: np.ndarray, applies: np.ndarray, threshold, comfortable, *,
              maximum: bool, unit: str = "", integer: bool = False) -> None:
        """A numeric rule: fail below (or above, with ``maximum``) ``threshold``; soft score between."""
        if threshold is None:
            return
        threshold = np.broadcast_to(np.asarray(threshold, float), values.shape)
        comfortable = np.broadcast_to(np.asarray(comfortable, float), values.shape)
        known = applies & ~np.isnan(values)
        failed = known & ((values > threshold) if maximum else (values < threshold))
        span = np.where(maximum, threshold - comfortable, comfortable - threshold)
        span = np.where(span > 0, span, 1.0)
        soft = (threshold - values) / span if maximum else (values - threshold) / span
        soft = np.where(known, np.clip(soft, 0.0, 1.0), 1.0)
        soft[failed] = 0.0
        self.score *= soft
        if failed.any():
            op = ">" if maximum else "<"
            units = np.broadcast_to(np.asarray(unit, object), values.shape)
            details: list[str | None] = [None] * self.num_rows
            for row in np.nonzero(failed)[0]:
                if integer:
                    value, limit = f"{int(values[row])}", f"{int(threshold[row])}"
                else:
                    value, limit = comparison(values[row], threshold[row], maximum=maximum)
                suffix = f" {units[row]}" if units[row] else ""
                details[row] = f"{value}{op}{limit}{suffix}"
            self.failures.append((rule, failed, details))

    def flag(self, rule: str, flags: np.ndarray, applies: np.ndarray,
             evidence: list[str | None] | None = None, quote: bool = True) -> None:
        """A yes/no rule; the evidence (the phrase that matched) goes into the reason."""
        failed = applies & flags
        self.score[failed] = 0.0
        if failed.any():
            details: list[str | None] = [None] * self.num_rows
            for row in np.nonzero(failed)[0]:
                text = evidence[row] if evidence is not None else None
                if text is not None:
                    text = text.replace(";", ",")  # "; " separates rules in a reason
                details[row] = None if text is None else (f'"{text}"' if quote else text)
            self.failures.append((rule, failed, details))

    def reasons(self) -> list[str | None]:
        order = {rule: index for index, rule in enumerate(RULES)}
        parts: list[list[tuple[int, str]]] = [[] for _ in range(self.num_rows)]
        for rule, failed, details in self.failures:
            for row in np.nonzero(failed)[0]:
                detail = details[row]
                parts[row].append((order.get(rule, len(order)), f"{rule}({detail})" if detail else rule))
        return ["; ".join(text for _, text in sorted(row)) if row else None for row in parts]


def comparison(value: float, threshold: float, *, maximum: bool) -> tuple[str, str]:
    """``value`` and ``threshold`` as text, with enough decimals that a failing value never reads as equal.

    The threshold is written with two decimals (more if it has them); the value with two decimals, or more when two
    would round it onto the threshold (0.1504 over 0.15 reads ``0.1504``, not ``0.15``).
    """
    limit = f"{threshold:.2f}"
    if float(limit) != threshold:
        limit = np.format_float_positional(float(threshold), trim="-")
    for digits in range(2, 13):
        text = f"{value:.{digits}f}"
        shown = float(text)
        if (shown > threshold) if maximum else (shown < threshold):
            return text, limit
    return repr(float(value)), limit


def _per_script(cjk: np.ndarray, cjk_value, other_value) -> np.ndarray | None:
    """A per-row threshold: one for CJK rows, one for others (NaN where that one is off)."""
    if cjk_value is None and other_value is None:
        return None
    return np.where(cjk, np.nan if cjk_value is None else cjk_value, np.nan if other_value is None else other_value)


def _bound_fraction(verdicts: Verdicts, rule: str, values: np.ndarray, applies: np.ndarray, threshold) -> None:
    if threshold is not None:
        verdicts.bound(rule, values, applies, threshold, threshold / 2, maximum=True)


def _nullable(flags: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(flags, type=pa.bool_(), mask=~valid)
