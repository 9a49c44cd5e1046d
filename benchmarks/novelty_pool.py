"""What ``bench_augment.py`` measures the novelty filter with: instruction pools, a full-scan reference,
the filter of an earlier commit, and a pool split across worker processes.

Pools: three quarters English instructions built on the frames of Self-Instruct's 175 seed tasks, most
content words replaced by words of a synthetic 200k-word vocabulary drawn with Zipf frequencies (so
common words recur as they do in real pools); one quarter Chinese questions and sentences (Ruozhiba,
lingua) with half their characters replaced by Zipf-drawn CJK characters.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
from sftforge.operators.augment.novelty import (
    NoveltyIndex,
    NoveltyVerdict,
    merge_verdicts,
    resolve_round,
    rouge_tokens,
)

_KEEP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "be",
        "with",
        "that",
        "this",
        "it",
        "as",
        "by",
        "from",
        "at",
        "your",
        "you",
        "i",
        "can",
        "what",
        "how",
        "why",
        "which",
        "who",
        "write",
        "give",
        "make",
        "list",
        "find",
        "explain",
        "describe",
    ]
)


class InstructionMaker:
    """Realistic instruction-like strings from ``data`` (``../shared/data``) and a synthetic vocabulary."""

    def __init__(self, data: Path, vocabulary: int = 200_000, seed: int = 0):
        rng = random.Random(seed)
        lines = (data / "self_instruct" / "seed_tasks.jsonl").read_text(encoding="utf-8").splitlines()
        self.frames = [json.loads(line)["instruction"] for line in lines]
        lines = (data / "ruozhiba" / "ruozhiba_qa.jsonl").read_text(encoding="utf-8").splitlines()
        self.chinese = [json.loads(line)["question"] for line in lines]
        self.chinese += [
            s for s in (data / "langid_sentences" / "zh.txt").read_text(encoding="utf-8").splitlines() if s
        ]
        syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["ar", "el", "in", "or", "us"]
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add("".join(rng.choice(syllables) for _ in range(rng.randrange(2, 5))))
        self.words = sorted(words)
        rng.shuffle(self.words)
        self.word_cdf = np.cumsum(1.0 / np.arange(1, vocabulary + 1) ** 1.05)
        self.word_cdf /= self.word_cdf[-1]
        self.chars = [chr(0x4E00 + i) for i in rng.sample(range(20992), 20992)]
        self.char_cdf = np.cumsum(1.0 / np.arange(1, 20993))
        self.char_cdf /= self.char_cdf[-1]

    def make(self, rng: random.Random, chinese: float = 0.25) -> str:
        """One new instruction, in Chinese with probability ``chinese``."""
        if rng.random() < 1.0 - chinese:
            words = rng.choice(self.frames).split()
            draws = np.searchsorted(self.word_cdf, [rng.random() for _ in words])
            return " ".join(
                self.words[d] if w.lower().strip(",.?!:") not in _KEEP and rng.random() < 0.6 else w
                for w, d in zip(words, draws)
            )
        text = rng.choice(self.chinese)
        if len(text) > 30:
            start = rng.randrange(len(text) - 20)
            text = text[start : start + rng.randrange(12, 30)]
        draws = np.searchsorted(self.char_cdf, [rng.random() for _ in text])
        return "".join(
            self.chars[d] if "\u4e00" <= c <= "\u9fff" and rng.random() < 0.5 else c
            for c, d in zip(text, draws)
        )

    def near_copy(self, rng: random.Random, text: str) -> str:
        """One or two tokens replaced, or one dropped: what models emit all the time."""
        units = text.split() if " " in text else list(text)
        for _ in range(rng.randrange(1, 3)):
            at = rng.randrange(len(units))
            if rng.random() < 0.3 and len(units) > 2:
                del units[at]
            else:
                units[at] = rng.choice(["very", "new", "the"]) if " " in text else rng.choice("新旧大小好")
        return (" " if " " in text else "").join(units)


class FullScan:
    """The naive reference: an exact LCS with every pool instruction, no filter at all.

    Bit-parallel LCS (as ``rouge.lcs_with_masks``) run on all pool rows at once with numpy, for
    candidates of up to 63 tokens (longer ones use ``naive_scan``-style Python).
    """

    def __init__(self, pool: list[str], threshold: float = 0.7):
        self.threshold = threshold
        self.vocab: dict[str, int] = {}
        sequences = [[self.vocab.setdefault(t, len(self.vocab)) for t in rouge_tokens(s)] for s in pool]
        sequences = [s for s in sequences if s]
        self.sizes = np.array([len(s) for s in sequences])
        self.columns = np.full((int(self.sizes.max()), len(sequences)), len(self.vocab), dtype=np.int32)
        for row, sequence in enumerate(sequences):
            self.columns[: len(sequence), row] = sequence
        self.sequences = sequences

    def novel(self, text: str) -> bool:
        ids = [self.vocab.get(t, -1) for t in rouge_tokens(text)]
        m = len(ids)
        if m == 0:
            return True
        if m > 63:
            from sftforge.operators.augment.rouge import lcs_length

            return all(2.0 * lcs_length(ids, s) / (m + len(s)) < self.threshold for s in self.sequences)
        mask_of = np.zeros(len(self.vocab) + 1, dtype=np.uint64)  # the padding id is the last: mask 0
        for position, token in enumerate(ids):
            if token >= 0:
                mask_of[token] |= np.uint64(1 << position)
        v = np.full(len(self.sizes), (1 << m) - 1, dtype=np.uint64)
        for column in self.columns:
            u = v & mask_of[column]
            v = (v + u) | (v - u)
        lcs = m - np.bitwise_count(v & np.uint64((1 << m) - 1)).astype(np.int64)
        return not bool(np.any(2.0 * lcs / (m + self.sizes) >= self.threshold))


def old_novelty_index(root: Path, commit: str):
    """``NoveltyIndex`` as it was at ``commit`` (loaded from git), or None when git cannot show it."""
    try:
        source = subprocess.run(
            ["git", "-C", str(root), "show", f"{commit}:operators/augment/novelty.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("old_novelty")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"{commit}:novelty.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    return module.NoveltyIndex


def _serve(connection, texts: list[str]) -> None:
    index = NoveltyIndex(0.7, keep_texts=False)
    index.extend(texts)
    connection.send(len(index))
    while (batch := connection.recv()) is not None:
        started = time.process_time()
        verdicts = [v.novel for v in index.pool_verdicts(batch)]
        connection.send((verdicts, time.process_time() - started))


class PartitionedPool:
    """A pool split across worker processes, each holding a ``NoveltyIndex`` of its share (as the
    distributed filter splits it across actors).

    ``cpu_seconds`` adds up, per round, the CPU time of the slowest worker and of the driver's merge:
    the time the round takes when each worker has a core of its own, however busy the machine is.
    """

    def __init__(self, pool: list[str], workers: int):
        context = multiprocessing.get_context("fork")
        self.connections, self.processes = [], []
        for k in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, pool[k::workers]), daemon=True)
            process.start()
            self.connections.append(parent)
            self.processes.append(process)
        for connection in self.connections:
            connection.recv()
        self.cpu_seconds = 0.0

    def filter_round(self, texts: list[str]):
        for connection in self.connections:
            connection.send(texts)
        replies = [connection.recv() for connection in self.connections]
        started = time.process_time()
        per_partition = [[NoveltyVerdict(novel, 0.0) for novel in verdicts] for verdicts, _ in replies]
        verdicts = resolve_round(texts, merge_verdicts(per_partition))
        self.cpu_seconds += max(seconds for _, seconds in replies) + time.process_time() - started
        return verdicts

    def close(self) -> None:
        for connection in self.connections:
            connection.send(None)
        for process in self.processes:
            process.join(timeout=30)
