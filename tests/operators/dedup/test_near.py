import numpy as np
import pyarrow as pa
from sftforge.operators.dedup.config import MinHashConfig
from sftforge.operators.dedup.minhash import estimated_jaccard
from sftforge.operators.dedup.near import (
    candidate_pairs,
    memberships,
    near_reason,
    text_signatures,
    verify_pairs,
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


def _similarities(texts, config: MinHashConfig | None = None):
    rows = text_signatures(pa.array(texts), config or MinHashConfig())
    return lambda i, j: float(estimated_jaccard(rows[i], rows[j]))


def _components(count: int, pairs: np.ndarray) -> int:
    parent = list(range(count))

    def root(node):
        while parent[node] != node:
            node = parent[node]
        return node

    for a, b in pairs.tolist():
        parent[root(a)] = root(b)
    return len({root(node) for node in range(count)})


def test_character_ngrams_make_edited_chinese_similar():
    edited = ZH.replace("文昌发射场", "海南文昌航天发射场").replace("关键一步", "重要一步")
    assert _similarities([ZH, edited])(0, 1) >= 0.8
    assert _similarities([ZH, edited], MinHashConfig(cjk_char_ngrams=False))(0, 1) < 0.5


def test_memberships_skip_rows_without_shingles():
    config = MinHashConfig()
    rows = text_signatures(pa.array([_text(1), "", _text(2)]), config)
    keys, members = memberships(rows, config)
    bands, _ = config.bands
    assert len(keys) == len(members) == 2 * bands
    assert sorted(set(members.tolist())) == [0, 2]


def test_near_duplicates_share_a_bucket_and_pass_the_check():
    config = MinHashConfig()
    base = _text(1)
    rows = text_signatures(pa.array([base, _replace(base, 60), _text(2)]), config)
    nodes = np.array([bytes([i]) * 16 for i in range(3)], dtype="S16")
    pairs = candidate_pairs(*memberships(rows, config), nodes, config)
    checked, similarity = verify_pairs(rows, pairs, config)
    assert checked.tolist() == [[0, 1]] and similarity[0] >= 0.8


def test_large_buckets_link_every_member_in_linear_pairs():
    config = MinHashConfig(bucket_pairs_limit=4, bucket_anchors=2)
    nodes = np.array([bytes([i]) * 16 for i in range(10)], dtype="S16")
    keys = np.zeros(10, dtype=np.uint64)
    pairs = candidate_pairs(keys, np.arange(10), nodes, config)
    # anchors 0 and 1 (and their pair), then each later row with both anchors and its predecessor
    assert len(pairs) < 45
    assert _components(10, pairs) == 1
    assert (nodes[pairs[:, 0]] < nodes[pairs[:, 1]]).all()
    small = candidate_pairs(keys[:4], np.arange(4), nodes[:4], config)
    assert len(small) == 6
    pinned = np.array([True, True, False, False])
    assert len(candidate_pairs(keys[:4], np.arange(4), nodes[:4], config, pinned)) == 5


def test_reasons_say_how_a_row_is_linked_to_its_survivor():
    assert near_reason("d0", None, 0.9, 0.8) == "near duplicate of kept doc_id d0; estimated Jaccard 0.90"
    assert "linked to it through other near duplicates at threshold 0.80" in near_reason(
        "d0", "f:1", 0.5, 0.8
    )
    assert "kept in an earlier release (dedup index idx)" in near_reason("d0", None, 0.9, 0.8, "idx")
