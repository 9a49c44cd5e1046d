"""Applies stages to Ray Datasets: the one place that knows about ``map_batches``.

Rejected rows travel with the live ones (``reject_stage`` set) so that a single Dataset carries the
whole job and nothing can be lost between stages; a stage only ever sees live rows.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from sftforge.jobs.faults import maybe_lose_row
from sftforge.jobs.stats import record, work_key
from sftforge.operators import schema
from sftforge.operators.base import ACTOR_BATCH_ROWS, Resources, Stage


def run_stage_on_batch(stage: Stage, batch: pa.Table, stats_actor: str | None = None) -> pa.Table:
    """Calls ``stage`` on the live rows of ``batch`` and returns every row, rejected ones marked.

    The output schema is the input schema plus the stage's ``adds``, in that order, on every batch, so
    that blocks stay concatenable.
    """
    if schema.REJECT_STAGE in batch.column_names:
        live_mask = pc.is_null(batch.column(schema.REJECT_STAGE))
        live, dead = batch.filter(live_mask), batch.filter(pc.invert(live_mask))
    else:
        live, dead = batch, batch.slice(0, 0)
    result = stage(live)
    rejected = result.rejected
    stage_column = pa.array([stage.name] * rejected.num_rows, type=pa.string())
    if schema.REJECT_STAGE in rejected.column_names:
        rejected = rejected.set_column(
            rejected.column_names.index(schema.REJECT_STAGE), schema.REJECT_STAGE, stage_column
        )
    else:
        rejected = rejected.append_column(schema.REJECT_STAGE, stage_column)
    if stats_actor:
        record(
            stage.name,
            {"in": live.num_rows, "kept": result.kept.num_rows, "rejected": rejected.num_rows},
            stats_actor,
            key=batch_key(stage.name, live),
        )
    target = _output_schema(batch.schema, stage)
    kept = maybe_lose_row(stage.name, result.kept)  # a test-only fault (jobs.faults); unset, a no-op
    parts = [schema.conform(part, target) for part in (kept, rejected, dead) if part.num_rows]
    if not parts:
        return target.empty_table()
    return pa.concat_tables(parts)


def batch_key(stage_name: str, live: pa.Table) -> str:
    """Identity of a batch's work: the stage and the ids of the rows it saw (a retry sees the same ones)."""
    if schema.DOC_ID in live.column_names:
        ids = live.column(schema.DOC_ID).to_pylist()
    else:
        ids = [live.num_rows, live.nbytes]
    return work_key(stage_name, *ids)


def _output_schema(input_schema: pa.Schema, stage: Stage) -> pa.Schema:
    fields = list(input_schema)
    names = set(input_schema.names)
    for column, type_ in stage.adds.items():
        if column not in names:
            fields.append(pa.field(column, type_))
    for column in (schema.REJECT_STAGE, schema.REJECT_REASON):
        if column not in names:
            fields.append(pa.field(column, pa.string()))
    return pa.schema(fields)



#: Ray's retry options, set on purpose rather than inherited. A task whose worker died (OOM kill,
#: preempted node, ``kill -9``) is run again up to this many times; an exception raised by our own code
#: is never retried (it would fail the same way), and ``DataContext.max_errored_blocks`` stays 0 so no
#: failed block is ever skipped (see ``jobs.ray_start.init_ray``). Retries are safe because stages are
#: pure and counters are keyed by the work they count (``jobs.stats``).
TASK_RETRIES = 4
#: The same for actor pools: a killed stage actor is restarted (its model loads again) and the batch
#: it held is sent again.
ACTOR_RESTARTS = 4


def task_retry_args() -> dict:
    """Ray options of every map task of the job's main chain (read, task stages, release formatting).

    Passed as plain remote arguments: Ray Data never fuses an operator that has a ``ray_remote_args_fn``,
    and fusing consecutive stages into one task is most of a plain run's speed. (Ray 2.60 marks both
    forms deprecated; it has no other way to set them, and its warning is hidden without ``-v``.)
    On a Ray this process started, the chain also gets ``local_task_concurrency()``; every operator of
    the chain gets the same value, which Ray Data needs to fuse them.
    """
    args: dict = {"max_retries": TASK_RETRIES, "retry_exceptions": False}
    concurrency = local_task_concurrency()
    if concurrency:
        args["concurrency"] = concurrency
    return args


