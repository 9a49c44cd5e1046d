"""The distributed dedup workflow against a plain in-memory reference, across block layouts, and incrementally."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest
from sftforge.jobs.dedup import DedupConfig, dedup_report_section, run_dedup, write_dedup_index
from sftforge.operators import schema
from sftforge.operators.dedup.exact import dedup_texts, exact_hashes
from sftforge.operators.dedup.hashing import fixed_binary_view
from sftforge.operators.dedup.near import candidate_pairs, memberships, text_signatures, verify_pairs
from sftforge.operators.dedup.survivor import (
    group_survivors,
    node_ids,
    rank_positions,
    rank_table,
    text_lengths,
)
from sftforge.operators.split.splitter import SplitConfig, Splitter

from tests.support.words import random_text as _text

ZH = (
    "北京时间昨天晚上，国家航天局宣布新一代运载火箭在文昌发射场成功完成首次飞行试验，"
    "这标志着我国在重型运载能力方面迈出了关键一步。专家表示，这次试验验证了多项新技术，"
    "包括新型发动机、轻量化箭体结构以及智能化测试发射控制系统，为后续载人登月任务打下了基础。"
)
KEY = ("doc_id", "source_file", "source_row")


def _replace(text: str, *positions: int) -> str:
    words = text.split()
    for position in positions:
        words[position] = f"EDIT{position}"
    return " ".join(words)


def _corpus(prefix: str = "", seed: int = 0) -> list[tuple[str, str]]:
    """(doc_id, text): unique English docs, exact and near duplicates in English and Chinese, a chain, and a
    row whose exact duplicate is itself a near duplicate of a longer row."""
    rows = [(f"{prefix}u{i}", _text(seed * 1000 + i)) for i in range(30)]
    rows += [(f"{prefix}x{i}", rows[i][1].upper().replace(" ", "  ") + "!") for i in range(4)]
    rows += [(f"{prefix}n{i}", _replace(rows[5 + i][1], 60)) for i in range(4)]
    a = _text(seed * 1000 + 500, 100)
    b = _replace(a, 20, 21, 22)
    c = _replace(b, 70, 71, 72)
    rows += [(f"{prefix}chain-a", a + " tail words"), (f"{prefix}chain-b", b), (f"{prefix}chain-c", c)]
    rows += [
        (f"{prefix}zh", ZH),
        (f"{prefix}zh-near", ZH.replace("关键一步", "重要一步")),
        (f"{prefix}zh-exact", ZH.replace("，", ", ")),
    ]
    base = _text(seed * 1000 + 700)
    rows += [
        (f"{prefix}r-mid", base + " !!"),
        (f"{prefix}r-exact", base),
        (f"{prefix}r-long", _replace(base, 100) + " and a longer ending"),
    ]
    return rows


def _table(rows, rejected=()) -> pa.Table:
    doc_ids = [doc_id for doc_id, _ in rows]
    texts = [text for _, text in rows]
    count = len(rows)
    stages = [None] * count + ["language"] * len(rejected)
    reasons = [None] * count + ["language: de (0.99) not in [en, zh]"] * len(rejected)
    doc_ids += [doc_id for doc_id, _ in rejected]
    texts += [text for _, text in rejected]
    total = len(doc_ids)
    return pa.table(
        {
            schema.DOC_ID: doc_ids,
            schema.KIND: [schema.KIND_DOCUMENT] * total,
            schema.SOURCE_FILE: ["corpus.jsonl"] * total,
            schema.SOURCE_ROW: list(range(total)),
            schema.TEXT: texts,
            schema.REJECT_STAGE: pa.array(stages, type=pa.string()),
            schema.REJECT_REASON: pa.array(reasons, type=pa.string()),
        }
    )


def _input_table() -> pa.Table:
    rows = _corpus()
    # Same content and content-hash id as u29, another source row: still two rows, one of them kept.
    rows.append(("u29", rows[29][1]))
    rejected = [("gone-1", rows[1][1]), ("gone-2", "Ein ganz anderer deutscher Text.")]
    return _table(rows, rejected)


def _run(ray, table: pa.Table, blocks: int, config: DedupConfig, against=None):
    ds = ray.data.from_arrow(table).repartition(blocks)
    run = run_dedup(ds, config, against=against)
    out = pa.concat_tables(ray.get(run.dataset.to_arrow_refs()))
    return run, out.sort_by([(name, "ascending") for name in KEY])


def _labels(count: int, pairs: np.ndarray) -> np.ndarray:
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for a, b in pairs.tolist():
        parent[max(root(a), root(b))] = min(root(a), root(b))
    return np.array([root(node) for node in range(count)])


def _local_reference(table: pa.Table, config: DedupConfig) -> set[str]:
    """Kept rows by a plain reference built from the pure functions: exact groups, then near clusters
    (union-find, no shuffle, no star rounds) among the exact survivors."""
    live = schema.live_rows(table)
    positions = rank_positions(rank_table(live, text_lengths(dedup_texts(live, "all"))), config.keep)
    hashes = fixed_binary_view(exact_hashes(dedup_texts(live, config.exact.key), config.exact))
    alive = np.flatnonzero(group_survivors(hashes, positions) == np.arange(live.num_rows))
    rows = live.take(pa.array(alive))
    signatures = text_signatures(dedup_texts(rows, config.near.key), config.near)
    nodes = fixed_binary_view(node_ids(rows))
    pairs = candidate_pairs(*memberships(signatures, config.near), nodes, config.near)
    pairs, _ = verify_pairs(signatures, pairs, config.near)
    best = group_survivors(_labels(rows.num_rows, pairs), positions[alive])
    kept = rows.filter(pa.array(best == np.arange(rows.num_rows)))
    return {f"{r['doc_id']}@{r['source_row']}" for r in kept.to_pylist()}


@pytest.fixture(scope="module")
def runs(ray_session):
    table = _input_table()
    config = DedupConfig(keep="longest")
    one_block = _run(ray_session, table, 1, config)
    # Many blocks and every shuffle: no step in one task, components by distributed rounds, decisions
    # joined back by a shuffle instead of a broadcast.
    forced = config.model_copy(update={"single_task_rows": 0, "broadcast_rows": 0})
    seven_blocks = _run(ray_session, table, 7, forced)
    # Shuffles for the exact step and the buckets, broadcasts for the small joins, clusters in one task.
    mixed = _run(ray_session, table, 4, config.model_copy(update={"single_task_rows": 40}))
    assert (
        mixed[1]
        .select(list(KEY) + [schema.REJECT_REASON])
        .equals(one_block[1].select(list(KEY) + [schema.REJECT_REASON]))
    )
    return table, config, one_block, seven_blocks


def test_same_survivors_and_clusters_for_any_block_layout_and_path(runs):
    _, _, (_, one), (_, seven) = runs
    columns = list(KEY) + [schema.REJECT_STAGE, schema.REJECT_REASON, schema.CLUSTER_ID]
    assert one.select(columns).to_pylist() == seven.select(columns).to_pylist()


def test_distributed_result_equals_the_plain_reference(runs):
    table, config, (_, out), _ = runs
    kept = {f"{r['doc_id']}@{r['source_row']}" for r in out.to_pylist() if r[schema.REJECT_STAGE] is None}
    assert kept == _local_reference(table, config)


def test_expected_duplicates_are_removed(runs):
    _, _, (_, out), _ = runs
    stage = {r["doc_id"]: r[schema.REJECT_STAGE] for r in out.to_pylist() if r["doc_id"] != "u29"}
    for i in range(4):
        # x{i} is u{i} in capitals with a "!": longer, so it is the one kept.
        assert (stage[f"u{i}"], stage[f"x{i}"]) == ("dedup.exact", None)
    for i in range(4):
        assert sorted([stage[f"n{i}"] or "", stage[f"u{5 + i}"] or ""]) == ["", "dedup.near"]
    # zh-exact is zh with ", " for "，": longer, kept; zh-near is a near duplicate of both.
    assert (stage["zh-exact"], stage["zh"], stage["zh-near"]) == (None, "dedup.exact", "dedup.near")
    # The chain is one cluster around its longest row.
    assert stage["chain-a"] is None and stage["chain-b"] == stage["chain-c"] == "dedup.near"
    rows = {r["doc_id"]: r for r in out.to_pylist() if r["doc_id"] != "u29"}
    assert rows["chain-c"][schema.CLUSTER_ID] == "chain-a"
    assert "linked to it through other near duplicates" in rows["chain-c"][schema.REJECT_REASON]
    # r-exact duplicates r-mid, which r-long then removed: the reason and cluster point at r-long.
    assert (stage["r-long"], stage["r-mid"], stage["r-exact"]) == (None, "dedup.near", "dedup.exact")
    assert rows["r-exact"][schema.CLUSTER_ID] == "r-long"
    assert re.search(
        r"exact duplicate of doc_id r-mid .*removed in turn as a near duplicate of kept doc_id r-long",
        rows["r-exact"][schema.REJECT_REASON],
    )
    twins = [r for r in out.to_pylist() if r["doc_id"] == "u29"]
    assert sorted(r[schema.REJECT_STAGE] or "" for r in twins) == ["", "dedup.exact"]
    assert "kept doc_id u29 at corpus.jsonl:29" in "".join(r[schema.REJECT_REASON] or "" for r in twins)


def test_accounting_and_untouched_rejected_rows(runs):
    table, _, (run, out), _ = runs
    assert out.num_rows == table.num_rows
    before = {(r["doc_id"], r["source_row"]): r for r in table.to_pylist()}
    kept_ids = {r["doc_id"] for r in out.to_pylist() if r[schema.REJECT_STAGE] is None}
    exact = near = 0
    for row in out.to_pylist():
        original = before.pop((row["doc_id"], row["source_row"]))
        if original[schema.REJECT_STAGE] is not None:
            assert {k: row[k] for k in original} == original and row[schema.CLUSTER_ID] is None
        elif row[schema.REJECT_STAGE] is None:
            assert row[schema.CLUSTER_ID] == row["doc_id"]
        else:
            exact += row[schema.REJECT_STAGE] == "dedup.exact"
            near += row[schema.REJECT_STAGE] == "dedup.near"
            assert row[schema.CLUSTER_ID] in kept_ids
            assert f"kept doc_id {row[schema.CLUSTER_ID]}" in row[schema.REJECT_REASON]
            assert re.search(r"(similarity|estimated Jaccard) [01]\.\d\d", row[schema.REJECT_REASON])
    assert not before
    summary = run.summary()
    assert (summary.exact_removed, summary.near_removed) == (exact, near)
    assert summary.rows_in == table.num_rows - 2
    assert sum(size * count for size, count in summary.cluster_sizes.items()) == summary.rows_in
    section = dedup_report_section(summary)
    assert section["rows_kept"] == len([r for r in out.to_pylist() if r[schema.REJECT_STAGE] is None])
    assert section["examples"] and all(e["kept_text"] and e["removed_text"] for e in section["examples"])


def test_split_keeps_each_cluster_on_one_side(runs):
    _, _, (_, out), _ = runs
    rows = out.drop_columns([schema.REJECT_STAGE, schema.REJECT_REASON])
    rows = rows.filter(pa.compute.is_valid(rows.column(schema.CLUSTER_ID)))
    splits = Splitter(SplitConfig(ratios={"train": 0.5, "test": 0.5}))(rows).kept
    by_cluster: dict[str, set[str]] = {}
    for row in splits.to_pylist():
        by_cluster.setdefault(row[schema.CLUSTER_ID], set()).add(row[schema.SPLIT])
    assert all(len(sides) == 1 for sides in by_cluster.values())
    assert len({side for sides in by_cluster.values() for side in sides}) == 2


def test_incremental_dedup_against_an_earlier_index(ray_session, tmp_path):
    config = DedupConfig(keep="longest")
    first_rows = _corpus("old-", seed=1)
    first_run, _ = _run(ray_session, _table(first_rows), 3, config)
    index = str(tmp_path / "release-1" / "dedup_index")
    first_run.write_index(index)
    params = json.loads((tmp_path / "release-1" / "dedup_index" / "params.json").read_text())
    assert params["rows"] == first_run.rows_in - first_run.num_decisions

    fresh = [(f"new-{i}", _text(9000 + i)) for i in range(5)]
    repeats = [
        ("again-exact", first_rows[0][1].upper()),
        ("again-near", _replace(first_rows[1][1], 50)),
        ("again-dropped", first_rows[30][1]),  # an exact duplicate the first run dropped
    ]
    twice = [("twice-a", _text(9100)), ("twice-b", _text(9100) + "!")]
    run, out = _run(ray_session, _table(fresh + repeats + twice), 2, config, against=[index])
    rows = {r["doc_id"]: r for r in out.to_pylist()}
    for doc_id in ("again-exact", "again-near", "again-dropped"):
        assert rows[doc_id][schema.REJECT_STAGE] in ("dedup.exact", "dedup.near"), doc_id
        assert f"kept in an earlier release (dedup index {index})" in rows[doc_id][schema.REJECT_REASON]
        assert rows[doc_id][schema.CLUSTER_ID].startswith("old-")
    assert all(rows[f"new-{i}"][schema.REJECT_STAGE] is None for i in range(5))
    assert [rows["twice-a"][schema.REJECT_STAGE], rows["twice-b"][schema.REJECT_STAGE]].count(None) == 1
    assert run.summary().removed_against_earlier == 3

    # The same index written from a Dataset of released rows compares the same way.
    released = ray_session.data.from_arrow(_table(first_rows))
    rebuilt = str(tmp_path / "rebuilt")
    write_dedup_index(released, rebuilt, config)
    assert json.loads((tmp_path / "rebuilt" / "params.json").read_text())["rows"] == len(first_rows)
