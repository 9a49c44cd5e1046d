"""Reasons print value and threshold so that a failing value never reads as equal to its threshold."""

from __future__ import annotations

import numpy as np
import pytest
from sftforge.operators.quality.verdicts import Verdicts, comparison


@pytest.mark.parametrize(
    "value, threshold, maximum, expected",
    [
        (0.1503, 0.15, True, ("0.1503", "0.15")),  # issue 18: printed "0.15>0.15" before
        (0.15000001, 0.15, True, ("0.15000001", "0.15")),
        (0.67, 0.3, True, ("0.67", "0.30")),
        (0.1499, 0.15, False, ("0.1499", "0.15")),
        (1200.0, 500.0, True, ("1200.00", "500.00")),
        (0.01, 0.0125, False, ("0.01", "0.0125")),
    ],
)
def test_comparison_never_prints_equal(value, threshold, maximum, expected):
    assert comparison(value, threshold, maximum=maximum) == expected
    shown, limit = comparison(value, threshold, maximum=maximum)
    assert (float(shown) > float(limit)) if maximum else (float(shown) < float(limit))


def test_bound_reason_uses_the_precise_value():
    verdicts = Verdicts(2)
    verdicts.bound("dup_5gram_chars", np.array([0.1504, 0.1]), np.array([True, True]), 0.15, 0.075, maximum=True)
    assert verdicts.reasons() == ["dup_5gram_chars(0.1504>0.15)", None]
