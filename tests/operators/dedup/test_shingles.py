import numpy as np
import pyarrow as pa
import pytest
from sftforge.operators.dedup.shingles import reference_shingle_hashes, shingle_hashes, tokenize

DOCS = [
    "Hello, World! The quick brown fox jumps over the lazy dog.",
    "",
    "用 Python 写 web 服务，今天天气很好。",
    "短",
    "a b",
    "Ünïcödé café déjà vu 😀 emoji here and there x y z",
    "日本語のテキストです。カタカナも。한국어 텍스트도 있습니다",
    "word" * 400 + " tail",
    "Numbers 2024-06-07 and v1.2.3, e-mail: someone@example.org!!!",
    "   leading and trailing spaces   ",
    "Привет, мир! Это русский текст с пунктуацией — и тире.",
    "北京大学的研究人员在《自然》杂志上发表了一篇关于量子计算的论文，引起了广泛关注。",
]


def _per_doc(shingles, index):
    return shingles.hashes[shingles.offsets[index] : shingles.offsets[index + 1]]


def test_tokens_split_words_on_punctuation_and_cjk_into_characters():
    assert tokenize("Hello, World! It's 2024.") == ["hello", "world", "it", "s", "2024"]
    assert tokenize("用 Python 写 web 服务") == ["用", "python", "写", "web", "服", "务"]
    assert tokenize("今天天气很好。") == ["今", "天", "天", "气", "很", "好"]
    assert tokenize("カタカナ と 한국어") == ["カ", "タ", "カ", "ナ", "と", "한", "국", "어"]
    assert tokenize("emoji 😀 sep") == ["emoji", "sep"]
    assert tokenize("café") == ["café"]


def test_cjk_as_words_when_character_ngrams_are_off():
    assert tokenize("今天天气很好。明天", cjk_chars=False) == ["今天天气很好", "明天"]


@pytest.mark.parametrize("ngram_size,cjk_ngram_size", [(5, 5), (3, 2), (1, 1), (7, 4)])
def test_vectorised_shingles_equal_the_plain_python_definition(ngram_size, cjk_ngram_size):
    shingles = shingle_hashes(DOCS, ngram_size, cjk_ngram_size)
    assert len(shingles.offsets) == len(DOCS) + 1
    for index, text in enumerate(DOCS):
        expected = reference_shingle_hashes(text, ngram_size, cjk_ngram_size)
        assert np.array_equal(_per_doc(shingles, index), expected), text


def test_a_document_shingles_the_same_alone_or_in_any_batch():
    together = shingle_hashes(DOCS)
    for index, text in enumerate(DOCS):
        alone = shingle_hashes([text])
        assert np.array_equal(alone.hashes, _per_doc(together, index))
    reversed_batch = shingle_hashes(DOCS[::-1])
    for index in range(len(DOCS)):
        assert np.array_equal(_per_doc(reversed_batch, len(DOCS) - 1 - index), _per_doc(together, index))


def test_words_never_join_across_documents():
    glued = shingle_hashes(["alpha beta", "gamma delta"], ngram_size=2)
    assert np.array_equal(_per_doc(glued, 0), reference_shingle_hashes("alpha beta", 2))
    assert np.array_equal(_per_doc(glued, 1), reference_shingle_hashes("gamma delta", 2))
    # "alphabeta" as one word would be a different token stream.
    assert not np.array_equal(shingle_hashes(["alphabeta"], 2).hashes, _per_doc(glued, 0))


def test_nulls_sliced_and_large_string_arrays():
    array = pa.array([None, *DOCS], type=pa.large_string()).slice(1)
    shingles = shingle_hashes(array)
    for index, text in enumerate(DOCS):
        assert np.array_equal(_per_doc(shingles, index), reference_shingle_hashes(text))
    with_null = shingle_hashes(pa.array(["a b c d e f", None]))
    assert with_null.counts.tolist() == [2, 0]


def test_counts_follow_the_ngram_rule():
    shingles = shingle_hashes(["one two three four five six seven", "one two", "", "!!!"], ngram_size=5)
    # 7 tokens -> 3 five-grams; 2 tokens (< n) -> 1 shingle of both; none -> none.
    assert shingles.counts.tolist() == [3, 1, 0, 0]


def test_case_and_punctuation_do_not_change_shingles():
    a = shingle_hashes(["The Quick, brown fox!"]).hashes
    b = shingle_hashes(["the quick brown fox"]).hashes
    assert np.array_equal(a, b)
