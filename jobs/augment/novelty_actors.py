"""The Self-Instruct pool split across Ray actors: the distributed novelty check.

Each ``NoveltyPartition`` actor holds one share of the pool (a ``NoveltyIndex`` per language). A round's
candidates go to every partition at once; a candidate is novel against the pool iff it is novel in every
share (``merge_verdicts``), and the driver then decides the round's candidates against each other, in
order (``resolve_round``). The accepted ones join the partitions in turn. The decisions are exactly those
of one ``NoveltyIndex`` holding the whole pool, whatever the number of partitions; only memory and the
time of a round divide by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ray
from sftforge.operators.augment.novelty import NoveltyIndex, NoveltyVerdict, merge_verdicts, resolve_round


class NoveltyPartition:
    """One share of the pool, per language (a Ray actor)."""

    def __init__(self, threshold: float, keep_texts: bool = True):
        self.threshold = threshold
        self.keep_texts = keep_texts
        self.indexes: dict[str, NoveltyIndex] = {}

    def _index(self, language: str) -> NoveltyIndex:
        if language not in self.indexes:
            self.indexes[language] = NoveltyIndex(self.threshold, keep_texts=self.keep_texts)
        return self.indexes[language]

    def extend(self, language: str, texts: list[str]) -> int:
        """Adds ``texts`` unconditionally; returns the share's size in ``language``."""
        index = self._index(language)
        index.extend(texts)
        return len(index)

    def verdicts(self, language: str, texts: list[str]) -> list[NoveltyVerdict]:
        """Each text against this share alone."""
        return self._index(language).pool_verdicts(texts)


class DistributedNoveltyPool:
    """A pool in ``partitions`` actors, answering like one ``NoveltyIndex`` per language.

    Args:
        partitions: Actors the pool is split across.
        threshold: ROUGE-L F1 at or above which a candidate is a near copy.
        num_cpus: CPUs each actor reserves.
    """

    def __init__(
        self, partitions: int, threshold: float = 0.7, *, num_cpus: float = 1.0, keep_texts: bool = True
    ):
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        actor = ray.remote(num_cpus=num_cpus, max_restarts=0)(NoveltyPartition)
        self.threshold = threshold
        self.actors = [actor.remote(threshold, keep_texts) for _ in range(partitions)]
        self.sizes: dict[str, int] = {}

    def language(self, language: str) -> LanguagePool:
        """The pool of one language, with the ``NoveltyIndex`` methods Self-Instruct uses."""
        return LanguagePool(self, language)

    def extend(self, language: str, texts: Iterable[str]) -> None:
        """Adds texts unconditionally, dealt to the partitions in turn (the k-th text of the language
        to partition k mod P), so a resumed run rebuilds the same shares."""
        texts = list(texts)
        start = self.sizes.get(language, 0)
        count = len(self.actors)
        refs = []
        for k, actor in enumerate(self.actors):
            share = texts[(k - start) % count :: count]
            if share:
                refs.append(actor.extend.remote(language, share))
        ray.get(refs)
        self.sizes[language] = start + len(texts)

    def filter_round(self, language: str, texts: Sequence[str]) -> list[NoveltyVerdict]:
        """A round's candidates, in order, against the pool and each other; the accepted ones join it."""
        texts = list(texts)
        if not texts:
            return []
        per_partition = ray.get([actor.verdicts.remote(language, texts) for actor in self.actors])
        verdicts = resolve_round(texts, merge_verdicts(per_partition), self.threshold)
        self.extend(language, [text for text, verdict in zip(texts, verdicts) if verdict.novel])
        return verdicts

    def close(self) -> None:
        """Ends the actors."""
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []


class LanguagePool:
    """One language of a ``DistributedNoveltyPool``, used where a ``NoveltyIndex`` is.

    Unconditional additions (a resumed run adds its accepted instructions one by one) are sent in one
    batch before the next question.
    """

    def __init__(self, pool: DistributedNoveltyPool, language: str):
        self.pool = pool
        self.language = language
        self._pending: list[str] = []

    def _flush(self) -> None:
        if self._pending:
            self.pool.extend(self.language, self._pending)
            self._pending = []

    def __len__(self) -> int:
        self._flush()
        return self.pool.sizes.get(self.language, 0)

    def add(self, text: str) -> None:
        self._pending.append(text)

    def extend(self, texts: Iterable[str]) -> None:
        self._pending.extend(texts)

    def filter_round(self, texts: Sequence[str]) -> list[NoveltyVerdict]:
        self._flush()
        return self.pool.filter_round(self.language, texts)

    def add_if_novel(self, text: str) -> NoveltyVerdict:
        return self.filter_round([text])[0]


def novelty_pools(
    languages: Iterable[str], threshold: float, partitions: int
) -> dict[str, NoveltyIndex | LanguagePool]:
    """One pool per language: a ``NoveltyIndex`` in this process when ``partitions`` is 1, else one
    ``DistributedNoveltyPool`` of ``partitions`` actors shared by the languages."""
    languages = list(languages)
    if partitions <= 1:
        return {language: NoveltyIndex(threshold) for language in languages}
    pool = DistributedNoveltyPool(partitions, threshold)
    return {language: pool.language(language) for language in languages}
