"""chrF (Popovic, 2015): character n-gram F-score, the meaning check of round-trip paraphrases.

Character n-grams of orders 1 to 6 with whitespace removed; precision and recall are averaged over
the orders that both texts are long enough to have, then combined as an F-score with recall weighted
``beta`` times as much as precision (beta = 2, as in the paper and in sacrebleu's default). Scores are
on a 0-100 scale. Character n-grams need no tokeniser, so Chinese and English are scored alike.
"""

from __future__ import annotations

from collections import Counter


def _ngrams(text: str, order: int) -> Counter:
    return Counter(text[i : i + order] for i in range(len(text) - order + 1))


def chrf(hypothesis: str, reference: str, *, order: int = 6, beta: float = 2.0) -> float:
    """chrF of ``hypothesis`` against ``reference``, 0 to 100.

    Args:
        hypothesis: The paraphrase or translation to score.
        reference: The text it should keep the meaning of.
        order: Highest character n-gram order.
        beta: Weight of recall relative to precision.

    Returns:
        100.0 for texts equal up to whitespace, 0.0 when they share no character or either is blank.
    """
    hyp = "".join(hypothesis.split())
    ref = "".join(reference.split())
    if not hyp or not ref:
        return 0.0
    precisions, recalls = [], []
    for n in range(1, order + 1):
        hyp_grams, ref_grams = _ngrams(hyp, n), _ngrams(ref, n)
        if not hyp_grams or not ref_grams:
            break  # longer orders cannot exist either
        matches = sum((hyp_grams & ref_grams).values())
        precisions.append(matches / sum(hyp_grams.values()))
        recalls.append(matches / sum(ref_grams.values()))
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    if precision == 0.0 and recall == 0.0:
        return 0.0
    factor = beta * beta
    return 100.0 * (1 + factor) * precision * recall / (factor * precision + recall)
