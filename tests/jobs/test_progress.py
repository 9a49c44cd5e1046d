"""Progress lines: the wording of the live LLM line and of rates."""

from __future__ import annotations

import logging

from sftforge.jobs.progress import LLMProgress, ledger_line, rate


def test_rate_and_ledger_line():
    assert rate(1000, 2.0) == "1,000 rows in 2.0 s (500 rows/s)"
    line = ledger_line({"calls": 12, "answered": 10, "dead_lettered": 2, "requests": 14, "retries": 2,
                        "prompt_tokens": 900, "completion_tokens": 100, "cache_hits": 3}, 10.0)
    assert line == ("LLM: 12 calls done (10 answered, 2 failed), 14 requests, 2 retries, 100 tokens/s, "
                    "3 cache hits")


def test_live_line_is_printed_when_the_ledger_changes(capsys):
    logging.getLogger("sftforge.progress").setLevel(logging.NOTSET)
    totals = {"total": {"calls": 1, "answered": 1}}
    progress = LLMProgress(lambda: totals, every_s=3600)
    progress.tick()
    progress.tick()  # unchanged: no second line
    totals["total"] = {"calls": 2, "answered": 2}
    progress.tick()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("sftforge: LLM: 2 calls done")


def test_live_line_gives_done_over_planned_for_a_stage_with_a_known_total(capsys):
    logging.getLogger("sftforge.progress").setLevel(logging.NOTSET)
    snapshot = {"total": {"calls": 7, "answered": 7}, "stages": {"judge": {"calls": 5}, "augment.paraphrase": {"calls": 2}}}
    progress = LLMProgress(lambda: snapshot, every_s=3600)
    progress.expect("judge", 25)
    progress.tick()
    line = capsys.readouterr().err.strip()
    assert line.startswith("sftforge: LLM: judge 5/25 calls; 7 calls done (7 answered, 0 failed)")
    assert "paraphrase" not in line  # a stage without a known total shows only in the totals
