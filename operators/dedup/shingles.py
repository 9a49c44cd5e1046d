"""Shingling for near-duplicate detection: word n-grams, and character n-grams for CJK text.

Text is lower-cased and cut into *tokens*: a run of letters, digits and combining marks is one word
token; every Han, Kana or Hangul character is a token of its own (those scripts put no spaces between
words); punctuation, symbols and spaces only separate tokens. Mixed text therefore yields one token
stream: ``"用 Python 写 web 服务"`` is ``用 | python | 写 | web | 服 | 务``. A shingle is ``n`` consecutive
tokens, with ``n = cjk_ngram_size`` when most of a document's tokens are CJK characters and
``n = ngram_size`` otherwise. A document with fewer than ``n`` tokens has one shingle: all of them.

``shingle_hashes`` does this for a whole Arrow batch with numpy, without a Python loop per document or
per token; ``tokenize`` and ``reference_shingle_hashes`` are the plain-Python definition it must match
(the tests hold the two together).

Hashing: a token's hash is ``sum(byte_k * P**k) + length * M mod 2**64`` over its UTF-8 bytes, finalised
with ``fmix64``; a shingle's hash is ``fmix64(sum(token_j * Q_j) + n)`` truncated to its high 32 bits, the
32-bit input datasketch's ``affine32`` MinHash expects.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.dedup.hashing import fmix64
from sftforge.operators.text import is_cjk

SEPARATOR, WORD, CJK = 0, 1, 2

#: Odd multiplier of the per-token polynomial hash.
_P = 0x100000001B3
_MASK64 = (1 << 64) - 1
#: Per-position multipliers of the n-gram combination (odd, fixed forever: changing them changes
#: every signature and invalidates saved dedup indexes).
_Q = np.random.RandomState(20240607).randint(1, 1 << 62, size=64, dtype=np.int64).astype(
    np.uint64
) * np.uint64(2) + np.uint64(1)
_U64 = np.uint64
_LENGTH_MIX = np.uint64(0x9E3779B97F4A7C15)


def char_class(char: str, cjk_chars: bool = True) -> int:
    """Classifies one character as ``SEPARATOR``, ``WORD`` or ``CJK`` (a token by itself)."""
    category = unicodedata.category(char)
    if category[0] not in "LNM":
        return SEPARATOR
    if cjk_chars and category[0] == "L" and is_cjk(char):
        return CJK
    return WORD


@lru_cache(maxsize=2)
def _bmp_classes(cjk_chars: bool) -> np.ndarray:
    return np.array([char_class(chr(code), cjk_chars) for code in range(0x10000)], dtype=np.uint8)


def _supplementary_classes(codes: np.ndarray, cjk_chars: bool) -> np.ndarray:
    # Outside the BMP only the CJK extensions matter for text; emoji and other symbols separate.
    classes = np.full(len(codes), WORD, dtype=np.uint8)
    cjk = (codes >= 0x20000) & (codes <= 0x3134F)
    if cjk_chars:
        classes[cjk] = CJK
    symbols = (codes >= 0x1F000) & (codes <= 0x1FAFF)
    classes[symbols] = SEPARATOR
    return classes


def _char_class_code(code: int, cjk_chars: bool) -> int:
    if code < 0x10000:
        return int(_bmp_classes(cjk_chars)[code])
    return int(_supplementary_classes(np.array([code]), cjk_chars)[0])


def tokenize(text: str, cjk_chars: bool = True) -> list[str]:
    """Plain-Python definition of the token stream (lower-cased); ``shingle_hashes`` matches it."""
    tokens: list[str] = []
    word: list[str] = []
    for char in pc.utf8_lower(pa.array([text], type=pa.string()))[0].as_py():
        kind = _char_class_code(ord(char), cjk_chars)
        if kind == WORD:
            word.append(char)
            continue
        if word:
            tokens.append("".join(word))
            word = []
        if kind == CJK:
            tokens.append(char)
    if word:
        tokens.append("".join(word))
    return tokens


def shingle_size(tokens: list[str], ngram_size: int, cjk_ngram_size: int, cjk_chars: bool = True) -> int:
    """The n-gram size of a document: ``cjk_ngram_size`` when most of its tokens are CJK characters."""
    cjk = sum(1 for token in tokens if len(token) == 1 and _char_class_code(ord(token), cjk_chars) == CJK)
    return cjk_ngram_size if cjk > len(tokens) - cjk else ngram_size


def token_hash(token: str) -> int:
    """Hash of one token (plain Python; see the module docstring)."""
    data = token.encode("utf-8")
    value, power = 0, 1
    for byte in data:
        value = (value + byte * power) & _MASK64
        power = (power * _P) & _MASK64
    value = (value + len(data) * int(_LENGTH_MIX)) & _MASK64
    return int(fmix64(np.array([value], dtype=np.uint64))[0])


def reference_shingle_hashes(
    text: str, ngram_size: int = 5, cjk_ngram_size: int = 5, cjk_chars: bool = True
) -> np.ndarray:
    """Plain-Python shingle hashes of one document, in token order (uint32)."""
    tokens = tokenize(text, cjk_chars)
    if not tokens:
        return np.zeros(0, dtype=np.uint32)
    n = shingle_size(tokens, ngram_size, cjk_ngram_size, cjk_chars)
    hashes = [token_hash(token) for token in tokens]
    starts = range(max(1, len(tokens) - n + 1))
    out = []
    for start in starts:
        window = hashes[start : start + n]
        combined = sum(value * int(_Q[j]) for j, value in enumerate(window)) + len(window)
        out.append(int(fmix64(np.array([combined & _MASK64], dtype=np.uint64))[0]) >> 32)
    return np.array(out, dtype=np.uint32)


@dataclass(frozen=True)
class Shingles:
    """Shingle hashes of a batch: document ``i`` owns ``hashes[offsets[i]:offsets[i + 1]]``."""

    hashes: np.ndarray
    offsets: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


class _Powers:
    """Grows and keeps ``P**k`` and its inverse mod 2**64 for the prefix-hash trick."""

    def __init__(self) -> None:
        self.powers = np.ones(1, dtype=np.uint64)
        self.inverses = np.ones(1, dtype=np.uint64)

    def upto(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.powers) < size:
            size = max(size, 2 * len(self.powers))
            inverse = pow(_P, -1, 1 << 64)
            with np.errstate(over="ignore"):
                steps = np.full(size, _P, dtype=np.uint64)
                steps[0] = 1
                self.powers = np.multiply.accumulate(steps)
                steps[1:] = np.uint64(inverse)
                self.inverses = np.multiply.accumulate(steps)
        return self.powers, self.inverses


_POWERS = _Powers()


def _string_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int64, starting at 0) and UTF-8 bytes of a string array; nulls read as empty."""
    if isinstance(texts, pa.ChunkedArray):
        texts = pa.concat_arrays(texts.chunks) if texts.num_chunks != 1 else texts.chunk(0)
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    if pa.types.is_string(texts.type):
        offset_type = np.int32
    elif pa.types.is_large_string(texts.type):
        offset_type = np.int64
    else:
        raise TypeError(f"expected a string array, got {texts.type}")
    buffers = texts.buffers()
    offsets = np.frombuffer(
        buffers[1],
        dtype=offset_type,
        count=len(texts) + 1,
        offset=texts.offset * np.dtype(offset_type).itemsize,
    )
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def _classify_bytes(data: np.ndarray, cjk_chars: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per byte: is it part of a word character, is it part of a CJK character.

    Continuation bytes of a multi-byte character share their lead byte's class. ASCII is classified
    with comparisons (a table lookup would first widen every byte to an index).
    """
    digit = (data - np.uint8(48)) < 10
    lower = (data - np.uint8(97)) < 26
    upper = (data - np.uint8(65)) < 26
    is_word = digit | lower | upper
    is_cjk = np.zeros(len(data), dtype=bool)
    leads = np.flatnonzero(data >= 0xC0)
    if not len(leads):
        return is_word, is_cjk
    lead = data[leads].astype(np.uint32)
    padded = np.concatenate([data, np.zeros(3, dtype=np.uint8)])
    width = np.where(lead >= 0xF0, 4, np.where(lead >= 0xE0, 3, 2))
    codes = lead & np.where(width == 4, 0x07, np.where(width == 3, 0x0F, 0x1F)).astype(np.uint32)
    for k in range(1, 4):
        more = width > k
        codes = np.where(more, (codes << 6) | (padded[leads + k].astype(np.uint32) & 0x3F), codes)
    classes = np.empty(len(codes), dtype=np.uint8)
    bmp = codes < 0x10000
    classes[bmp] = _bmp_classes(cjk_chars)[codes[bmp]]
    if not bmp.all():
        classes[~bmp] = _supplementary_classes(codes[~bmp], cjk_chars)
    for k in range(4):
        more = width > k
        where = leads[more] + k
        is_word[where] = classes[more] == WORD
        is_cjk[where] = classes[more] == CJK
    return is_word, is_cjk


def shingle_hashes(
    texts: pa.Array | list[str],
    ngram_size: int = 5,
    cjk_ngram_size: int = 5,
    cjk_chars: bool = True,
) -> Shingles:
    """Shingle hashes of every document of a batch, vectorised over the batch.

    Args:
        texts: Documents (Arrow string array or a list of str); null reads as empty.
        ngram_size: Tokens per shingle for space-delimited text.
        cjk_ngram_size: Characters per shingle for documents that are mostly CJK.
        cjk_chars: Treat Han/Kana/Hangul characters as tokens of their own.

    Returns:
        The uint32 shingle hashes, grouped by document (same values and order as
        ``reference_shingle_hashes`` on each document).
    """
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = pa.array(texts, type=pa.string())
    texts = pc.utf8_lower(texts)
    num_docs = len(texts)
    offsets, data = _string_buffers(texts)
    empty = Shingles(np.zeros(0, dtype=np.uint32), np.zeros(num_docs + 1, dtype=np.int64))
    if not len(data):
        return empty
    is_word, is_cjk = _classify_bytes(data, cjk_chars)

    # Byte-level token boundaries. A document's first byte never continues the previous document's
    # word; a CJK character is a token by itself, so only its lead byte starts one.
    size = len(data)
    in_token = is_word | is_cjk
    after_word = np.empty_like(is_word)
    after_word[0] = False
    after_word[1:] = is_word[:-1]
    after_word[offsets[:-1][offsets[:-1] < size]] = False
    token_start = (is_word & ~after_word) | (is_cjk & ((data & 0xC0) != 0x80))
    breaks_after = np.empty_like(in_token)
    breaks_after[-1] = True
    np.logical_or(token_start[1:], ~in_token[1:], out=breaks_after[:-1])
    breaks_after &= in_token
    token_begin = np.flatnonzero(token_start)
    if not len(token_begin):
        return empty
    token_end = np.flatnonzero(breaks_after)
    token_end += 1

    # Position-independent polynomial hash of each token's bytes from one prefix sum:
    # sum_k b_k P^k over the token = (H[end] - H[begin]) * P^-begin  (mod 2^64); token bytes are never
    # zero, and the length is mixed in.
    powers, inverses = _POWERS.upto(size + 1)
    with np.errstate(over="ignore"):
        prefix = np.empty(size + 1, dtype=np.uint64)
        prefix[0] = 0
        np.multiply(data, powers[:size], out=prefix[1:], dtype=np.uint64)
        np.cumsum(prefix[1:], out=prefix[1:])
        raw = (prefix[token_end] - prefix[token_begin]) * inverses[token_begin]
        raw += (token_end - token_begin).astype(np.uint64) * _LENGTH_MIX
        token_hashes = fmix64(raw)

    # Documents' token ranges, and n per document.
    doc_token_start = np.searchsorted(token_begin, offsets)
    tokens_per_doc = np.diff(doc_token_start)
    if cjk_ngram_size != ngram_size:
        token_is_cjk = is_cjk[token_begin].astype(np.int64)
        cjk_prefix = np.concatenate([[0], np.cumsum(token_is_cjk)])
        cjk_per_doc = cjk_prefix[doc_token_start[1:]] - cjk_prefix[doc_token_start[:-1]]
        doc_n = np.where(2 * cjk_per_doc > tokens_per_doc, cjk_ngram_size, ngram_size)
    else:
        doc_n = np.full(num_docs, ngram_size)
    doc_n = doc_n.astype(np.int64)
    # A document with t >= n tokens has t - n + 1 shingles; one with 0 < t < n has one (all tokens).
    counts = np.where(tokens_per_doc >= doc_n, tokens_per_doc - doc_n + 1, np.minimum(tokens_per_doc, 1))
    shingle_offsets = np.zeros(num_docs + 1, dtype=np.int64)
    np.cumsum(counts, out=shingle_offsets[1:])
    total = int(shingle_offsets[-1])
    shingle_doc = np.repeat(np.arange(num_docs), counts)
    positions = np.arange(total, dtype=np.int64) + (doc_token_start[:-1] - shingle_offsets[:-1])[shingle_doc]
    window = np.minimum(doc_n, tokens_per_doc)[shingle_doc]

    # A shingle's value depends only on its first token and its width, so shingles are computed per
    # width: as sliding sums over the whole token array for the common widths, by gathering for the
    # few short documents.
    num_tokens = len(token_hashes)
    shingles = np.empty(total, dtype=np.uint64)
    widths, width_counts = np.unique(window, return_counts=True)
    with np.errstate(over="ignore"):
        for width, count in zip(widths.tolist(), width_counts.tolist()):
            chosen = slice(None) if len(widths) == 1 else np.flatnonzero(window == width)
            starts = positions[chosen]
            if count * 4 >= num_tokens:
                sliding = token_hashes * _Q[0]
                for j in range(1, width):
                    sliding[: num_tokens - j] += token_hashes[j:] * _Q[j]
                values = sliding[starts]
            else:
                values = token_hashes[starts] * _Q[0]
                for j in range(1, width):
                    values += token_hashes[starts + j] * _Q[j]
            shingles[chosen] = values + np.uint64(width)
        hashed = (fmix64(shingles) >> _U64(32)).astype(np.uint32)
    return Shingles(hashed, shingle_offsets)
