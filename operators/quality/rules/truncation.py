"""Responses cut off before the end."""

from __future__ import annotations

import re

import numpy as np
import pyarrow.compute as pc
from sftforge.operators.quality.rules.arrow import _count_plain, _match, _numpy, as_strings
from sftforge.operators.quality.rules.tokens import count_units

_CONTINUATION_END = r"[,，、:：；(（\[【{“‘]$"
_CONNECTOR_END = (
    r"(?:\b(?:and|or|but|the|an|of|because|such as|including|e\.g\.|i\.e\.|at|to|with|from|into|by|in|which|"
    r"whose|than)|和|与|或|以及|但是|因为|所以|而且|"
    r"并且|如果|比如|例如|包括|首先|其次|然后)$"
)
_PY_CONNECTOR_END = re.compile(_CONNECTOR_END, re.IGNORECASE)
_LIST_ITEM = r"^\s*(?:[-*•]|\d+[.)、])\s"
_EMPTY_LIST_ITEM = r"^\s*(?:[-*•]|\d+[.)、])\s*$"
_BRACKETS = (("(", ")"), ("（", "）"), ("[", "]"), ("{", "}"), ("“", "”"), ("《", "》"))


def truncations(responses, cjk: np.ndarray | None = None, units: np.ndarray | None = None,
                min_prose_chars: int = 60, min_prose_cjk_chars: int = 20) -> tuple[np.ndarray, list[str | None]]:
    """Responses cut off before the end, with what gave them away.

    Signs, in order: an odd number of code fences; a last character that promises more (comma,
    colon, opening bracket or quote); a last word that cannot end a sentence ("and", "the", "because",
    和, 因为); an empty list item; more opening than closing brackets; a long last line of prose (60
    characters, 20 for CJK) ending in a letter without punctuation, after sentences that did end (or,
    in CJK text, after a clause mark).
    Short lines may end without punctuation (titles, poems, labels), so they are not held to the last
    rule. Only responses of at least 3 words (``units``, computed when not given) are judged, except
    for the code fence.
    """
    values = as_strings(responses)
    n = len(values)
    cjk = np.zeros(n, bool) if cjk is None else np.asarray(cjk, bool)
    trimmed = pc.utf8_rtrim_whitespace(values)
    substantial = (count_units(trimmed) if units is None else np.asarray(units)) >= 3
    last_line = pc.struct_field(pc.extract_regex(trimmed, r"(?P<last>[^\n]*)$"), [0])
    last_line = pc.fill_null(last_line, "")
    checks: list[tuple[np.ndarray, object]] = [
        (_count_plain(values, "```") % 2 == 1, "unclosed code fence"),
        (substantial & _match(trimmed, _CONTINUATION_END), "ends with {}"),
        (substantial & _match(trimmed, _CONNECTOR_END), "ends with {}"),
        (substantial & _match(last_line, _EMPTY_LIST_ITEM), "empty list item"),
    ]
    unbalanced = np.zeros(n, bool)
    opener = [None] * n
    for open_, close in _BRACKETS:
        more = _count_plain(values, open_) > _count_plain(values, close)
        for row in np.nonzero(more & ~unbalanced)[0]:
            opener[row] = open_
        unbalanced |= more
    checks.append((substantial & unbalanced, "unclosed {}"))
    long_line = _numpy(pc.utf8_length(last_line)) >= np.where(cjk, min_prose_cjk_chars, min_prose_chars)
    prose = long_line & _match(last_line, r"\pL$") & ~_match(last_line, _LIST_ITEM)
    prose &= ~_match(last_line, r"^\s*(?:#|\||>)")
    # Titles and lists of phrases end without punctuation; prose that has finished sentences before
    # its last line should finish that one too. Chinese prose always ends with a full stop, so a clause
    # mark (， 、) is enough evidence there.
    finished_before = _match(pc.utf8_slice_codeunits(trimmed, 0, -1), r"[.!?。！？]")
    prose &= finished_before | (cjk & _match(last_line, "[，、]"))
    checks.append((substantial & prose, "ends mid-sentence"))
    flags = np.zeros(n, bool)
    evidence: list[str | None] = [None] * n
    tails = None
    for mask, label in checks:
        fresh = np.nonzero(mask & ~flags)[0]
        if len(fresh) == 0:
            continue
        if "{}" in label:
            if tails is None:
                tails = trimmed.to_pylist()
            for row in fresh:
                if label.startswith("unclosed"):
                    evidence[row] = label.format(f'"{opener[row]}"')
                else:
                    match = _PY_CONNECTOR_END.search(tails[row])
                    evidence[row] = label.format(f'"{match.group(0) if match else tails[row][-1:]}"')
        else:
            for row in fresh:
                evidence[row] = label
        flags[fresh] = True
    return flags, evidence
