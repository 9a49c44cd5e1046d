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


def test_stage_figures_come_from_the_data():
    counters = {"read": {"rows": 10}}
    result = reconcile(counters, ["read", "clean", "split"], rows_written=7, rejected_by_stage={"read": 1, "clean": 2})
    assert [(s.stage, s.rows_in, s.kept, s.rejected) for s in result.stages] == [
        ("read", 10, 9, 1), ("clean", 9, 7, 2), ("split", 7, 7, 0),
    ]


def test_a_stage_counter_that_counted_a_retried_batch_twice_is_not_a_loss():
    # A killed worker's batch reported once before dying and once on retry; the data is whole.
    counters = {"read": {"rows": 5}, "clean": {"in": 10, "kept": 6, "rejected": 4}}
    result = reconcile(counters, ["read", "clean"], rows_written=3, rejected_by_stage={"clean": 2})
    assert result.stages[1].rejected == 2


def test_lost_rows_name_the_stage_reports():
    counters = {"read": {"rows": 5}, "clean": {"in": 5, "kept": 3, "rejected": 2}}
    with pytest.raises(AccountingError, match=r"(?s)difference 1.*stage clean reported 5 in, 3 kept, 2 rejected; "
                                              r"rejects/ holds 1"):
        reconcile(counters, ["read", "clean"], rows_written=3, rejected_by_stage={"clean": 1})


def test_rejects_of_a_stage_that_did_not_run():
    with pytest.raises(AccountingError, match="2 rows of stage 'judge', which did not run"):
        reconcile({"read": {"rows": 4}}, ["read", "clean"], rows_written=2, rejected_by_stage={"judge": 2})


def test_writer_rejects_are_a_stage():
    result = reconcile({"read": {"rows": 4}}, ["read"], rows_written=3, rejected_by_stage={"write": 1})
    assert [s.stage for s in result.stages] == ["read", "write"]
