"""The dedup section of the run report: what was removed, cluster sizes, and a few example pairs."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray
from sftforge.jobs.dedup.decisions import CLUSTER, KEPT_EARLIER, REASON, SIMILARITY, STAGE
from sftforge.jobs.dedup.shuffle import shuffle
from sftforge.operators import schema
from sftforge.operators.dedup.exact import STAGE_NAME as EXACT_STAGE
from sftforge.operators.dedup.near import STAGE_NAME as NEAR_STAGE
from sftforge.operators.dedup.survivor import NODE, node_ids

#: Lower bounds of the cluster-size histogram's bins.
HISTOGRAM_BINS = (1, 2, 3, 5, 10, 100, 1000)


@dataclass
class DedupSummary:
    """What dedup removed.

    Attributes:
        rows_in: Live rows dedup saw.
        exact_removed: Rows rejected as exact duplicates.
        near_removed: Rows rejected as near duplicates.
        removed_against_earlier: Of the removed rows, those whose kept row is in an earlier release.
        cluster_sizes: Cluster size (kept row included) -> number of clusters kept in this release;
            singletons included.
        examples: A few removed rows with their kept row: stage, similarity, reason, both texts.
    """

    rows_in: int
    exact_removed: int
    near_removed: int
    removed_against_earlier: int
    cluster_sizes: dict[int, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


def _bin_label(size: int, bins: tuple[int, ...]) -> str:
    for low, high in pairwise(bins):
        if size < high:
            return str(low) if high == low + 1 else f"{low}-{high - 1}"
    return f"{bins[-1]}+"


def dedup_report_section(summary: DedupSummary, bins: tuple[int, ...] = HISTOGRAM_BINS) -> dict[str, Any]:
    """The ``dedup`` section of the run report (plain JSON types)."""
    histogram: dict[str, int] = {}
    for size, clusters in sorted(summary.cluster_sizes.items()):
        label = _bin_label(size, bins)
        histogram[label] = histogram.get(label, 0) + clusters
    return {
        "rows_in": summary.rows_in,
        "removed_exact": summary.exact_removed,
        "removed_near": summary.near_removed,
        "removed_as_duplicates_of_earlier_releases": summary.removed_against_earlier,
        "rows_kept": summary.rows_in - summary.exact_removed - summary.near_removed,
        "cluster_size_histogram": histogram,
        "examples": summary.examples,
    }


def _decision_counts(batch: pa.Table) -> pa.Table:
    stages = batch.column(STAGE)

    def total(mask) -> int:
        return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)

    return pa.table(
        {
            "exact": [total(pc.equal(stages, EXACT_STAGE))],
            "near": [total(pc.equal(stages, NEAR_STAGE))],
            "earlier": [total(batch.column(KEPT_EARLIER))],
        }
    )


def _new_clusters(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.invert(batch.column(KEPT_EARLIER))).select([CLUSTER])


def _dropped_per_cluster(rows: pa.Table) -> pa.Table:
    # One partition holds every decision of its clusters: count them and tally the sizes.
    counts = pc.value_counts(rows.column(CLUSTER)).field("counts")
    sizes = pc.value_counts(pc.add(counts, 1))
    return pa.table({"size": sizes.field("values"), "clusters": sizes.field("counts")})


def _example_candidates(batch: pa.Table) -> pa.Table:
    near = batch.filter(pc.equal(batch.column(STAGE), NEAR_STAGE))
    return near.select([NODE, STAGE, REASON, CLUSTER, SIMILARITY])


def _example_rows(batch: pa.Table, kept_ids: list[str], removed_nodes: list[bytes]) -> pa.Table:
    live = schema.live_rows(batch)
    columns = [
        c
        for c in (schema.DOC_ID, schema.TEXT, schema.INSTRUCTION, schema.INPUT, schema.OUTPUT)
        if c in live.column_names
    ]
    nodes = node_ids(live) if live.num_rows else pa.array([], type=pa.binary(16))
    table = live.select(columns).append_column(NODE, nodes)
    kept = table.filter(pc.is_in(live.column(schema.DOC_ID), value_set=pa.array(kept_ids, type=pa.string())))
    removed = table.filter(pc.is_in(nodes, value_set=pa.array(removed_nodes, type=pa.binary(16))))
    return pa.concat_tables(
        [
            kept.append_column("role", pa.array(["kept"] * kept.num_rows, type=pa.string())),
            removed.append_column("role", pa.array(["removed"] * removed.num_rows, type=pa.string())),
        ]
    )


def _snippet(row: dict | None, chars: int) -> str | None:
    if row is None:
        return None
    parts = [row.get(name) for name in (schema.TEXT, schema.INSTRUCTION, schema.INPUT, schema.OUTPUT)]
    text = "\n".join(part for part in parts if part)
    return text if len(text) <= chars else text[:chars] + "…"


def _tally(decisions: pa.Table) -> dict[str, Any]:
    counts = _decision_counts(decisions).to_pylist()[0]
    sizes = _dropped_per_cluster(_new_clusters(decisions)) if decisions.num_rows else None
    counts["sizes"] = (
        dict(zip(sizes.column("size").to_pylist(), sizes.column("clusters").to_pylist())) if sizes else {}
    )
    return counts


def _tally_in_one_task(refs: list) -> dict[str, Any]:
    tables = [table for table in ray.get(list(refs)) if table.num_rows]
    return _tally(pa.concat_tables(tables)) if tables else {"exact": 0, "near": 0, "earlier": 0, "sizes": {}}


def summarize(
    source,
    decisions,
    num_decisions: int,
    rows_in: int,
    partitions: int,
    single_task_rows: int,
    examples: int = 3,
    snippet_chars: int = 240,
) -> DedupSummary:
    """Counts, cluster sizes and example pairs from the decisions and the input (scanned once for the
    example rows). Never executes the output Dataset, whose tasks report the accounting counters."""
    if decisions is None or not num_decisions:
        return DedupSummary(rows_in, 0, 0, 0, {1: rows_in} if rows_in > 0 else {}, [])
    if num_decisions <= single_task_rows:
        tally = ray.get(ray.remote(num_cpus=1)(_tally_in_one_task).remote(decisions.to_arrow_refs()))
        exact, near, earlier, sizes = tally["exact"], tally["near"], tally["earlier"], tally["sizes"]
    else:
        totals = decisions.map_batches(_decision_counts, batch_format="pyarrow").take_all()
        exact = sum(row["exact"] for row in totals)
        near = sum(row["near"] for row in totals)
        earlier = sum(row["earlier"] for row in totals)
        sizes = {}
        tallies = shuffle(
            decisions.map_batches(_new_clusters, batch_format="pyarrow"),
            CLUSTER,
            partitions,
            _dropped_per_cluster,
        ).take_all()
        for row in tallies:
            sizes[int(row["size"])] = sizes.get(int(row["size"]), 0) + int(row["clusters"])
    sizes = {int(size): int(count) for size, count in sizes.items()}
    singletons = rows_in - exact - near - sum(sizes.values())
    if singletons > 0:
        sizes[1] = singletons
    return DedupSummary(
        rows_in,
        exact,
        near,
        earlier,
        dict(sorted(sizes.items())),
        _examples(source, decisions, examples, snippet_chars),
    )


def _examples(source, decisions, limit: int, snippet_chars: int) -> list[dict[str, Any]]:
    picked = decisions.map_batches(_example_candidates, batch_format="pyarrow").take(limit) if limit else []
    if not picked:
        return []
    found = source.map_batches(
        _example_rows,
        fn_kwargs={
            "kept_ids": sorted({row[CLUSTER] for row in picked}),
            "removed_nodes": [row[NODE] for row in picked],
        },
        batch_format="pyarrow",
    ).take_all()
    kept = {row[schema.DOC_ID]: row for row in found if row["role"] == "kept"}
    removed = {row[NODE]: row for row in found if row["role"] == "removed"}
    examples = []
    for row in picked:
        kept_row, removed_row = kept.get(row[CLUSTER]), removed.get(row[NODE])
        examples.append(
            {
                "stage": row[STAGE],
                "similarity": round(float(row[SIMILARITY]), 3),
                "kept_doc_id": row[CLUSTER],
                "removed_doc_id": removed_row[schema.DOC_ID] if removed_row else None,
                "reason": row[REASON],
                "kept_text": _snippet(kept_row, snippet_chars),
                "removed_text": _snippet(removed_row, snippet_chars),
            }
        )
    return examples
