"""The runner: rejected rows travel with live ones, schemas stay concatenable, nothing is lost."""

from __future__ import annotations

import pyarrow as pa
import pytest

from jobs.runner import apply_stage, run_stage_on_batch
from operators import schema
from operators.base import MissingColumnError, Stage, StageConfig, StageResult


class _ShortConfig(StageConfig):
    min_chars: int = 3


class _RejectShort(Stage[_ShortConfig]):
    name = "short"
    requires = (schema.DOC_ID, schema.TEXT)
    adds = {schema.LANG: pa.string()}

    def process(self, table: pa.Table) -> StageResult:
        texts = table.column(schema.TEXT).to_pylist()
        reasons = [None if len(t or "") >= self.config.min_chars else f"too short ({len(t or '')})" for t in texts]
        result = self.partition(table, reasons)
        kept = result.kept.set_column(
            result.kept.column_names.index(schema.LANG), schema.LANG,
            pa.array(["xx"] * result.kept.num_rows, pa.string()),
        )
        return StageResult(kept, result.rejected)


def _table(texts, rejected=None):
    rejected = rejected or [None] * len(texts)
    return pa.table({
        schema.DOC_ID: [f"d{i}" for i in range(len(texts))],
        schema.TEXT: texts,
        schema.REJECT_STAGE: pa.array(rejected, pa.string()),
        schema.REJECT_REASON: pa.array([None if r is None else "earlier" for r in rejected], pa.string()),
    })


def test_stage_rejects_with_reason_and_keeps_order_of_columns():
    out = run_stage_on_batch(_RejectShort(_ShortConfig()), _table(["abcd", "a", "xyz"]))
    assert out.num_rows == 3
    assert out.column_names == [schema.DOC_ID, schema.TEXT, schema.REJECT_STAGE, schema.REJECT_REASON, schema.LANG]
    rows = {row[schema.DOC_ID]: row for row in out.to_pylist()}
    assert rows["d1"][schema.REJECT_STAGE] == "short" and rows["d1"][schema.REJECT_REASON] == "too short (1)"
    assert rows["d0"][schema.LANG] == "xx" and rows["d0"][schema.REJECT_STAGE] is None


def test_already_rejected_rows_pass_through_untouched():
    out = run_stage_on_batch(_RejectShort(_ShortConfig()), _table(["a", "abcd"], rejected=["clean", None]))
    rows = {row[schema.DOC_ID]: row for row in out.to_pylist()}
    assert rows["d0"][schema.REJECT_STAGE] == "clean" and rows["d0"][schema.REJECT_REASON] == "earlier"


def test_missing_column_names_stage_and_column():
    table = pa.table({schema.DOC_ID: ["d0"]})
    with pytest.raises(MissingColumnError, match="stage 'short' requires column 'text'"):
        run_stage_on_batch(_RejectShort(_ShortConfig()), table)


def test_empty_batch_keeps_schema():
    out = run_stage_on_batch(_RejectShort(_ShortConfig()), _table([]))
    assert out.num_rows == 0 and schema.LANG in out.column_names


@pytest.mark.ray
def test_apply_stage_on_ray_counts_every_row(ray_session):
    import ray

    from jobs.stats import start_stats_actor

    handle, name = start_stats_actor("test-runner")
    texts = ["abcd" if i % 3 else "a" for i in range(300)]
    ds = ray.data.from_arrow(_table(texts)).repartition(4)
    out = apply_stage(ds, _RejectShort(_ShortConfig()), stats_actor=name, batch_size=50).to_arrow_refs()
    table = pa.concat_tables(ray.get(out))
    assert table.num_rows == 300
    counts = ray.get(handle.snapshot.remote())["short"]
    assert counts == {"in": 300, "kept": 200, "rejected": 100}
    ray.kill(handle)
