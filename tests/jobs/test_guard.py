"""The guard that keeps an empty or shrunken run from replacing a good release."""

from __future__ import annotations

import json

import pytest
from sftforge.jobs.guard import ShrinkGuardError, check_rows, previous_rows


def _release(root, release_id: str, rows: int) -> None:
    (root / release_id).mkdir(parents=True)
    (root / release_id / "manifest.json").write_text(json.dumps({"accounting": {"rows_written": rows}}))
    (root / "LATEST").write_text(release_id + "\n")


def test_empty_release_is_refused_with_both_counts(tmp_path):
    with pytest.raises(ShrinkGuardError, match="would hold 0 rows, fewer than output.min_rows=1"):
        check_rows(0, 1, None, tmp_path, "r2")
    check_rows(0, 0, None, tmp_path, "r2")  # min_rows: 0 allows an empty release


def test_shrink_past_the_limit_is_refused(tmp_path):
    _release(tmp_path, "r1", 1000)
    assert previous_rows(tmp_path) == ("r1", 1000)
    with pytest.raises(ShrinkGuardError, match="would hold 499 rows, fewer than output.max_shrink=0.5 of the 1000 "
                                               "rows of r1"):
        check_rows(499, 1, 0.5, tmp_path, "r2")
    check_rows(500, 1, 0.5, tmp_path, "r2")
    check_rows(10, 1, None, tmp_path, "r2")  # max_shrink unset: only min_rows


def test_no_previous_release_means_no_shrink_check(tmp_path):
    check_rows(3, 1, 0.9, tmp_path, "r1")
