"""The stage contract: a typed config, a call on a ``pyarrow.Table``, kept rows and rejected rows.

A stage never sees rows that an earlier stage rejected; the runner in ``jobs/`` strips them before the
call and puts them back after. A stage is pure: it can be built and called in a unit test with a small
``pa.table({...})`` and no Ray.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict
from sftforge.operators import schema


class StageConfig(BaseModel):
    """Base of every stage's config: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


#: CPUs per task of a task-based stage (reading, cleaning, splitting, formatting included). One shared
#: value is what lets Ray Data fuse consecutive stages into one task per block (no object-store hop, no
#: extra worker process between them); a fraction, so that actor pools never starve the readers.
TASK_NUM_CPUS = 0.5


#: Rows per call of an actor stage that does not say.
ACTOR_BATCH_ROWS = 1024


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs.

    Attributes:
        num_cpus: CPUs reserved per task or actor. Fractional values keep actor pools from taking
            every core, which deadlocks Ray Data on small machines (the read task never gets a CPU).
            Task stages keep the default (``TASK_NUM_CPUS``) so that Ray Data fuses them.
        actors: Whether the stage runs in an actor pool (it loads a model or a client once per worker).
        max_actors: Upper bound on the actor pool size.
        batch_rows: Rows per call. Ray Data costs a fixed few tens of milliseconds per batch on a busy
            small cluster, so a stage that spends microseconds per row wants large batches; one that
            spends seconds per row (an LLM call) wants batches small enough to spread over its workers.
            None: a task stage takes whole blocks (so it fuses with the read without bundling its
            blocks into one task), an actor stage ``ACTOR_BATCH_ROWS``.
    """

    num_cpus: float = TASK_NUM_CPUS
    actors: bool = False
    max_actors: int = 1
    batch_rows: int | None = None


class StageError(Exception):
    """A stage cannot run on the data it was given."""


class MissingColumnError(StageError):
    """A stage was called on a table without a column it requires."""

    def __init__(self, stage: str, column: str, available: Sequence[str]):
        self.stage = stage
        self.column = column
        super().__init__(
            f"stage '{stage}' requires column '{column}', which the table does not have "
            f"(columns: {', '.join(available)})"
        )


@dataclass(frozen=True)
class StageResult:
    """What a stage returns for one batch.

    Attributes:
        kept: Rows that go on, with the stage's added columns.
        rejected: Rows the stage dropped, with ``reject_reason`` set on each.
    """

    kept: pa.Table
    rejected: pa.Table

    @property
    def num_rows(self) -> int:
        return self.kept.num_rows + self.rejected.num_rows


C = TypeVar("C", bound=StageConfig)


class Stage(ABC, Generic[C]):
    """One pipeline step applied to a batch.

    Subclasses set ``name`` (used in ``reject_stage`` and the manifest), ``requires`` (columns read) and
    ``adds`` (columns written, with their types), and implement ``process``. A stage that loads a model
    does it in ``setup``, which the runner calls once per worker before the first batch.
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = (schema.DOC_ID,)
    adds: ClassVar[dict[str, pa.DataType]] = {}
    resources: ClassVar[Resources] = Resources()

    def __init__(self, config: C):
        self.config = config
        self._ready = False

    def setup(self) -> None:
        """Loads what the stage needs once per worker (models, clients)."""

    @abstractmethod
    def process(self, table: pa.Table) -> StageResult:
        """Splits a batch of live rows into kept and rejected rows."""

    def check_columns(self, table: pa.Table) -> None:
        """Raises MissingColumnError naming the stage and the first missing column."""
        for column in self.requires:
            if column not in table.column_names:
                raise MissingColumnError(self.name, column, table.column_names)

    def __call__(self, table: pa.Table) -> StageResult:
        self.check_columns(table)
        if not self._ready:
            self.setup()
            self._ready = True
        if table.num_rows == 0:
            empty = self.with_added_columns(table)
            return StageResult(kept=empty, rejected=with_reasons(empty, []))
        result = self.process(table)
        if result.num_rows != table.num_rows:
            raise StageError(
                f"stage '{self.name}' returned {result.num_rows} rows for a batch of {table.num_rows}"
            )
        return result

    def with_added_columns(self, table: pa.Table) -> pa.Table:
        """Appends any declared ``adds`` column the table lacks, as nulls."""
        for column, type_ in self.adds.items():
            if column not in table.column_names:
                table = table.append_column(pa.field(column, type_), pa.nulls(table.num_rows, type_))
        return table

    def partition(self, table: pa.Table, reasons: Sequence[str | None]) -> StageResult:
        """Splits ``table`` by per-row reasons: ``None`` keeps the row, a string rejects it."""
        table = self.with_added_columns(table)
        keep = pa.array([reason is None for reason in reasons], type=pa.bool_())
        kept = table.filter(keep)
        rejected_reasons = [reason for reason in reasons if reason is not None]
        rejected = with_reasons(table.filter(pc.invert(keep)), rejected_reasons)
        return StageResult(kept=kept, rejected=rejected)


def with_reasons(table: pa.Table, reasons: Sequence[str]) -> pa.Table:
    """Sets ``reject_reason`` on every row of ``table`` (one reason per row)."""
    column = pa.array(list(reasons), type=pa.string())
    if schema.REJECT_REASON in table.column_names:
        index = table.column_names.index(schema.REJECT_REASON)
        return table.set_column(index, schema.REJECT_REASON, column)
    return table.append_column(schema.REJECT_REASON, column)
