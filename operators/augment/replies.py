"""Parsing free-text replies: numbered lists, labelled fields, and the wrappers models put around answers.

Small models wrap answers in quotes, code fences, "Translation:" labels or markdown bold, and number
lists in several styles; these helpers undo that for English and Chinese replies alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```$", re.DOTALL)
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("「", "」"), ("『", "』"), ("‘", "’"))
_MARKDOWN = re.compile(r"^[\s*#>_`-]+|[\s*_`]+$")


def clean_line(text: str) -> str:
    """Strips whitespace, markdown emphasis and one pair of enclosing quotes."""
    text = _MARKDOWN.sub("", text.strip())
    for left, right in _QUOTES:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            text = text[len(left) : -len(right)].strip()
            break
    return text


def strip_wrappers(text: str, labels: Sequence[str] = ()) -> str:
    """The answer inside a reply: without code fences, a leading label (``Translation:``), quotes.

    Args:
        text: The raw reply.
        labels: Leading labels to remove, matched case-insensitively and followed by ``:`` or ``：``.
    """
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if labels:
        alternatives = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
        text = re.sub(rf"^[\s*#]*(?:{alternatives})[\s*]*[:：][\s*]*", "", text, flags=re.IGNORECASE)
    return clean_line(text)


def numbered_items(text: str, words: Sequence[str] = ()) -> list[tuple[int, str]]:
    """Items of a numbered list in a reply, as ``(number, text)``.

    Accepts ``Task 9: ...``, ``任务9：...``, ``9. ...``, ``9) ...``, ``9、...`` and markdown around them
    (``**Task 9:**``). Lines that do not start an item continue the current one; text before the first
    item (a preamble) is dropped.

    Args:
        text: The reply.
        words: Words that may precede the number (``Task``, ``任务``).
    """
    word = ""
    if words:
        word = "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\s*"
    start = re.compile(
        rf"^[\s*#>-]*(?:{word})?(?:#\s*)?(\d{{1,4}})\s*[*]*\s*[:.)：、．]\s*[*]*\s*(.*)$", re.IGNORECASE
    )
    items: list[tuple[int, list[str]]] = []
    for line in text.splitlines():
        match = start.match(line)
        if match:
            items.append((int(match.group(1)), [match.group(2)]))
        elif items and line.strip():
            items[-1][1].append(line.strip())
    return [(number, clean_line(" ".join(parts))) for number, parts in items if clean_line(" ".join(parts))]


def labelled_records(text: str, fields: dict[str, Sequence[str]]) -> list[dict[str, str]]:
    """Records made of labelled fields, such as ``Input: ... / Output: ...`` examples.

    A line starting with a field label (``Input:``, ``输入：``) opens that field; the following lines
    continue it. A field already present in the current record starts a new record, and so does an
    ``Example 2`` / ``示例 2`` header line.

    Args:
        text: The reply.
        fields: Field name -> the labels that introduce it.

    Returns:
        One dict per record, with every field that appeared (stripped; may be empty strings).
    """
    label_to_field = {}
    for name, labels in fields.items():
        for label in labels:
            label_to_field[label.casefold()] = name
    alternatives = "|".join(re.escape(label) for label in sorted(label_to_field, key=len, reverse=True))
    field_line = re.compile(rf"^[\s*#>-]*({alternatives})\s*[*]*\s*[:：]\s*[*]*\s*(.*)$", re.IGNORECASE)
    header = re.compile(r"^[\s*#>-]*(?:example|示例|例子|样例)\s*\d*\s*[*]*\s*[:：]?\s*[*]*\s*$", re.IGNORECASE)
    records: list[dict[str, list[str]]] = []
    current_field: str | None = None
    for line in text.splitlines():
        if header.match(line):
            if records and records[-1]:
                records.append({})
            current_field = None
            continue
        match = field_line.match(line)
        if match:
            name = label_to_field[match.group(1).casefold()]
            if not records or name in records[-1]:
                records.append({})
            records[-1][name] = [match.group(2)]
            current_field = name
        elif current_field is not None and records:
            records[-1][current_field].append(line)
    return [{name: "\n".join(lines).strip() for name, lines in record.items()} for record in records if record]


_NO_INPUT = frozenset(
    ["", "none", "(none)", "<none>", "n/a", "na", "null", "nothing", "empty", "no input", "-",
     "无", "（无）", "(无)", "<无>", "空", "没有", "无输入", "不需要输入"]
)  # fmt: skip


def empty_if_placeholder(value: str) -> str:
    """``""`` for the ways models write "no input" (``<none>``, ``N/A``, ``无``); else the value."""
    stripped = clean_line(value)
    if stripped.casefold().rstrip(".。") in _NO_INPUT:
        return ""
    return value.strip()
