"""Pure text helpers shared by stages: which text a row stands for, and script detection."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from sftforge.operators import schema

TextField = Literal["content", "instruction", "output"]


def _strings(table: pa.Table, column: str) -> list[str]:
    if column not in table.column_names:
        return [""] * table.num_rows
    return ["" if value is None else value for value in table.column(column).to_pylist()]


def row_texts(table: pa.Table, field: TextField = "content") -> list[str]:
    """Returns, for each row, the text a stage should judge.

    Args:
        table: A batch with the base schema.
        field: ``content`` is the whole row (a document's text, or an instruction pair's instruction,
            input and output joined by newlines); ``instruction`` is the prompt side (instruction and
            input; a document's text); ``output`` is the response (empty for documents).

    Returns:
        One string per row, never None.
    """
    kinds = _strings(table, schema.KIND)
    texts = _strings(table, schema.TEXT)
    instructions = _strings(table, schema.INSTRUCTION)
    inputs = _strings(table, schema.INPUT)
    outputs = _strings(table, schema.OUTPUT)
    result = []
    for kind, text, instruction, input_, output in zip(kinds, texts, instructions, inputs, outputs):
        if kind != schema.KIND_INSTRUCTION:
            result.append(text if field != "output" else "")
        elif field == "instruction":
            result.append("\n".join(part for part in (instruction, input_) if part))
        elif field == "output":
            result.append(output)
        else:
            result.append("\n".join(part for part in (instruction, input_, output) if part))
    return result


# The ranges of is_cjk, in the two regex dialects used for them (a test keeps them equal).
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2FA1F),
    (0xF900, 0xFAFF),
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0xAC00, 0xD7AF),
    (0x1100, 0x11FF),
)
CJK_RE2 = "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in CJK_RANGES)
CJK_PY = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)


def is_cjk(char: str) -> bool:
    """True for Han, Kana and Hangul characters (scripts written without spaces between words)."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x20000 <= code <= 0x2FA1F  # extensions B-F and compatibility supplement
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0x1100 <= code <= 0x11FF  # hangul jamo
    )


def cjk_ratio(text: str) -> float:
    """Fraction of non-space characters that are CJK."""
    chars = [char for char in text if not char.isspace()]
    if not chars:
        return 0.0
    return sum(1 for char in chars if is_cjk(char)) / len(chars)
