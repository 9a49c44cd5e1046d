"""Sorting a stream of Arrow tables by one key column within a memory budget.

Tables are buffered until the budget is reached, then sorted (Arrow, in C++) and spilled to an Arrow IPC
file; at the end the sorted runs are merged in vectorised steps. Everything that fits the budget is
sorted in memory without touching the disk.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc


class ExternalSorter:
    """Sorts every table added to it by ``keys`` (ascending, lexicographic); full ties keep no particular
    order.

    Args:
        keys: Names of the columns to sort by, most significant first (strings compare by their UTF-8
            bytes).
        spill_dir: Folder for sorted runs when the buffer overflows (created when needed, removed by
            ``close``).
        memory_bytes: Buffered bytes that trigger a spill.
        chunk_rows: Rows per chunk in spilled runs and in merge steps.
    """

    def __init__(
        self,
        keys: Sequence[str],
        spill_dir: str | Path,
        memory_bytes: int = 512 << 20,
        chunk_rows: int = 8192,
    ):
        if memory_bytes <= 0 or chunk_rows <= 0:
            raise ValueError("memory_bytes and chunk_rows must be positive")
        self.keys = tuple(keys)
        self._order = [(key, "ascending") for key in self.keys]
        self.spill_dir = Path(spill_dir)
        self.memory_bytes = memory_bytes
        self.chunk_rows = chunk_rows
        self.rows = 0
        self._buffer: list[pa.Table] = []
        self._buffered_bytes = 0
        self._runs: list[Path] = []

    @property
    def spilled_runs(self) -> int:
        return len(self._runs)

    def add(self, table: pa.Table) -> None:
        """Adds rows; spills a sorted run when the buffer holds ``memory_bytes``."""
        if table.num_rows == 0:
            return
        self._buffer.append(table)
        self._buffered_bytes += table.nbytes
        self.rows += table.num_rows
        if self._buffered_bytes >= self.memory_bytes:
            self._spill()

    def sorted_tables(self) -> Iterator[pa.Table]:
        """Yields every row added, in key order, as tables of about ``chunk_rows`` rows."""
        if not self._runs:
            table = self._take_sorted_buffer()
            for start in range(0, table.num_rows, self.chunk_rows):
                yield table.slice(start, self.chunk_rows)
            return
        if self._buffer:
            self._spill()
        yield from self._merge()

    def close(self) -> None:
        """Removes spilled runs."""
        self._buffer = []
        if self._runs:
            shutil.rmtree(self.spill_dir, ignore_errors=True)
            self._runs = []

    def _take_sorted_buffer(self) -> pa.Table:
        if not self._buffer:
            return pa.table({key: pa.array([], pa.large_string()) for key in self.keys})
        table = pa.concat_tables(self._buffer)
        self._buffer, self._buffered_bytes = [], 0
        return table.sort_by(self._order)

    def _spill(self) -> None:
        table = self._take_sorted_buffer()
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        path = self.spill_dir / f"run-{len(self._runs):05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=self.chunk_rows)
        self._runs.append(path)

    def _merge(self) -> Iterator[pa.Table]:
        readers = [pa.ipc.open_file(pa.memory_map(str(path))) for path in self._runs]
        next_batch = [0] * len(readers)
        current: list[pa.Table | None] = [None] * len(readers)

        def refill(run: int) -> None:
            while (current[run] is None or current[run].num_rows == 0) and next_batch[run] < readers[
                run
            ].num_record_batches:
                current[run] = pa.Table.from_batches([readers[run].get_batch(next_batch[run])])
                next_batch[run] += 1

        for run in range(len(readers)):
            refill(run)
        while True:
            live = [run for run in range(len(readers)) if current[run] is not None and current[run].num_rows]
            if not live:
                return
            # Rows up to the smallest "last key" of the loaded chunks cannot be preceded by anything not
            # loaded yet: take them from every run, sort them, emit them. The run that set the bound empties.
            bound = min(self._last_row(current[run]) for run in live)
            pieces = []
            for run in live:
                count = self._count_up_to(current[run], bound)
                pieces.append(current[run].slice(0, count))
                current[run] = current[run].slice(count)
                refill(run)
            yield pa.concat_tables(pieces).sort_by(self._order)

    def _last_row(self, table: pa.Table) -> tuple:
        return tuple(table.column(key)[-1].as_py() for key in self.keys)

    def _count_up_to(self, table: pa.Table, bound: tuple) -> int:
        """Rows of a sorted table whose keys are <= ``bound`` (lexicographically): a prefix of it."""
        below = pa.array([False] * table.num_rows)
        equal_so_far = pa.array([True] * table.num_rows)
        for key, value in zip(self.keys, bound):
            column = table.column(key)
            below = pc.or_(below, pc.and_(equal_so_far, pc.less(column, value)))
            equal_so_far = pc.and_(equal_so_far, pc.equal(column, value))
        return pc.sum(pc.or_(below, equal_so_far)).as_py() or 0
