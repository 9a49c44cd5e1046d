"""The runner: rejected rows travel with live ones, schemas stay concatenable, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.jobs.runner import (
    ActorBudget,
    apply_stage,
    local_task_concurrency,
    run_stage_on_batch,
    task_retry_args,
)
from sftforge.operators import schema
from sftforge.operators.base import MissingColumnError, Resources, Stage, StageConfig, StageResult


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
    from sftforge.jobs.stats import start_stats_actor

    handle, name = start_stats_actor("test-runner")
    texts = ["abcd" if i % 3 else "a" for i in range(300)]
    ds = ray.data.from_arrow(_table(texts)).repartition(4)
    out = apply_stage(ds, _RejectShort(_ShortConfig()), stats_actor=name, batch_size=50).to_arrow_refs()
    table = pa.concat_tables(ray.get(out))
    assert table.num_rows == 300
    counts = ray.get(handle.snapshot.remote())["short"]
    assert counts == {"in": 300, "kept": 200, "rejected": 100}
    ray.kill(handle)


def test_actor_budget_starts_pools_full_while_they_fit_and_keeps_a_cpu_for_reads():
    budget = ActorBudget(cpus=2.0)  # one CPU for pools, one kept for read tasks
    language = Resources(num_cpus=0.5, actors=True, max_actors=2)
    quality = Resources(num_cpus=0.5, actors=True, max_actors=2)
    assert budget.initial_actors(language) == 2
    assert budget.initial_actors(quality) == 1  # 1.0 CPU would leave the reads nothing
    assert budget.left == 0.0


def test_actor_budget_on_a_large_cluster_starts_every_pool_full():
    budget = ActorBudget(cpus=64.0)
    sizes = [budget.initial_actors(Resources(num_cpus=1.0, actors=True, max_actors=8)) for _ in range(3)]
    assert sizes == [8, 8, 8] and budget.left == pytest.approx(39.0)


def test_actor_budget_too_small_for_one_full_pool_starts_one_actor():
    assert ActorBudget(cpus=1.0).initial_actors(Resources(num_cpus=0.5, actors=True, max_actors=2)) == 1


class _PidConfig(StageConfig):
    folder: str


class _RecordPid(Stage[_PidConfig]):
    """Marks each worker that loads it, as a model stage would load its model."""

    name = "pid"
    requires = (schema.DOC_ID,)

    def __init__(self, config: _PidConfig):
        super().__init__(config)
        self.resources = Resources(num_cpus=0.5, actors=True, max_actors=2)

    def setup(self) -> None:
        import os

        Path(self.config.folder, str(os.getpid())).touch()

    def process(self, table: pa.Table) -> StageResult:
        import time

        time.sleep(0.05)  # long enough that a second worker, once started, is handed batches
        return self.partition(table, [None] * table.num_rows)


@pytest.mark.ray
@pytest.mark.parametrize(("budget", "workers"), [(None, {1, 2}), (2.0, {2})])
def test_apply_stage_pool_starts_with_the_actors_the_budget_allows(ray_session, tmp_path, budget, workers):
    import ray

    ds = ray.data.from_arrow(_table([f"text {i}" for i in range(4000)])).repartition(40)
    stage = _RecordPid(_PidConfig(folder=str(tmp_path)))
    out = apply_stage(ds, stage, batch_size=100, budget=None if budget is None else ActorBudget(budget))
    assert out.count() == 4000
    # Without a budget the pool starts with one worker (Ray may grow it); with room for both, both
    # start at once and share the batches.
    assert len(list(tmp_path.iterdir())) in workers


class _BatchSizeConfig(StageConfig):
    folder: str
    batch_rows: int


class _RecordBatchSize(Stage[_BatchSizeConfig]):
    """Writes the size of every batch it is called on."""

    name = "sizes"
    requires = (schema.DOC_ID,)

    def __init__(self, config: _BatchSizeConfig):
        super().__init__(config)
        self.resources = Resources(num_cpus=0.5, batch_rows=config.batch_rows)

    def process(self, table: pa.Table) -> StageResult:
        import uuid

        Path(self.config.folder, f"{table.num_rows}-{uuid.uuid4().hex}").touch()
        return self.partition(table, [None] * table.num_rows)


@pytest.mark.ray
def test_apply_stage_feeds_a_stage_batches_of_its_own_size(ray_session, tmp_path):
    import ray

    ds = ray.data.from_arrow(_table([f"text {i}" for i in range(1000)])).repartition(4)
    out = apply_stage(ds, _RecordBatchSize(_BatchSizeConfig(folder=str(tmp_path), batch_rows=120)))
    assert out.count() == 1000
    sizes = sorted(int(path.name.split("-")[0]) for path in tmp_path.iterdir())
    assert sum(sizes) == 1000 and max(sizes) == 120 and sizes.count(120) >= 6


def test_map_tasks_run_one_per_cpu_on_a_ray_this_process_started(ray_session):
    # Two half-CPU tasks per CPU would each need a worker process of their own, and gain nothing.
    assert local_task_concurrency() == 2
    assert task_retry_args()["concurrency"] == 2
