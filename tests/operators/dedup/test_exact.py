import pyarrow as pa
import pytest
from sftforge.operators import schema
from sftforge.operators.dedup.exact import ExactDedupConfig, ExactDeduplicator, exact_hashes, normalize


def _documents(texts, doc_ids=None, **extra):
    doc_ids = doc_ids or [f"d{i}" for i in range(len(texts))]
    return pa.table(
        {
            schema.DOC_ID: doc_ids,
            schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
            schema.TEXT: texts,
            **extra,
        }
    )


def _kept(result):
    return result.kept.column(schema.DOC_ID).to_pylist()


def _same(a: str, b: str, **options) -> bool:
    hashes = exact_hashes(pa.array([a, b]), ExactDedupConfig(**options)).to_pylist()
    return hashes[0] == hashes[1]


def test_normalisation_options_each_do_one_thing():
    assert _same("Hello World", "hello world") and not _same("Hello World", "hello world", ignore_case=False)
    assert _same("Hello, world!", "Hello world") and not _same(
        "Hello, world!", "Hello world", ignore_punctuation=False
    )
    assert _same("Hello   world\n", " Hello world") and not _same("a  b", "a b", ignore_whitespace=False)
    assert _same("in 2023", "in 2024", ignore_digits=True) and not _same("in 2023", "in 2024")
    assert _same("你好，世界！", "你好 世界")
    assert _same("a\u3000b\u00a0c\t d", "a b c d") and _same("line one\n\nline two", "line one line two")
    assert normalize(pa.array(["  A,  b!  "]), ExactDedupConfig()).to_pylist() == ["a b"]


def test_english_and_chinese_duplicates_keep_one_row_and_name_it():
    table = _documents(
        [
            "The cat sat on the mat.",
            "the cat sat on the mat",
            "今天天气很好，我们去公园散步吧。",
            "今天天气很好 我们去公园散步吧",
            "Something else entirely.",
        ]
    )
    result = ExactDeduplicator(ExactDedupConfig(), keep="smallest_doc_id")(table)
    assert _kept(result) == ["d0", "d2", "d4"]
    rejected = result.rejected.to_pylist()
    assert [row[schema.DOC_ID] for row in rejected] == ["d1", "d3"]
    assert "kept doc_id d0" in rejected[0][schema.REJECT_REASON]
    assert "similarity 1.00" in rejected[0][schema.REJECT_REASON]
    assert [row[schema.CLUSTER_ID] for row in rejected] == ["d0", "d2"]
    assert result.kept.column(schema.CLUSTER_ID).to_pylist() == ["d0", "d2", "d4"]


@pytest.mark.parametrize(
    "keep,quality,expected",
    [
        ("highest_quality", [0.2, 0.9, None], "b"),
        ("highest_quality", [None, None, None], "c"),  # no scores: the longest
        ("longest", [0.2, 0.9, None], "c"),
        ("smallest_doc_id", [0.2, 0.9, None], "a"),
    ],
)
def test_keep_rules(keep, quality, expected):
    table = _documents(
        ["Same text here", "same text here!", "SAME TEXT HERE!!!"],
        doc_ids=["a", "b", "c"],
        **{schema.QUALITY_SCORE: pa.array(quality, type=pa.float64())},
    )
    result = ExactDeduplicator(ExactDedupConfig(), keep=keep)(table)
    assert _kept(result) == [expected]
    assert set(result.rejected.column(schema.CLUSTER_ID).to_pylist()) == {expected}


def test_ties_go_to_the_smallest_doc_id_then_the_earliest_location():
    table = _documents(
        ["same", "same", "same"],
        doc_ids=["z", "m", "m"],
        **{schema.SOURCE_FILE: ["f.jsonl", "g.jsonl", "f.jsonl"], schema.SOURCE_ROW: [0, 5, 9]},
    )
    result = ExactDeduplicator(ExactDedupConfig(), keep="longest")(table)
    kept = result.kept.to_pylist()
    assert [(row[schema.DOC_ID], row[schema.SOURCE_FILE]) for row in kept] == [("m", "f.jsonl")]
    reasons = result.rejected.column(schema.REJECT_REASON).to_pylist()
    # Rows with the same content-hash doc_id are told apart by their lineage.
    assert all("kept doc_id m at f.jsonl:9" in reason for reason in reasons)


def test_instruction_key_compares_the_prompt_only():
    table = pa.table(
        {
            schema.DOC_ID: ["i1", "i2"],
            schema.KIND: [schema.KIND_INSTRUCTION] * 2,
            schema.INSTRUCTION: ["Translate to French.", "Translate to French."],
            schema.INPUT: ["Good morning", "Good morning"],
            schema.OUTPUT: ["Bonjour", "Bonjour à tous"],
        }
    )
    assert len(_kept(ExactDeduplicator(ExactDedupConfig(key="all"))(table))) == 2
    assert len(_kept(ExactDeduplicator(ExactDedupConfig(key="instruction"))(table))) == 1


def test_accounting_every_row_is_kept_or_rejected_once():
    texts = [f"text {i % 7}" for i in range(50)]
    result = ExactDeduplicator(ExactDedupConfig())(_documents(texts))
    assert result.kept.num_rows == 7 and result.rejected.num_rows == 43
    kept_ids = set(_kept(result))
    assert set(result.rejected.column(schema.CLUSTER_ID).to_pylist()) <= kept_ids


def test_conversations_are_compared_on_every_turn():
    def conversation(*turns):
        roles = ["user", "assistant"] * len(turns)
        return [{"role": role, "content": content} for role, content in zip(roles, turns)]

    messages = [
        conversation("Hi", "Hello! How can I help?", "Tell me a joke", "Goodbye!"),
        conversation("Hi", "Hello! How can I help?", "What is 2+2?", "Goodbye!"),
        conversation("hi", "Hello, how can I help", "Tell me a joke", "Goodbye"),
    ]
    table = pa.table(
        {
            schema.DOC_ID: ["c1", "c2", "c3"],
            schema.KIND: [schema.KIND_INSTRUCTION] * 3,
            # What the reader fills in: the first question and the last answer.
            schema.INSTRUCTION: ["Hi", "Hi", "hi"],
            schema.OUTPUT: ["Goodbye!", "Goodbye!", "Goodbye"],
            schema.MESSAGES: pa.array(messages, type=schema.MESSAGES_TYPE),
        }
    )
    result = ExactDeduplicator(ExactDedupConfig(), keep="smallest_doc_id")(table)
    assert _kept(result) == ["c1", "c2"]
    assert result.rejected.column(schema.CLUSTER_ID).to_pylist() == ["c1"]
