"""Near dedup's passes (buckets, checked pairs, components, survivors), run on one table in memory."""

import re

import pyarrow as pa
import pytest
from sftforge.operators import schema

from tests.jobs.dedup.in_memory import dedup_table, documents, near_only
from tests.operators.dedup.test_near import ZH, _replace, _similarities
from tests.support.words import random_text as _text


def _ids(table):
    return table.column(schema.DOC_ID).to_pylist()


def test_english_near_duplicates_are_clustered_and_the_rest_kept():
    base = _text(1)
    texts = [base, _replace(base, 60), _text(2), _text(3), base.replace("river", "River,")]
    kept, rejected = dedup_table(documents(texts), near_only(keep="smallest_doc_id"))
    assert _ids(kept) == ["d0", "d2", "d3"]
    for row in rejected.to_pylist():
        assert row[schema.CLUSTER_ID] == "d0" and row[schema.REJECT_STAGE] == "dedup.near"
        assert re.fullmatch(
            r"near duplicate of kept doc_id d0; estimated Jaccard (0\.[89]\d|1\.00)",
            row[schema.REJECT_REASON],
        )


def test_chinese_near_duplicates_need_character_ngrams():
    edited = ZH.replace("文昌发射场", "海南文昌航天发射场").replace("关键一步", "重要一步")
    texts = [ZH, edited, "今天天气很好，我们去公园散步吧，然后一起吃午饭，再去图书馆看书。"]
    kept, _ = dedup_table(documents(texts), near_only(keep="smallest_doc_id"))
    assert _ids(kept) == ["d0", "d2"]
    # Without character n-grams a CJK clause is one token: the edit breaks whole shingles.
    assert dedup_table(documents(texts), near_only(cjk_char_ngrams=False))[0].num_rows == 3


def test_mixed_chinese_and_english_text():
    text = (
        "我们使用 Ray Data 和 PyArrow 构建了一个分布式的数据处理流水线，每天晚上自动运行一次，处理上亿条记录。"
        "流水线先清洗 HTML 和 Unicode，再做 language identification，然后用 MinHash 去掉重复的文档。"
    )
    kept, rejected = dedup_table(documents([text, text.replace("每天晚上", "每天夜里"), ZH]), near_only())
    assert kept.num_rows == 2 and rejected.num_rows == 1


def test_a_chain_is_one_cluster_even_where_its_ends_differ():
    a = _text(7, 100)
    b = _replace(_replace(_replace(a, 20, "ALPHA"), 21, "BETA"), 22, "ZETA")
    c = _replace(_replace(_replace(b, 70, "GAMMA"), 71, "DELTA"), 72, "ETA")
    similarity = _similarities([a, b, c])
    assert similarity(0, 1) >= 0.8 and similarity(1, 2) >= 0.8 and similarity(0, 2) < 0.8
    # a is the longest: it survives, and c is linked to it only through b.
    kept, rejected = dedup_table(documents([a + " tail", b, c], ["a", "b", "c"]), near_only(keep="longest"))
    assert _ids(kept) == ["a"]
    reasons = dict(zip(_ids(rejected), rejected.column(schema.REJECT_REASON).to_pylist()))
    assert set(reasons) == {"b", "c"}
    assert "linked to it through other near duplicates" in reasons["c"]
    assert set(rejected.column(schema.CLUSTER_ID).to_pylist()) == {"a"}


def test_without_the_jaccard_check_one_shared_band_is_enough():
    a = _text(21, 60)
    b = " ".join(a.split()[:27] + _text(22, 33).split())  # first 27 words shared: first band likely equal
    assert _similarities([a, b])(0, 1) < 0.8
    assert dedup_table(documents([a, b]), near_only())[0].num_rows == 2
    unchecked = near_only(check_jaccard=False, threshold=0.3)
    assert dedup_table(documents([a, b]), unchecked)[0].num_rows == 1


@pytest.mark.parametrize(
    "keep,expected",
    [("highest_quality", "q"), ("longest", "long"), ("smallest_doc_id", "a")],
)
def test_keep_rules(keep, expected):
    base = _text(5)
    texts = [_replace(base, 3), base + " and some more words at the end", _replace(base, 90)]
    table = documents(
        texts, ["q", "long", "a"], **{schema.QUALITY_SCORE: pa.array([0.9, 0.1, None], type=pa.float64())}
    )
    assert _ids(dedup_table(table, near_only(keep=keep))[0]) == [expected]


def test_rows_without_shingles_are_never_near_duplicates():
    assert dedup_table(documents(["", "!!!", "", None]), near_only())[0].num_rows == 4
