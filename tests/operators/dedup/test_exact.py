import pyarrow as pa
from sftforge.operators import schema
from sftforge.operators.dedup.config import ExactDedupConfig
from sftforge.operators.dedup.exact import dedup_texts, exact_hashes, exact_reason, normalize


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


def test_hashes_are_16_bytes_and_null_reads_as_empty():
    hashes = exact_hashes(pa.array(["", None, "x"]), ExactDedupConfig())
    assert hashes.type == pa.binary(16)
    assert hashes[0] == hashes[1] != hashes[2]


def test_dedup_texts_follow_the_key():
    table = pa.table(
        {
            schema.DOC_ID: ["i1", "d1"],
            schema.KIND: [schema.KIND_INSTRUCTION, schema.KIND_DOCUMENT],
            schema.TEXT: [None, "A document."],
            schema.INSTRUCTION: ["Translate to French.", None],
            schema.INPUT: ["Good morning", None],
            schema.OUTPUT: ["Bonjour", None],
        }
    )
    everything, prompt = dedup_texts(table, "all").to_pylist(), dedup_texts(table, "instruction").to_pylist()
    assert "Bonjour" in everything[0] and "Bonjour" not in prompt[0]
    assert "Good morning" in prompt[0]
    assert everything[1] == prompt[1] == "A document."


def test_reasons_name_the_kept_row_and_where_it_is():
    assert exact_reason("d0", "f.jsonl:3") == (
        "exact duplicate of kept doc_id d0 at f.jsonl:3; similarity 1.00 (normalised text identical)"
    )
    assert "kept in an earlier release (dedup index idx)" in exact_reason("d0", None, "idx")
