from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa
import pytest
from pydantic import ValidationError
from sftforge.operators import schema
from sftforge.operators.split.splitter import SplitConfig, Splitter, unit_interval_position


def _table(doc_ids, cluster_ids=None, parent_ids=None):
    columns = {schema.DOC_ID: pa.array(doc_ids, type=pa.string())}
    if parent_ids is not None:
        columns[schema.PARENT_ID] = pa.array(parent_ids, type=pa.string())
    if cluster_ids is not None:
        columns[schema.CLUSTER_ID] = pa.array(cluster_ids, type=pa.string())
    return pa.table(columns)


def _assign(splitter, table):
    result = splitter(table)
    assert result.rejected.num_rows == 0
    return dict(
        zip(result.kept.column(schema.DOC_ID).to_pylist(), result.kept.column(schema.SPLIT).to_pylist())
    )


def test_same_row_same_split_whatever_the_batch_layout_and_order():
    splitter = Splitter(SplitConfig())
    ids = [f"doc-{i}" for i in range(2000)]
    whole = _assign(splitter, _table(ids))

    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    pieces = {}
    for start in range(0, len(shuffled), 37):
        pieces.update(_assign(Splitter(SplitConfig()), _table(shuffled[start : start + 37])))
    single_rows = {doc_id: _assign(splitter, _table([doc_id]))[doc_id] for doc_id in ids[:200]}

    assert pieces == whole
    assert all(whole[doc_id] == split for doc_id, split in single_rows.items())


def test_rows_of_one_cluster_share_a_split_whatever_the_cluster_size():
    splitter = Splitter(SplitConfig(ratios={"train": 0.5, "test": 0.5}))
    doc_ids, cluster_ids = [], []
    for cluster in range(300):
        for member in range(1 + cluster % 6):
            doc_ids.append(f"c{cluster}-m{member}")
            cluster_ids.append(f"cluster-{cluster}")
    assigned = _assign(splitter, _table(doc_ids, cluster_ids))

    by_cluster = {}
    for doc_id, cluster_id in zip(doc_ids, cluster_ids):
        by_cluster.setdefault(cluster_id, set()).add(assigned[doc_id])
    assert all(len(splits) == 1 for splits in by_cluster.values())
    # Without the cluster id, the same rows would straddle splits: the test can fail.
    unclustered = _assign(splitter, _table(doc_ids))
    assert any(unclustered[f"c{c}-m0"] != unclustered[f"c{c}-m1"] for c in range(1, 300) if c % 6)


def test_cluster_survivor_lands_where_it_would_without_dedup():
    splitter = Splitter(SplitConfig())
    ids = [f"doc-{i}" for i in range(500)]
    alone = _assign(splitter, _table(ids))
    as_own_cluster = _assign(splitter, _table(ids, cluster_ids=ids))
    assert alone == as_own_cluster


def test_null_cluster_falls_back_to_parent_then_doc_id():
    splitter = Splitter(SplitConfig(ratios={"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}))
    parents = [f"parent-{i}" for i in range(200)]
    children = _assign(splitter, _table([f"child-{i}" for i in range(200)], [None] * 200, parents))
    parent_splits = _assign(splitter, _table(parents))
    assert [children[f"child-{i}"] for i in range(200)] == [parent_splits[p] for p in parents]

    mixed = _assign(splitter, _table(["x", "y"], cluster_ids=[None, "cluster-9"]))
    assert mixed["x"] == _assign(splitter, _table(["x"]))["x"]
    assert mixed["y"] == _assign(splitter, _table(["cluster-9"]))["cluster-9"]


def test_default_ratios_hold_on_ten_thousand_rows():
    splitter = Splitter(SplitConfig())
    counts = Counter(_assign(splitter, _table([f"row-{i}" for i in range(10_000)])).values())
    assert set(counts) == {"train", "validation", "test"}
    # Binomial standard deviation is about 30 rows for 0.9 and 22 for 0.05; allow 5 of them.
    assert abs(counts["train"] - 9000) < 150
    assert abs(counts["validation"] - 500) < 110
    assert abs(counts["test"] - 500) < 110


def test_seventy_thirty_train_test():
    config = SplitConfig(ratios={"train": 0.7, "test": 0.3})
    counts = Counter(_assign(Splitter(config), _table([f"q{i}" for i in range(10_000)])).values())
    assert set(counts) == {"train", "test"}
    assert abs(counts["train"] / 10_000 - 0.7) < 0.025


def test_seed_changes_the_assignment():
    ids = [f"doc-{i}" for i in range(1000)]
    first = _assign(Splitter(SplitConfig(ratios={"train": 0.5, "test": 0.5})), _table(ids))
    second = _assign(Splitter(SplitConfig(ratios={"train": 0.5, "test": 0.5}, seed="other")), _table(ids))
    assert first != second


def test_zero_ratio_split_gets_no_rows_and_order_decides_the_cut():
    config = SplitConfig(ratios={"train": 0.8, "validation": 0.0, "test": 0.2})
    counts = Counter(_assign(Splitter(config), _table([f"r{i}" for i in range(3000)])).values())
    assert "validation" not in counts
    splitter = Splitter(config)
    for i in range(300):
        position = unit_interval_position(config.seed, f"r{i}")
        assert splitter.split_of(f"r{i}") == ("train" if position < 0.8 else "test")


def test_existing_split_column_is_replaced_and_other_columns_kept():
    table = _table(["a", "b"]).append_column(schema.SPLIT, pa.array([None, "old"], type=pa.string()))
    table = table.append_column("extra", pa.array([1, 2]))
    result = Splitter(SplitConfig(ratios={"only": 1.0}))(table)
    assert result.kept.column(schema.SPLIT).to_pylist() == ["only", "only"]
    assert result.kept.column("extra").to_pylist() == [1, 2]


def test_empty_batch():
    result = Splitter(SplitConfig())(_table([]))
    assert result.kept.num_rows == 0
    assert schema.SPLIT in result.kept.column_names


def test_ratios_that_do_not_sum_to_one_name_the_key_and_the_sum():
    with pytest.raises(ValidationError) as error:
        SplitConfig(ratios={"train": 0.7, "test": 0.2})
    message = str(error.value)
    assert "split.ratios" in message
    assert "0.9" in message


@pytest.mark.parametrize(
    "ratios",
    [
        {"train": 1.5, "test": -0.5},
        {"../escape": 1.0},
        {"rejects": 1.0},
        {"train": float("nan")},
        {},
    ],
)
def test_bad_ratios_are_refused(ratios):
    with pytest.raises(ValidationError):
        SplitConfig(ratios=ratios)


def test_config_is_frozen_and_strict():
    with pytest.raises(ValidationError):
        SplitConfig(ratio={"train": 1.0})
    config = SplitConfig()
    with pytest.raises(ValidationError):
        config.seed = "x"


def test_the_whole_array_assignment_is_split_of_row_by_row():
    config = SplitConfig(ratios={"train": 0.7, "empty": 0.0, "validation": 0.2, "test": 0.1}, seed="s☃")
    splitter = Splitter(config)
    keys = [f"key-{i}" for i in range(3000)] + ["黄河", "", "a\x00b", "é" * 40]
    table = pa.table({"doc_id": keys})
    assert splitter.process(table).kept.column("split").to_pylist() == [splitter.split_of(k) for k in keys]
    positions = splitter.positions(pa.array(keys))
    assert positions.tolist() == [unit_interval_position(config.seed, k) for k in keys]
