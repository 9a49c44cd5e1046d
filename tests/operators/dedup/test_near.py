import re

import numpy as np
import pyarrow as pa
import pytest
from sftforge.operators import schema
from sftforge.operators.dedup.minhash import estimated_jaccard
from sftforge.operators.dedup.near import (
    MinHashConfig,
    MinHashDeduplicator,
    candidate_pairs,
    connected_labels,
    text_signatures,
)

from tests.support.words import random_text as _text

ZH = (
    "北京时间昨天晚上，国家航天局宣布新一代运载火箭在文昌发射场成功完成首次飞行试验，"
    "这标志着我国在重型运载能力方面迈出了关键一步。专家表示，这次试验验证了多项新技术，"
    "包括新型发动机、轻量化箭体结构以及智能化测试发射控制系统，为后续载人登月任务打下了基础。"
)


def _replace(text: str, position: int, word: str = "EDITED") -> str:
    words = text.split()
    words[position] = word
    return " ".join(words)


def _table(texts, doc_ids=None, **extra):
    doc_ids = doc_ids or [f"d{i}" for i in range(len(texts))]
    return pa.table(
        {
            schema.DOC_ID: doc_ids,
            schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
            schema.TEXT: texts,
            **extra,
        }
    )


def _similarities(texts, config: MinHashConfig | None = None):
    rows = text_signatures(pa.array(texts), config or MinHashConfig())
    return lambda i, j: float(estimated_jaccard(rows[i], rows[j]))


def test_english_near_duplicates_are_clustered_and_the_rest_kept():
    base = _text(1)
    texts = [base, _replace(base, 60), _text(2), _text(3), base.replace("river", "River,")]
    result = MinHashDeduplicator(MinHashConfig(), keep="smallest_doc_id")(_table(texts))
    assert result.kept.column(schema.DOC_ID).to_pylist() == ["d0", "d2", "d3"]
    for row in result.rejected.to_pylist():
        assert row[schema.CLUSTER_ID] == "d0"
        assert re.fullmatch(
            r"near duplicate of kept doc_id d0; estimated Jaccard (0\.[89]\d|1\.00)",
            row[schema.REJECT_REASON],
        )


def test_chinese_near_duplicates_need_character_ngrams():
    edited = ZH.replace("文昌发射场", "海南文昌航天发射场").replace("关键一步", "重要一步")
    texts = [ZH, edited, "今天天气很好，我们去公园散步吧，然后一起吃午饭，再去图书馆看书。"]
    similarity = _similarities(texts)
    assert similarity(0, 1) >= 0.8
    result = MinHashDeduplicator(MinHashConfig(), keep="smallest_doc_id")(_table(texts))
    assert result.kept.column(schema.DOC_ID).to_pylist() == ["d0", "d2"]
    # Without character n-grams a CJK clause is one token: the edit breaks whole shingles.
    words_only = MinHashDeduplicator(MinHashConfig(cjk_char_ngrams=False))(_table(texts))
    assert words_only.kept.num_rows == 3


def test_mixed_chinese_and_english_text():
    text = (
        "我们使用 Ray Data 和 PyArrow 构建了一个分布式的数据处理流水线，每天晚上自动运行一次，处理上亿条记录。"
        "流水线先清洗 HTML 和 Unicode，再做 language identification，然后用 MinHash 去掉重复的文档。"
    )
    edited = text.replace("每天晚上", "每天夜里")
    assert _similarities([text, edited])(0, 1) >= 0.8
    result = MinHashDeduplicator(MinHashConfig())(_table([text, edited, ZH]))
    assert result.kept.num_rows == 2 and result.rejected.num_rows == 1


def test_a_chain_is_one_cluster_even_where_its_ends_differ():
    a = _text(7, 100)
    b = _replace(_replace(_replace(a, 20, "ALPHA"), 21, "BETA"), 22, "ZETA")
    c = _replace(_replace(_replace(b, 70, "GAMMA"), 71, "DELTA"), 72, "ETA")
    similarity = _similarities([a, b, c])
    assert similarity(0, 1) >= 0.8 and similarity(1, 2) >= 0.8 and similarity(0, 2) < 0.8
    # a is the longest: it survives, and c is linked to it only through b.
    texts = [a + " tail", b, c]
    result = MinHashDeduplicator(MinHashConfig(), keep="longest")(_table(texts, ["a", "b", "c"]))
    assert result.kept.column(schema.DOC_ID).to_pylist() == ["a"]
    reasons = dict(
        zip(
            result.rejected.column(schema.DOC_ID).to_pylist(),
            result.rejected.column(schema.REJECT_REASON).to_pylist(),
        )
    )
    assert set(reasons) == {"b", "c"}
    assert "linked to it through other near duplicates" in reasons["c"]
    assert set(result.rejected.column(schema.CLUSTER_ID).to_pylist()) == {"a"}


def test_without_the_jaccard_check_one_shared_band_is_enough():
    a = _text(21, 60)
    b = " ".join(a.split()[:27] + _text(22, 33).split())  # first 27 words shared: first band likely equal
    similarity = _similarities([a, b])
    assert similarity(0, 1) < 0.8
    checked = MinHashDeduplicator(MinHashConfig())(_table([a, b]))
    assert checked.kept.num_rows == 2
    config = MinHashConfig(check_jaccard=False, threshold=0.3)
    unchecked = MinHashDeduplicator(config)(_table([a, b]))
    assert unchecked.kept.num_rows == 1


@pytest.mark.parametrize(
    "keep,expected",
    [("highest_quality", "q"), ("longest", "long"), ("smallest_doc_id", "a")],
)
def test_keep_rules(keep, expected):
    base = _text(5)
    texts = [_replace(base, 3), base + " and some more words at the end", _replace(base, 90)]
    table = _table(
        texts, ["q", "long", "a"], **{schema.QUALITY_SCORE: pa.array([0.9, 0.1, None], type=pa.float64())}
    )
    result = MinHashDeduplicator(MinHashConfig(), keep=keep)(table)
    assert result.kept.column(schema.DOC_ID).to_pylist() == [expected]


def test_rows_without_shingles_are_never_near_duplicates():
    result = MinHashDeduplicator(MinHashConfig())(_table(["", "!!!", "", None]))
    assert result.kept.num_rows == 4


def test_large_buckets_link_every_member_in_linear_pairs():
    config = MinHashConfig(bucket_pairs_limit=4, bucket_anchors=2)
    nodes = np.array([bytes([i]) * 16 for i in range(10)], dtype="S16")
    keys = np.zeros(10, dtype=np.uint64)
    pairs = candidate_pairs(keys, np.arange(10), nodes, config)
    # anchors 0 and 1 (and their pair), then each later row with both anchors and its predecessor
    assert len(pairs) < 45
    assert len(np.unique(connected_labels(10, pairs))) == 1
    assert (nodes[pairs[:, 0]] < nodes[pairs[:, 1]]).all()
    small = candidate_pairs(keys[:4], np.arange(4), nodes[:4], config)
    assert len(small) == 6
    pinned = np.array([True, True, False, False])
    assert len(candidate_pairs(keys[:4], np.arange(4), nodes[:4], config, pinned)) == 5


def test_config_validation():
    with pytest.raises(ValueError):
        MinHashConfig(threshold=1.5)
    with pytest.raises(ValueError):
        MinHashConfig(unknown=1)
    assert MinHashConfig().bands == (14, 9)
    assert MinHashConfig(false_negative_weight=0.5).bands == (9, 13)
