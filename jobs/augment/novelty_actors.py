"""The Self-Instruct pool split across Ray actors: the distributed novelty check.

Each ``NoveltyPartition`` actor holds one share of the pool (a ``NoveltyIndex`` per language). A round's
candidates go to every partition at once; a candidate is novel against the pool iff it is novel in every
share (``merge_verdicts``), and the driver then decides the round's candidates against each other, in
order (``resolve_round``). The accepted ones join the partitions in turn. The decisions are exactly those
of one ``NoveltyIndex`` holding the whole pool, whatever the number of partitions; only memory and the
time of a round divide by it.

A partition actor that dies (a node lost, SIGKILL, out of memory) is restarted by Ray with an empty
share. Every call says how many texts the share should hold; a partition that holds fewer answers
"stale", and the driver rebuilds its share from its own list of the pool (references to the texts it
keeps anyway: a pointer per instruction) and asks again. The decisions are those of a run without
the failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ray
from sftforge.operators.augment.novelty import NoveltyIndex, NoveltyVerdict, merge_verdicts, resolve_round

#: Restarts of a partition actor (each rebuilds its share) before the run fails.
MAX_RESTARTS = 3

#: What a partition answers when it holds fewer texts than the driver says it should (it was restarted).
STALE = "stale"


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

    def extend(self, language: str, texts: list[str], size_before: int = 0) -> int | str:
        """Adds ``texts`` unconditionally to a share of ``size_before`` texts; returns the share's size in
        ``language``, or ``STALE`` (nothing added) when the share does not hold ``size_before`` texts."""
        index = self._index(language)
        if len(index) != size_before:
            return STALE
        index.extend(texts)
        return len(index)

    def rebuild(self, language: str, texts: list[str]) -> int:
        """Replaces the share in ``language`` by ``texts``; returns its size."""
        self.indexes.pop(language, None)
        return self.extend(language, texts)

    def verdicts(self, language: str, texts: list[str], size: int | None = None) -> list[NoveltyVerdict] | str:
        """Each text against this share alone; ``STALE`` when the share does not hold ``size`` texts."""
        index = self._index(language)
        if size is not None and len(index) != size:
            return STALE
        return index.pool_verdicts(texts)


class DistributedNoveltyPool:
    """A pool in ``partitions`` actors, answering like one ``NoveltyIndex`` per language.

    Args:
        partitions: Actors the pool is split across.
        threshold: ROUGE-L F1 at or above which a candidate is a near copy.
        num_cpus: CPUs each actor reserves.
        partition_class: The actor's class (a subclass in tests).
    """

    def __init__(
        self, partitions: int, threshold: float = 0.7, *, num_cpus: float = 1.0, keep_texts: bool = True,
        partition_class: type[NoveltyPartition] = NoveltyPartition,
    ):
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        actor = ray.remote(num_cpus=num_cpus, max_restarts=MAX_RESTARTS)(partition_class)
        self.threshold = threshold
        self.actors = [actor.remote(threshold, keep_texts) for _ in range(partitions)]
        # The whole pool per language, in the order it was added: partition k holds texts[k::P].
        self.texts: dict[str, list[str]] = {}
        self.restarts = 0  # shares rebuilt after a partition was restarted

    @property
    def sizes(self) -> dict[str, int]:
        return {language: len(texts) for language, texts in self.texts.items()}

    def language(self, language: str) -> LanguagePool:
        """The pool of one language, with the ``NoveltyIndex`` methods Self-Instruct uses."""
        return LanguagePool(self, language)

    def _share(self, language: str, k: int) -> list[str]:
        return self.texts.get(language, [])[k :: len(self.actors)]

    def _share_size(self, language: str, k: int, total: int | None = None) -> int:
        """Texts partition ``k`` holds of the first ``total`` (default: all) of the language."""
        total = len(self.texts.get(language, [])) if total is None else total
        return max(0, -(-(total - k) // len(self.actors)))

    def _ask(
        self, language: str, call: Callable[[int], Any], partitions: Iterable[int], *, again: bool = True
    ) -> dict[int, Any]:
        """``call(k)`` (an actor call's ref) on each partition; a partition that died in the call or
        answers ``STALE`` gets its share rebuilt and is asked again (``again``; else the rebuild, which
        holds the whole share, stands for the call and its answer is the share's size)."""
        pending = {k: call(k) for k in partitions}
        answers: dict[int, Any] = {}
        for attempt in range(MAX_RESTARTS + 2):
            retry = []
            for k, ref in pending.items():
                try:
                    answer = ray.get(ref)
                except ray.exceptions.RayActorError:
                    answer = STALE
                if isinstance(answer, str) and answer == STALE:
                    retry.append(k)
                else:
                    answers[k] = answer
            if not retry:
                return answers
            if attempt > MAX_RESTARTS:
                break
            pending = {}
            for k in retry:  # a call to a restarting actor waits until it is back
                self.restarts += 1
                try:
                    size = ray.get(self.actors[k].rebuild.remote(language, self._share(language, k)))
                except ray.exceptions.RayActorError:
                    pending[k] = call(k)  # died again: STALE or dead, rebuilt on the next turn
                    continue
                if again:
                    pending[k] = call(k)
                else:
                    answers[k] = size
            if not pending:
                return answers
        raise RuntimeError(f"novelty partitions {sorted(pending)} did not come back after {MAX_RESTARTS} restarts")

    def extend(self, language: str, texts: Iterable[str]) -> None:
        """Adds texts unconditionally, dealt to the partitions in turn (the k-th text of the language
        to partition k mod P), so a resumed run rebuilds the same shares."""
        texts = list(texts)
        if not texts:
            return
        pool = self.texts.setdefault(language, [])
        start = len(pool)
        pool.extend(texts)
        count = len(self.actors)
        before = {k: self._share_size(language, k, start) for k in range(count)}
        shares = {k: texts[(k - start) % count :: count] for k in range(count)}
        # A restarted partition answers STALE without adding: its rebuilt share includes these texts.
        self._ask(language, lambda k: self.actors[k].extend.remote(language, shares[k], before[k]),
                  [k for k in range(count) if shares[k]], again=False)

    def filter_round(self, language: str, texts: Sequence[str]) -> list[NoveltyVerdict]:
        """A round's candidates, in order, against the pool and each other; the accepted ones join it."""
        texts = list(texts)
        if not texts:
            return []
        answers = self._ask(
            language,
            lambda k: self.actors[k].verdicts.remote(language, texts, self._share_size(language, k)),
            range(len(self.actors)),
        )
        per_partition = [answers[k] for k in range(len(self.actors))]
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
        return len(self.pool.texts.get(self.language, ()))

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
    languages: Iterable[str], threshold: float, partitions: int,
    partition_class: type[NoveltyPartition] = NoveltyPartition,
) -> dict[str, NoveltyIndex | LanguagePool]:
    """One pool per language: a ``NoveltyIndex`` in this process when ``partitions`` is 1, else one
    ``DistributedNoveltyPool`` of ``partitions`` actors shared by the languages (``close_pools`` ends
    them)."""
    languages = list(languages)
    if partitions <= 1:
        return {language: NoveltyIndex(threshold) for language in languages}
    pool = DistributedNoveltyPool(partitions, threshold, partition_class=partition_class)
    return {language: pool.language(language) for language in languages}


def close_pools(pools: Iterable[NoveltyIndex | LanguagePool]) -> None:
    """Ends the partition actors behind ``pools`` (nothing for pools in this process)."""
    for pool in {id(p.pool): p.pool for p in pools if isinstance(p, LanguagePool)}.values():
        pool.close()
