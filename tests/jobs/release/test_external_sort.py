from __future__ import annotations

import random

import pyarrow as pa
import pytest
from sftforge.jobs.release.external_sort import ExternalSorter


def _tables(count: int, seed: int) -> list[pa.Table]:
    rng = random.Random(seed)
    keys = [
        f"{rng.randint(0, 3)}\x1f{rng.choice(['train', 'test'])}\x1f{rng.randint(0, count // 3):06x}"
        for _ in range(count)
    ]
    payload = [f"行 {i} " * rng.randint(0, 20) for i in range(count)]
    table = pa.table(
        {"key": pa.array(keys, pa.large_string()), "row": list(range(count)), "payload": payload}
    )
    tables, start = [], 0
    while start < count:
        size = rng.randint(1, 300)
        tables.append(table.slice(start, size))
        start += size
    return tables


def _sorted_rows(sorter: ExternalSorter) -> list[dict]:
    return [row for table in sorter.sorted_tables() for row in table.to_pylist()]


@pytest.mark.parametrize("memory_bytes", [1, 10_000, 1 << 30])
def test_every_row_comes_back_in_key_order(tmp_path, memory_bytes):
    tables = _tables(3000, seed=memory_bytes)
    sorter = ExternalSorter(["key"], tmp_path / "spill", memory_bytes=memory_bytes, chunk_rows=256)
    for table in tables:
        sorter.add(table)
    rows = _sorted_rows(sorter)
    keys = [row["key"] for row in rows]
    assert keys == sorted(keys)
    assert sorted(row["row"] for row in rows) == list(range(3000))
    expected = {row["row"]: row for table in tables for row in table.to_pylist()}
    assert all(expected[row["row"]] == row for row in rows)
    if memory_bytes < 1 << 30:
        assert sorter.spilled_runs > 1
        assert any((tmp_path / "spill").iterdir())
    else:
        assert sorter.spilled_runs == 0
    sorter.close()
    assert not (tmp_path / "spill").exists()


def test_spilled_and_in_memory_sorts_agree_on_keys(tmp_path):
    tables = _tables(2000, seed=5)
    results = []
    for memory_bytes in (1, 50_000, 1 << 30):
        sorter = ExternalSorter(
            ["key"], tmp_path / str(memory_bytes), memory_bytes=memory_bytes, chunk_rows=100
        )
        for table in tables:
            sorter.add(table)
        results.append([row["key"] for row in _sorted_rows(sorter)])
        sorter.close()
    assert results[0] == results[1] == results[2]


def test_nothing_added_yields_nothing(tmp_path):
    sorter = ExternalSorter(["key"], tmp_path / "spill")
    sorter.add(pa.table({"key": pa.array([], pa.large_string())}))
    assert list(sorter.sorted_tables()) == []
    sorter.close()


def test_bad_budget_is_refused(tmp_path):
    with pytest.raises(ValueError):
        ExternalSorter(["key"], tmp_path, memory_bytes=0)


def test_later_keys_break_ties_across_spilled_runs(tmp_path):
    tables = _tables(2500, seed=9)
    expected = sorted(
        (row for table in tables for row in table.to_pylist()),
        key=lambda r: (r["key"], r["payload"], r["row"]),
    )
    for memory_bytes in (1, 30_000, 1 << 30):
        sorter = ExternalSorter(
            ["key", "payload", "row"], tmp_path / str(memory_bytes), memory_bytes=memory_bytes
        )
        for table in tables:
            sorter.add(table)
        assert _sorted_rows(sorter) == expected
        sorter.close()
