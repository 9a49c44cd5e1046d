import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from sftforge.operators.dedup.minhash import (
    EMPTY,
    band_keys,
    estimated_jaccard,
    has_signature,
    lsh_bands,
    permutations,
    signatures,
)
from sftforge.operators.dedup.shingles import Shingles, reference_shingle_hashes, shingle_hashes, tokenize

from tests.support.words import WORDS


def _document(rng: random.Random, length: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(length))


def _edited(rng: random.Random, text: str, edits: int) -> str:
    words = text.split()
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(WORDS).upper() + "x"
    return " ".join(words)


def _datasketch(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    sketch = MinHash(num_perm=num_perm, seed=seed, hashfunc=int, scheme="affine32")
    sketch.update_batch(hashes.tolist())
    return sketch.hashvalues


def test_permutations_are_datasketchs():
    for num_perm, seed in ((128, 1), (64, 42), (256, 7)):
        a, b = permutations(num_perm, seed)
        expected = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        assert np.array_equal(a, expected[0]) and np.array_equal(b, expected[1])


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42), (256, 7)])
def test_signatures_are_identical_to_datasketch_for_the_same_shingle_hashes(num_perm, seed):
    rng = random.Random(seed)
    texts = [_document(rng, rng.randint(1, 300)) for _ in range(40)]
    texts += ["", "今天天气很好，我们去公园散步吧。", "mixed 中文 and English 文本"]
    shingles = shingle_hashes(texts)
    ours = signatures(shingles, num_perm, seed)
    for index, text in enumerate(texts):
        hashes = shingles.hashes[shingles.offsets[index] : shingles.offsets[index + 1]]
        assert np.array_equal(ours[index], _datasketch(hashes, num_perm, seed)), text


def test_a_document_longer_than_one_vectorised_step_is_reduced_across_steps():
    rng = random.Random(3)
    long_text = _document(rng, 30_000)
    shingles = shingle_hashes(["short one here", long_text, "another short"])
    ours = signatures(shingles, 128, 1)
    for index in range(3):
        hashes = shingles.hashes[shingles.offsets[index] : shingles.offsets[index + 1]]
        assert np.array_equal(ours[index], _datasketch(hashes, 128, 1))


def test_jaccard_estimates_agree_with_datasketch_on_its_own_hashing():
    """Against datasketch with its default SHA-1 shingle hashing, on the same shingle sets: both are
    estimators of the true Jaccard. Tolerances (128 permutations, sigma <= 0.044): every estimate within
    0.15 of the truth; mean signed error within 0.02 (unbiased); mean absolute error at most 1.25x
    datasketch's plus 0.005 (as accurate)."""
    rng = random.Random(11)
    ours_errors, theirs_errors = [], []
    for _ in range(80):
        base = _document(rng, rng.randint(80, 200))
        other = _edited(rng, base, rng.randint(0, 12))
        ours = signatures(shingle_hashes([base, other]), 128, 1)
        sets, sketches = [], []
        for text in (base, other):
            tokens = tokenize(text)
            grams = {" ".join(tokens[i : i + 5]) for i in range(max(1, len(tokens) - 4))}
            sets.append(grams)
            sketch = MinHash(num_perm=128, seed=1)
            sketch.update_batch([gram.encode() for gram in grams])
            sketches.append(sketch)
        truth = len(sets[0] & sets[1]) / len(sets[0] | sets[1])
        ours_errors.append(float(estimated_jaccard(ours[0], ours[1])) - truth)
        theirs_errors.append(sketches[0].jaccard(sketches[1]) - truth)
    ours_errors, theirs_errors = np.array(ours_errors), np.array(theirs_errors)
    assert np.abs(ours_errors).max() <= 0.15 and np.abs(theirs_errors).max() <= 0.15
    assert abs(ours_errors.mean()) <= 0.02
    assert np.abs(ours_errors).mean() <= 1.25 * np.abs(theirs_errors).mean() + 0.005


def test_signatures_are_deterministic_and_empty_documents_have_none():
    texts = ["a b c d e f g", "", "!!!"]
    first = signatures(shingle_hashes(texts))
    second = signatures(shingle_hashes(texts))
    assert np.array_equal(first, second)
    assert has_signature(first).tolist() == [True, False, False]
    assert (first[1] == EMPTY).all()


