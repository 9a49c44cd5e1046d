"""Replies of the benchmark's "model": what the test server answers to augmentation prompts at scale.

``reply(body)`` runs inside the test server's process (``openai_process.ServerProcess(reply=...)``). It
recognises each prompt by its template wording and answers deterministically from the request body:

* Self-Instruct generation: the numbered tasks asked for, made by ``novelty_pool.InstructionMaker``
  (English frames, Zipf-drawn content words), one in ten a near copy of a task the prompt showed, so
  that the novelty filter has work and rejects some;
* classification: Yes for about one task in six, else No; instances: one record in the asked format;
* round-trip translation: English text to a pivot of CJK characters (one per character, reversible), and
  back with one word added, so that the round trip changes the text and keeps its meaning.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

_MAKER = None
_PIVOT_BASE = 0x4E00


def default_data() -> Path:
    """``$SFTFORGE_BENCH_DATA``, else the first ``shared/data`` folder above this file (checkout or worktree)."""
    if os.environ.get("SFTFORGE_BENCH_DATA"):
        return Path(os.environ["SFTFORGE_BENCH_DATA"])
    for folder in Path(__file__).resolve().parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _maker():
    global _MAKER
    if _MAKER is None:
        from novelty_pool import InstructionMaker

        _MAKER = InstructionMaker(default_data(), vocabulary=50_000)
    return _MAKER


def _user(body: dict) -> str:
    users = [m.get("content", "") for m in body.get("messages") or [] if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def _rng(prompt: str, body: dict) -> random.Random:
    material = json.dumps([prompt, body.get("seed"), body.get("temperature")], ensure_ascii=False)
    return random.Random(hashlib.sha256(material.encode()).digest())


def to_pivot(text: str) -> str:
    """Each character as one CJK character (reversible: ``from_pivot``)."""
    return "".join(chr(_PIVOT_BASE + ord(c)) if ord(c) < 0x5000 else c for c in text)


def from_pivot(text: str) -> str:
    return "".join(chr(ord(c) - _PIVOT_BASE) if _PIVOT_BASE <= ord(c) < _PIVOT_BASE + 0x5000 else c for c in text)


def _translate(prompt: str) -> str:
    _, _, text = prompt.partition("\n\n")
    if prompt.startswith("Translate"):
        return to_pivot(text.strip())
    words = from_pivot(text.strip()).split()
    words.insert(min(1, len(words)), "kindly")
    return " ".join(words)


def _new_tasks(prompt: str, rng: random.Random) -> str:
    match = re.search(r"numbered from (\d+) to (\d+)", prompt)
    first, last = (int(match.group(1)), int(match.group(2))) if match else (9, 16)
    shown = re.findall(r"^Task \d+: ?(.*)$", prompt, flags=re.MULTILINE)
    maker = _maker()
    lines = []
    for number in range(first, last + 1):
        if shown and rng.random() < 0.1:
            text = maker.near_copy(rng, rng.choice(shown))
        else:
            text = maker.make(rng, chinese=0.0)
        lines.append(f"Task {number}: {text}")
    return "\n".join(lines)


def warm() -> None:
    """Builds the instruction maker now (a second or so), before the server prints its URL."""
    _maker()


def reply(body: dict) -> str:
    """The assistant's content for a chat-completions request body."""
    prompt = _user(body)
    if prompt.startswith(("Translate the text below into", "把下面的文字翻译成")):
        return _translate(prompt)
    rng = _rng(prompt, body)
    if "Continue the list with" in prompt:
        return _new_tasks(prompt, rng)
    if prompt.rstrip().endswith("Classification:"):
        return "Yes" if rng.random() < 1 / 6 else "No"
    if "Class label: <a label>" in prompt:
        return f"Class label: {rng.choice(['positive', 'negative', 'neutral'])}\nInput: {_maker().make(rng, 0.0)}"
    if "Output: <the correct output>" in prompt:
        maker = _maker()
        return f"Example 1\nInput: {maker.make(rng, 0.0)}\nOutput: {maker.make(rng, 0.0)}"
    return "echo: " + prompt
