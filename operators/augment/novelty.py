"""The Self-Instruct novelty filter: a candidate is kept only if its ROUGE-L F1 is below the threshold
(0.7 in the paper) against every instruction in the pool and every earlier accepted candidate of its
round.

``NoveltyIndex`` holds a pool (or one partition of a pool) as a few immutable ``NoveltySegment`` s plus
a small tail of the latest additions, and answers for whole batches of candidates. The decisions are
exactly those of ``naive_scan``, the full scan, only far fewer pairs get an LCS.

A pool can be split across workers: each holds a ``NoveltyIndex`` of its share and answers
``pool_verdicts``; ``merge_verdicts`` combines them (novel iff novel in every share), and
``resolve_round`` then decides the candidates of one round against each other, in order. ``filter_round``
does all of that in one process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sftforge.operators.augment.novelty_segment import NoveltySegment
from sftforge.operators.augment.rouge import (
    lcs_length,
    lcs_with_masks,
    match_masks,
    rouge_l,
    rouge_l_text,
    rouge_tokens,
)

__all__ = [
    "NoveltyIndex",
    "NoveltyVerdict",
    "filter_round",
    "lcs_length",
    "merge_verdicts",
    "naive_scan",
    "resolve_round",
    "rouge_l",
    "rouge_l_text",
    "rouge_tokens",
]


@dataclass(frozen=True)
class NoveltyVerdict:
    """Whether a candidate is new enough, with the evidence when it is not.

    Attributes:
        novel: True when no instruction compared with reaches the threshold.
        score: ROUGE-L of the match found, else the highest score among the instructions that got an
            exact LCS (0.0 when none did).
        match: Text of the matching instruction (None when novel, or when texts are not kept).
        compared: Instructions that got an exact LCS.
    """

    novel: bool
    score: float
    match: str | None = None
    compared: int = 0


NOVEL = NoveltyVerdict(novel=True, score=0.0)


class NoveltyIndex:
    """A growing pool of instructions that answers "is this candidate new?" exactly and fast.

    Additions go to a tail; a full tail becomes a segment, and segments of similar size merge, so a
    pool of ``N`` has ``O(log N)`` segments and each instruction is re-indexed ``O(log N)`` times.

    Args:
        threshold: ROUGE-L F1 at or above which a candidate is a near copy (in (0, 1]).
        keep_texts: Keep each instruction's text to name the match in verdicts (costs memory).
        tail_size: Additions kept in the tail before they become a segment.
    """

    def __init__(self, threshold: float = 0.7, *, keep_texts: bool = True, tail_size: int = 256):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if tail_size < 1:
            raise ValueError("tail_size must be >= 1")
        self.threshold = threshold
        self._keep_texts = keep_texts
        self._tail_size = tail_size
        self._vocab: dict[str, int] = {}
        self._segments: list[NoveltySegment] = []
        self._segment_texts: list[list[str]] = []
        self._tail: list[list[int]] = []
        self._tail_texts: list[str] = []

    def __len__(self) -> int:
        return sum(len(segment) for segment in self._segments) + len(self._tail)

    @property
    def segments(self) -> int:
        """Segments the pool is held in (the tail not counted)."""
        return len(self._segments)

    def _ids(self, tokens: Sequence[str], grow: bool) -> list[int]:
        vocab = self._vocab
        if grow:
            return [vocab.setdefault(token, len(vocab)) for token in tokens]
        return [vocab.get(token, -1) for token in tokens]

    # --- adding -------------------------------------------------------------------------------------

    def add(self, text: str) -> None:
        """Adds ``text`` to the pool unconditionally (seed tasks, or a resumed run's accepted ones)."""
        self._add_tokens(text, rouge_tokens(text))

    def extend(self, texts: Iterable[str]) -> None:
        """Adds many texts unconditionally, as one new segment (fast for a whole pool at once)."""
        sequences, kept = [], []
        for text in texts:
            tokens = rouge_tokens(text)
            if tokens:  # an instruction with no tokens can match nothing
                sequences.append(self._ids(tokens, grow=True))
                kept.append(text)
        if len(sequences) < self._tail_size:
            for text, ids in zip(kept, sequences):
                self._append_tail(text, ids)
            return
        self._flush()
        self._push(NoveltySegment.of(sequences, self.threshold), kept if self._keep_texts else [])

    def _add_tokens(self, text: str, tokens: list[str]) -> None:
        if tokens:
            self._append_tail(text, self._ids(tokens, grow=True))

    def _append_tail(self, text: str, ids: list[int]) -> None:
        self._tail.append(ids)
        if self._keep_texts:
            self._tail_texts.append(text)
        if len(self._tail) >= self._tail_size:
            self._flush()

    def _flush(self) -> None:
        if self._tail:
            self._push(NoveltySegment.of(self._tail, self.threshold), self._tail_texts)
            self._tail, self._tail_texts = [], []

    def _push(self, segment: NoveltySegment, texts: list[str]) -> None:
        self._segments.append(segment)
        self._segment_texts.append(texts)
        # Merge while the newest segment is at least half its predecessor: sizes at least double down
        # the list, so there are at most log2(N / tail_size) + 1 of them.
        while len(self._segments) >= 2 and 2 * len(self._segments[-1]) >= len(self._segments[-2]):
            newer, older = self._segments.pop(), self._segments.pop()
            newer_texts, older_texts = self._segment_texts.pop(), self._segment_texts.pop()
            self._segments.append(NoveltySegment.merged(older, newer))
            self._segment_texts.append(older_texts + newer_texts)

    # --- checking -----------------------------------------------------------------------------------

    def check(self, text: str) -> NoveltyVerdict:
        """Compares ``text`` with the pool without adding it."""
        return self.pool_verdicts([text])[0]

    def add_if_novel(self, text: str) -> NoveltyVerdict:
        """Checks ``text`` and adds it when it is novel; returns the verdict."""
        tokens = rouge_tokens(text)
        verdict = self._verdicts([tokens])[0]
        if verdict.novel:
            self._add_tokens(text, tokens)
        return verdict

    def pool_verdicts(self, texts: Sequence[str]) -> list[NoveltyVerdict]:
        """Each text against the pool alone (not against each other); adds nothing."""
        return self._verdicts([rouge_tokens(text) for text in texts])

    def filter_round(self, texts: Sequence[str]) -> list[NoveltyVerdict]:
        """One round's candidates, in order: each against the pool and the earlier accepted ones; the
        accepted ones join the pool. Same decisions as ``add_if_novel`` on each text in turn."""
        tokens = [rouge_tokens(text) for text in texts]
        verdicts = resolve_round(texts, self._verdicts(tokens), self.threshold, tokens=tokens)
        for text, token_list, verdict in zip(texts, tokens, verdicts):
            if verdict.novel:
                self._add_tokens(text, token_list)
        return verdicts

    def _verdicts(self, token_lists: Sequence[list[str]]) -> list[NoveltyVerdict]:
        queries = [self._ids(tokens, grow=False) for tokens in token_lists]
        verdicts: list[NoveltyVerdict | None] = [NOVEL if not q else None for q in queries]
        best = [0.0] * len(queries)
        compared = [0] * len(queries)
        blocks = list(zip(self._segments, self._segment_texts))
        # Many queries: the tail as a throwaway segment (one build, then batched); few: a plain scan.
        tail_as_segment = self._tail and len(queries) * len(self._tail) >= 4096
        if tail_as_segment:
            blocks.append((NoveltySegment.of(self._tail, self.threshold), self._tail_texts))
        for segment, texts in blocks:
            open_ = [i for i, verdict in enumerate(verdicts) if verdict is None]
            if not open_:
                break
            found, scores, counts = segment.matches([queries[i] for i in open_])
            for k, i in enumerate(open_):
                compared[i] += int(counts[k])
                if found[k]:
                    record, score = found[k][0]
                    verdicts[i] = NoveltyVerdict(False, score, texts[record] if texts else None, compared[i])
                else:
                    best[i] = max(best[i], float(scores[k]))
        for i, verdict in enumerate(verdicts):
            if verdict is None:
                if tail_as_segment:
                    verdicts[i] = NoveltyVerdict(True, best[i], None, compared[i])
                else:
                    verdicts[i] = self._tail_verdict(queries[i], best[i], compared[i])
        return verdicts  # type: ignore[return-value]

    def _tail_verdict(self, query: list[int], best: float, compared: int) -> NoveltyVerdict:
        """The query against the tail: a plain scan with a length and token-count filter first."""
        m = len(query)
        masks = None
        known = set(query)
        for position, ids in enumerate(self._tail):
            n = len(ids)
            needed = self.threshold * (m + n) / 2.0 - 1e-9
            if min(m, n) < needed or sum(1 for token in ids if token in known) < needed:
                continue
            masks = masks or match_masks(query)
            score = 2.0 * lcs_with_masks(masks, m, ids) / (m + n)
            compared += 1
            if score >= self.threshold:
                match = self._tail_texts[position] if self._keep_texts else None
                return NoveltyVerdict(False, score, match, compared)
            best = max(best, score)
        return NoveltyVerdict(True, best, None, compared)


def merge_verdicts(per_partition: Sequence[Sequence[NoveltyVerdict]]) -> list[NoveltyVerdict]:
    """Verdicts of the same candidates from each partition of a pool: novel iff novel in every one
    (the first partition's match is reported; ``compared`` is summed)."""
    merged = []
    for verdicts in zip(*per_partition, strict=True):
        compared = sum(v.compared for v in verdicts)
        match = next((v for v in verdicts if not v.novel), None)
        if match is not None:
            merged.append(NoveltyVerdict(False, match.score, match.match, compared))
        else:
            merged.append(NoveltyVerdict(True, max(v.score for v in verdicts), None, compared))
    return merged


def resolve_round(
    texts: Sequence[str],
    pool: Sequence[NoveltyVerdict],
    threshold: float = 0.7,
    *,
    tokens: Sequence[list[str]] | None = None,
) -> list[NoveltyVerdict]:
    """Final verdicts of one round: a candidate novel against the pool is still rejected when it is a
    near copy of an earlier candidate of the round that was accepted.

    Args:
        texts: The round's candidates, in order.
        pool: Their verdicts against the whole pool (``merge_verdicts`` of the partitions').
        threshold: ROUGE-L F1 at or above which two instructions are near copies.
        tokens: ``rouge_tokens`` of each text, when already known.
    """
    tokens = tokens if tokens is not None else [rouge_tokens(text) for text in texts]
    open_ = [i for i, verdict in enumerate(pool) if verdict.novel and tokens[i]]
    if len(open_) < 2:
        return list(pool)
    vocab: dict[str, int] = {}
    sequences = [[vocab.setdefault(token, len(vocab)) for token in tokens[i]] for i in open_]
    found, _, _ = NoveltySegment.of(sequences, threshold).matches(sequences, first_only=False)
    verdicts = list(pool)
    accepted = [False] * len(open_)
    for k, i in enumerate(open_):
        earlier = [(j, score) for j, score in found[k] if j < k and accepted[j]]
        if earlier:
            j, score = earlier[0]
            verdicts[i] = NoveltyVerdict(False, score, texts[open_[j]], pool[i].compared + 1)
        else:
            accepted[k] = True
    return verdicts


def filter_round(texts: Sequence[str], partitions: Sequence[NoveltyIndex]) -> list[NoveltyVerdict]:
    """One round against a pool split into ``partitions``: decisions equal those of one index.

    Adds nothing: the caller adds the accepted candidates to a partition of its choice.
    """
    tokens = [rouge_tokens(text) for text in texts]
    threshold = partitions[0].threshold
    merged = merge_verdicts([partition._verdicts(tokens) for partition in partitions])
    return resolve_round(texts, merged, threshold, tokens=tokens)


def naive_scan(text: str, pool_tokens: Sequence[Sequence[str]], threshold: float = 0.7) -> NoveltyVerdict:
    """The full scan that ``NoveltyIndex`` replaces: one exact ROUGE-L per pool instruction.

    Stops at the first pool instruction at or above the threshold.
    """
    tokens = rouge_tokens(text)
    m = len(tokens)
    if m == 0:
        return NoveltyVerdict(novel=True, score=0.0)
    masks = match_masks(tokens)
    best = 0.0
    for compared, other in enumerate(pool_tokens, start=1):
        if not other:
            continue
        score = 2.0 * lcs_with_masks(masks, m, other) / (m + len(other))
        if score >= threshold:
            return NoveltyVerdict(novel=False, score=score, compared=compared)
        best = max(best, score)
    return NoveltyVerdict(novel=True, score=best, compared=len(pool_tokens))