#: (bands, rows) per (num_perm, false_negative_weight) at each of THRESHOLDS, as datasketch's
#: ``MinHashLSH(threshold, num_perm, weights=(1 - w, w))`` chose them (recorded from it, when sftforge
#: still called its private routine).
THRESHOLDS = (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
RECORDED_BANDS = {
    (16, 0.1): [(5, 3), (3, 5), (2, 7), (2, 8), (1, 13), (1, 16), (1, 16), (1, 16), (1, 16)],
    (16, 0.5): [(8, 2), (5, 3), (4, 4), (3, 5), (2, 6), (2, 8), (2, 8), (1, 15), (1, 16)],
    (16, 0.7): [(6, 1), (6, 2), (5, 3), (4, 4), (3, 5), (3, 5), (2, 8), (2, 8), (1, 16)],
    (16, 0.9): [(10, 1), (8, 2), (6, 2), (5, 3), (4, 4), (4, 4), (3, 5), (2, 7), (2, 8)],
    (32, 0.1): [(8, 4), (5, 6), (4, 8), (3, 10), (2, 14), (2, 16), (1, 23), (1, 32), (1, 32)],
    (32, 0.5): [(12, 2), (8, 4), (6, 5), (5, 6), (4, 8), (3, 10), (3, 10), (2, 16), (1, 32)],
    (32, 0.7): [(16, 2), (10, 3), (8, 4), (6, 5), (5, 6), (4, 8), (3, 10), (2, 13), (2, 16)],
    (32, 0.9): [(10, 1), (10, 2), (10, 3), (8, 4), (6, 5), (6, 5), (5, 6), (4, 8), (2, 15)],
    (64, 0.1): [(16, 4), (9, 7), (7, 9), (5, 12), (4, 15), (3, 19), (2, 25), (2, 32), (1, 64)],
    (64, 0.5): [(21, 3), (14, 4), (10, 6), (8, 8), (7, 9), (5, 11), (4, 15), (3, 21), (2, 32)],
    (64, 0.7): [(19, 2), (16, 4), (12, 5), (10, 6), (8, 8), (7, 9), (5, 12), (4, 16), (2, 27)],
    (64, 0.9): [(32, 2), (21, 3), (16, 4), (12, 5), (10, 6), (9, 7), (7, 9), (5, 12), (3, 19)],
    (128, 0.1): [(25, 5), (16, 8), (12, 10), (9, 14), (8, 16), (6, 21), (5, 25), (3, 42), (2, 64)],
    (128, 0.5): [(37, 3), (25, 5), (18, 7), (14, 9), (11, 11), (9, 13), (8, 16), (5, 25), (3, 42)],
    (128, 0.7): [(42, 3), (25, 5), (21, 6), (16, 8), (14, 9), (11, 11), (9, 14), (6, 20), (4, 32)],
    (128, 0.9): [(32, 2), (32, 4), (25, 5), (20, 6), (16, 8), (14, 9), (11, 11), (8, 16), (5, 25)],
    (256, 0.1): [(51, 5), (32, 8), (23, 11), (17, 15), (14, 18), (11, 23), (8, 31), (6, 42), (3, 85)],
    (256, 0.5): [(64, 4), (42, 6), (32, 8), (25, 10), (21, 12), (17, 15), (13, 19), (9, 28), (5, 51)],
    (256, 0.7): [(59, 3), (45, 5), (36, 7), (28, 9), (23, 11), (19, 13), (15, 17), (11, 23), (6, 42)],
    (256, 0.9): [(85, 3), (42, 4), (42, 6), (32, 8), (28, 9), (23, 11), (18, 14), (13, 19), (8, 32)],
}


def test_bands_are_the_ones_datasketch_chooses():
    for (num_perm, weight), expected in RECORDED_BANDS.items():
        for threshold, bands in zip(THRESHOLDS, expected, strict=True):
            assert lsh_bands(threshold, num_perm, weight) == bands, (threshold, num_perm, weight)
    for threshold, num_perm, weight in ((0.8, 128, 0.5), (0.7, 200, 0.9)):
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(1 - weight, weight))
        assert lsh_bands(threshold, num_perm, weight) == (lsh.b, lsh.r)
    assert lsh_bands(0.8, 128) == (9, 13)
    assert lsh_bands(0.8, 128, 0.9) == (14, 9)


def test_band_keys_meet_only_on_equal_bands():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 2**32, size=(3, 128), dtype=np.uint64).astype(np.uint32)
    rows[1] = rows[0]
    rows[1, 13:] += 1  # band 0 equal, every other band differs
    keys = band_keys(rows, 9, 13)
    assert keys.shape == (3, 9) and keys.dtype == np.uint64
    assert keys[0, 0] == keys[1, 0]
    assert (keys[0, 1:] != keys[1, 1:]).all()
    same_values_other_band = rows.copy()
    same_values_other_band[2, 13:26] = rows[0, :13]
    keys = band_keys(same_values_other_band, 9, 13)
    assert keys[2, 1] != keys[0, 0]


def test_reference_and_batch_shingles_feed_the_same_signature():
    text = "The committee met on Tuesday to discuss the new budget proposal for the city parks."
    reference = reference_shingle_hashes(text)
    offsets = np.array([0, len(reference)], dtype=np.int64)
    assert np.array_equal(signatures(Shingles(reference, offsets)), signatures(shingle_hashes([text])))
