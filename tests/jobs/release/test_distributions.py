"""The workers' summaries of released records draw the same charts as the records read back."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem
from sftforge.jobs.release import distributions
from sftforge.jobs.release.html_report import collect_distributions
from sftforge.jobs.release.layout import splits
from sftforge.jobs.release.report import top_reasons
from sftforge.jobs.release.svg import bins_of, bins_of_counts, fixed_bins
from sftforge.jobs.release.writer import ReleaseWriter
from sftforge.operators import schema
from sftforge.operators.write.formats import OutputConfig

from tests.jobs.release.test_writer import _final_rows


def test_counted_bins_equal_the_bins_of_the_values():
    rng = random.Random(7)
    lengths = [rng.randrange(0, 5000) for _ in range(3000)] + [0, 0, 4999]
    tally = {value: lengths.count(value) for value in set(lengths)}
    assert bins_of_counts(tally, 20, low=0, integer=True) == bins_of(lengths, 20, low=0, integer=True)
    assert bins_of_counts({7: 3}, 20, low=0, integer=True) == bins_of([7, 7, 7], 20, low=0, integer=True)
    assert bins_of_counts({0: 2}, 20, low=0, integer=True) == bins_of([0, 0], 20, low=0, integer=True)
    scores = [rng.random() for _ in range(3000)] + [0.0, 1.0, 0.05, 0.1, 0.95, -0.5, 1.5]
    counted = distributions.quality_bin_counts(np.array(scores))
    assert fixed_bins(counted, 0.0, 1.0) == bins_of(scores, 20, 0.0, 1.0)
    assert fixed_bins([0] * 20, 0.0, 1.0) == bins_of([], 20, 0.0, 1.0) == []


def test_summaries_merge_in_any_order():
    table = pa.table({schema.TEXT: ["ab", "abc", "ab", None], schema.LANG: ["en", None, "", "zh"],
                      schema.QUALITY_SCORE: [0.1, None, 0.9, 0.5]})
    parts = [distributions.summarize(table.slice(i, 1), "documents/train") for i in range(4)]
    merged = distributions.merge(parts)
    assert merged == distributions.merge(parts[::-1]) == distributions.merge([distributions.summarize(table,
                                                                                                     "documents/train")])
    assert merged["lengths"] == {"documents/train": {0: 1, 2: 2, 3: 1}}
    assert merged["languages"] == {"unknown": 2, "en": 1, "zh": 1}
    assert sum(merged["quality_bins"]) == 3


@pytest.mark.parametrize("formats", [["parquet", "jsonl"], ["jsonl"]])
def test_the_writers_summary_is_that_of_the_files_it_wrote(ray_session, tmp_path, formats):
    import ray

    output = OutputConfig(dir=str(tmp_path / "out"), shard_rows=40, file_formats=formats)
    writer = ReleaseWriter(output, "r1")
    counts = writer.write(ray.data.from_arrow(_final_rows(300)).repartition(3))
    release = writer.publish({})
    read_back = collect_distributions(release, splits(release), splits(release, documents=True))
    assert {k: v for k, v in counts.distributions.items() if k != "rejections"} == {
        k: v for k, v in read_back.items() if k != "rejections"}
    reasons = top_reasons(release / "rejects")
    assert reasons and top_reasons(None, summary=counts.distributions["rejections"]) == reasons
    assert set(read_back["lengths"]) == set(counts.instructions_by_split) | {
        f"documents/{name}" for name in counts.documents_by_split}
    assert read_back["languages"] == {"zh": sum(counts.rows_by_split.values())}


def test_adopted_files_are_read_for_their_summary(ray_session, tmp_path):
    import ray

    output = OutputConfig(dir=str(tmp_path / "out"), shard_rows=40)
    first = ReleaseWriter(output, "r1")
    first_counts = first.write(ray.data.from_arrow(_final_rows(300)).repartition(3))
    previous = first.publish({})
    second = ReleaseWriter(output, "r2")
    rows = _final_rows(60)
    second.write(ray.data.from_arrow(rows.set_column(0, schema.DOC_ID, pa.array([f"n{i}" for i in range(60)]))),
                 prefix="part-night-")
    merged = second.adopt(str(previous), first_counts.files, first_counts)
    release = second.publish({})
    read_back = collect_distributions(release, splits(release), splits(release, True))
    assert {k: v for k, v in merged.distributions.items() if k != "rejections"} == {
        k: v for k, v in read_back.items() if k != "rejections"}
    assert top_reasons(None, summary=merged.distributions["rejections"]) == top_reasons(release / "rejects")
    rejected = sum(entry["rows"] for entries in top_reasons(release / "rejects", limit=99).values()
                   for entry in entries)
    assert rejected == sum(merged.rejected_by_stage.values())
    one = pq.read_table(release / "parquet" / "train" / "part-00000.parquet")
    part = distributions.read_summary(LocalFileSystem(), str(release / "parquet/train/part-00000.parquet"), "train")
    assert sum(part["lengths"]["train"].values()) == one.num_rows


def test_the_write_order_is_key_then_line_with_witnesses_first():
    from sftforge.jobs.release.buckets import _write_order
    from sftforge.jobs.release.stream import JSON, KEY

    keys = ["0\x1fa\x1f3", "0\x1fa\x1f1", "0\x1fa\x1f2", "0\x1fa\x1f1", "0\x1fa\x1f0"]
    lines = ['{"b"}\n', '{"z"}\n', '{"c"}\n', '{"y"}\n', '{"w"}\n']
    rows = pa.table({KEY: pa.array(keys, pa.large_string()), JSON: pa.array(lines, pa.large_string())})
    order = _write_order(rows, ()).to_pylist()
    assert [lines[i] for i in order] == ['{"w"}\n', '{"y"}\n', '{"z"}\n', '{"c"}\n', '{"b"}\n']
    order = _write_order(rows, ("0\x1fa\x1f2",)).to_pylist()
    assert [lines[i] for i in order] == ['{"c"}\n', '{"w"}\n', '{"y"}\n', '{"z"}\n', '{"b"}\n']
    unique = rows.slice(0, 3)
    assert _write_order(unique, ()).to_pylist() == [1, 2, 0]
