"""The end-of-run reconciliation of counters and written rows."""

from __future__ import annotations

import pytest
from sftforge.jobs.accounting import AccountingError, reconcile


def test_balanced_run_reconciles():
    counters = {
        "read": {"rows": 10, "in": 10, "kept": 9, "rejected": 1},
        "clean": {"in": 9, "kept": 8, "rejected": 1},
        "augment": {"rows": 2},
    }
    result = reconcile(counters, ["read", "clean"], rows_written=10, rejected_by_stage={"read": 1, "clean": 1})
    assert result.rows_read == 10 and result.rows_generated == 2
    assert [stage.stage for stage in result.stages] == ["read", "clean"]


def test_missing_rows_fail_loudly_with_numbers():
    counters = {"read": {"rows": 10, "in": 10, "kept": 10, "rejected": 0}}
    with pytest.raises(AccountingError, match=r"10 read \+ 0 generated != 8 written \+ 0 rejected"):
        reconcile(counters, ["read"], rows_written=8, rejected_by_stage={})


def test_stage_whose_rejects_went_missing():
    counters = {"read": {"rows": 5, "in": 5, "kept": 5, "rejected": 0}, "clean": {"in": 5, "kept": 3, "rejected": 2}}
    with pytest.raises(AccountingError, match="stage clean: rejected 2 rows but rejects/ holds 1"):
        reconcile(counters, ["read", "clean"], rows_written=4, rejected_by_stage={"clean": 1})


def test_stage_that_lost_rows_inside_a_batch():
    counters = {"read": {"rows": 5, "in": 5, "kept": 5, "rejected": 0}, "clean": {"in": 5, "kept": 3, "rejected": 1}}
    with pytest.raises(AccountingError, match=r"stage clean: 5 rows in != 3 kept \+ 1 rejected"):
        reconcile(counters, ["read", "clean"], rows_written=3, rejected_by_stage={"clean": 1})
