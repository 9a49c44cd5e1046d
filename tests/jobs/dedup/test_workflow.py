"""The distributed dedup workflow against the in-memory stages, across block layouts, and incrementally."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest
from sftforge.jobs.dedup import (
    DedupConfig,
    DedupIndexError,
    DedupSummary,
    check_index,
    dedup_report_section,
    run_dedup,
    write_dedup_index,
)
from sftforge.jobs.dedup.components import SRC, label_components, large_star, small_star
from sftforge.jobs.dedup.shuffle import view
from sftforge.operators import schema
from sftforge.operators.dedup.exact import ExactDeduplicator
from sftforge.operators.dedup.hashing import partition_of
from sftforge.operators.dedup.near import MinHashDeduplicator
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


def _local_reference(table: pa.Table, config: DedupConfig) -> set[str]:
    """Kept rows by the in-memory stages: exact, then near on the survivors."""
    live = table.filter(pa.compute.is_null(table.column(schema.REJECT_STAGE)))
    exact = ExactDeduplicator(config.exact, config.keep)(live).kept
    near = MinHashDeduplicator(config.near, config.keep)(exact.drop_columns([schema.CLUSTER_ID])).kept
    return {f"{r['doc_id']}@{r['source_row']}" for r in near.to_pylist()}


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
    assert mixed[1].select(list(KEY) + [schema.REJECT_REASON]).equals(
        one_block[1].select(list(KEY) + [schema.REJECT_REASON])
    )
    return table, config, one_block, seven_blocks


def test_same_survivors_and_clusters_for_any_block_layout_and_path(runs):
    _, _, (_, one), (_, seven) = runs
    columns = list(KEY) + [schema.REJECT_STAGE, schema.REJECT_REASON, schema.CLUSTER_ID]
    assert one.select(columns).to_pylist() == seven.select(columns).to_pylist()


def test_distributed_result_equals_the_in_memory_stages(runs):
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


def test_an_index_made_with_other_parameters_is_refused(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    config = DedupConfig()
    params = {
        "format": 1,
        "rows": 0,
        "exact": config.exact.model_dump(exclude={"enabled"}),
        "near": dict(config.near.signature_parameters(), num_perm=64),
    }
    (index / "params.json").write_text(json.dumps(params))
    with pytest.raises(DedupIndexError, match="num_perm=64 and this run uses 128"):
        check_index(str(index), config)
    check_index(
        str(index), config.model_copy(update={"near": config.near.model_copy(update={"enabled": False})})
    )
    with pytest.raises(ValueError, match="is not a dedup index"):
        DedupConfig(against=[str(tmp_path / "missing")])


def _simulated_rounds(edges: pa.Table, partitions: int) -> dict[bytes, bytes]:
    """Large-star / small-star exactly as the shuffles run them: rows split by the hash of SRC."""

    def by_partition(table: pa.Table, fn) -> pa.Table:
        parts = partition_of(view(table, SRC), partitions)
        outputs = [fn(table.filter(pa.array(parts == p))) for p in range(partitions) if (parts == p).any()]
        return pa.concat_tables(outputs)

    current = edges
    for _ in range(64):
        both = pa.concat_tables(
            [current, current.rename_columns(current.column_names[::-1]).select(current.column_names)]
        )
        large = by_partition(both, large_star)
        small = by_partition(large.select(current.column_names), small_star)
        current = small.select(edges.column_names)
        if not (np.sum(large.column(2).to_numpy()) + np.sum(small.column(2).to_numpy())):
            break
    labels = {}
    for source, target in zip(current.column(0).to_pylist(), current.column(1).to_pylist()):
        labels[source] = target
        labels[target] = target
    return labels


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_star_rounds_find_the_components_of_random_graphs(partitions):
    rng = np.random.default_rng(partitions)
    ids = np.array([rng.bytes(16) for _ in range(300)], dtype="S16")
    # A long path (many rounds), random small components and a star.
    pairs = [(ids[i], ids[i + 1]) for i in range(60)]
    pairs += [tuple(ids[rng.integers(61, 200, size=2)]) for _ in range(80)]
    pairs += [(ids[200], ids[i]) for i in range(201, 260)]
    sources = np.array([max(a, b) for a, b in pairs if a != b], dtype="S16")
    targets = np.array([min(a, b) for a, b in pairs if a != b], dtype="S16")
    expected = label_components(sources, targets)
    expected_labels = dict(zip(expected.column(0).to_pylist(), expected.column(1).to_pylist()))
    from sftforge.jobs.dedup.components import edges_table

    assert _simulated_rounds(edges_table(sources, targets), partitions) == expected_labels


def test_report_section_bins_cluster_sizes():
    summary = DedupSummary(100, 10, 5, 2, {1: 80, 2: 4, 3: 2, 7: 1}, [])
    section = dedup_report_section(summary)
    assert section["cluster_size_histogram"] == {"1": 80, "2": 4, "3-4": 2, "5-9": 1}
    assert section["rows_kept"] == 85