def local_task_concurrency() -> int | None:
    """At most one map task per CPU on a Ray this process started; None on a cluster it joined.

    A task asks for ``TASK_NUM_CPUS`` (half a CPU, so that actor pools never starve the readers), so
    Ray Data would otherwise run two tasks per CPU, each in a worker process of its own, and every
    worker process pays Ray Data's import (about 3 CPU-seconds) before its first row: on 2 CPUs that
    is 4 workers where 2 do the same work. Two tasks on one CPU gain nothing. A cluster the job joined
    may grow (an autoscaler), so there the CPUs of the moment are no limit.
    """
    import ray
    from sftforge.jobs.ray_start import started_here

    if not started_here():
        return None
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def actor_retry_args() -> dict:
    """Ray options of every stage actor."""
    return {"max_restarts": ACTOR_RESTARTS, "max_task_retries": ACTOR_RESTARTS}


class _StageActor:
    """Holds one stage per actor so that models load once per worker."""

    def __init__(self, stage: Stage, stats_actor: str | None):
        self.stage = stage
        self.stats_actor = stats_actor

    def __call__(self, batch: pa.Table) -> pa.Table:
        return run_stage_on_batch(self.stage, batch, self.stats_actor)


def _run_task(batch: pa.Table, stage: Stage, stats_actor: str | None) -> pa.Table:
    return run_stage_on_batch(stage, batch, stats_actor)


class ActorBudget:
    """Decides which actor pools start at full size: those the cluster can hold all at once.

    Ray Data grows a pool from its initial size only when work queues up behind busy actors, which on
    a small cluster it rarely sees: a pool of 1..2 model workers then runs on one. Starting every pool
    at full size is no better: the pools of one streaming job live side by side, and when idle
    actors hold every CPU the read tasks never get one (a silent deadlock on 2 cores). So pools start
    full, in pipeline order, while their CPUs fit in the cluster less ``reserve_cpus`` kept for reads
    and task stages; the rest start with one actor and may grow.

    Args:
        cpus: CPUs of the cluster.
        reserve_cpus: CPUs never given to pools at start.
    """

    def __init__(self, cpus: float, reserve_cpus: float = 1.0):
        self.left = max(0.0, cpus - reserve_cpus)

    @classmethod
    def for_cluster(cls, reserve_cpus: float = 1.0) -> ActorBudget:
        """The budget of the cluster Ray is connected to."""
        import ray

        return cls(float(ray.cluster_resources().get("CPU", 0.0)), reserve_cpus)

    def initial_actors(self, resources: Resources) -> int:
        """Returns how many actors a pool with ``resources`` starts with, and books their CPUs."""
        size = max(1, resources.max_actors)
        if size * resources.num_cpus <= self.left + 1e-9:
            self.left -= size * resources.num_cpus
            return size
        self.left = max(0.0, self.left - resources.num_cpus)
        return 1


def apply_stage(
    ds,
    stage: Stage,
    stats_actor: str | None = None,
    batch_size: int | None = None,
    budget: ActorBudget | None = None,
):
    """Returns ``ds`` with ``stage`` applied to every batch.

    Stages whose ``resources.actors`` is set run in an actor pool with fractional CPUs (see
    ``operators.base.Resources``); others run as plain tasks. With ``stats_actor`` (the name of the run's
    ``jobs.stats`` actor), every batch reports its rows in, kept and rejected. With ``budget`` (one per
    job, shared by its stages), a pool the cluster has room for starts at full size; without, at one
    actor. ``batch_size`` overrides the stage's ``resources.batch_rows`` (actor stages) or the block
    (task stages, which otherwise take whole blocks).
    """
    import ray.data

    resources = stage.resources
    batch_size = batch_size or resources.batch_rows
    if resources.actors:
        batch_size = batch_size or ACTOR_BATCH_ROWS
        size = max(1, resources.max_actors)
        initial = budget.initial_actors(resources) if budget is not None else 1
        return ds.map_batches(
            _StageActor,
            fn_constructor_args=(stage, stats_actor),
            batch_format="pyarrow",
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=size, initial_size=initial),
            num_cpus=resources.num_cpus,
            **actor_retry_args(),
        )
    # A task stage takes whole blocks unless it asks otherwise: a batch size makes Ray Data bundle the
    # blocks of the fused read (one read unit each) into one task, which would serialise the whole read.
    return ds.map_batches(
        _run_task,
        fn_kwargs={"stage": stage, "stats_actor": stats_actor},
        batch_format="pyarrow",
        batch_size=batch_size,
        num_cpus=resources.num_cpus,
        **task_retry_args(),
    )
