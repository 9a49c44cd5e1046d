"""Responses cut off before the end."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.quality.rules.arrow import CJK_RE2, _count, _count_plain, _match, _numpy, as_strings
from sftforge.operators.quality.rules.tokens import count_units

_CONTINUATION_END = r"[,，、:：；(（\[【{“‘]$"
# Words no sentence ends on: articles, prepositions, conjunctions, possessives, and the verbs "is" and
# "was" that an answer cut before its value stops on ("The sum of 17 and 25 is").
_CONNECTOR_END = (
    r"(?:\b(?:and|or|but|the|a|an|of|because|such as|including|e\.g\.|i\.e\.|at|to|with|from|into|by|in|which|"
    r"whose|than|for|as|if|is|are|was|were|am|been|will|would|could|should|shall|must|their|its|our|your|my|"
    r"very|where|when|while|whether|although|though|unless|until|since|about|onto|upon|toward|towards|"
    r"between|among|through|during|without|within|per|via|not|no|each|every|both|either|neither|these|those)"
    r"|和|与|或|以及|但是|因为|所以|而且|并且|如果|比如|例如|包括|首先|其次|然后|等于|答案是|结果是|的是|由于|虽然|"
    r"即使|不仅|通过|对于|关于|以便|使得|导致)$"
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
    in CJK text, after an open clause); a last line whose earlier sentences end and whose last one (six
    words, eight CJK characters) does not. A list of phrases separated by 、 or after a label ends on
    its last item, so it is not cut.
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
    # The end tests only need the last few words; matching them on a short suffix keeps RE2 from
    # scanning whole answers with a long alternation.
    ending = pc.utf8_slice_codeunits(trimmed, -40)
    checks: list[tuple[np.ndarray, object]] = [
        (_count_plain(values, "```") % 2 == 1, "unclosed code fence"),
        (substantial & _match(ending, _CONTINUATION_END), "ends with {}"),
        (substantial & _match(ending, _CONNECTOR_END), "ends with {}"),
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
    # Titles, labels and lists of phrases end without punctuation; prose that has finished sentences
    # before its last line should finish that one too. Chinese prose always ends with a full stop, so an
    # open clause (a ， or ； after the last full stop) is enough evidence there, but not a list of
    # phrases: "近义词：百发百中、万无一失" ends on its last item.
    finished_before = _match(pc.utf8_slice_codeunits(trimmed, 0, -1), r"[.!?。！？]")
    tail = pc.fill_null(pc.struct_field(pc.extract_regex(last_line, r"(?P<tail>[^.!?。！？]*)$"), [0]), "")
    phrase_list = _match(tail, r"(?:^|[：:])[\s*]*[^、，,；;：:]{1,10}(?:、[^、，,；;：:]{1,10})+$")
    open_clause = cjk & _match(tail, "[，,；;、]") & ~phrase_list
    prose &= (finished_before & ~(cjk & phrase_list)) | open_clause
    # A paragraph whose last sentence stops short: sentences end inside the last line, then a run of
    # words with no end at all ("... valley. The river then turns east where it").
    cut_paragraph = _match(last_line, r"[.!?。！？][\s\pP]*\S") & _match(last_line, r"\pL$")
    cut_paragraph &= ~_match(last_line, _LIST_ITEM) & ~_match(last_line, r"^\s*(?:#|\||>)")
    cut_paragraph &= np.where(cjk, _count(tail, f"[{CJK_RE2}]") >= 8, _count(tail, r"\b\pL+\b") >= 6)
    cut_paragraph &= ~(cjk & phrase_list)
    # In Chinese an open clause after finished sentences is cut even on a short line, and on a list item
    # when the list's earlier items end with a full stop ("4. **习惯化**：许多行为变成自动化，不需要");
    # items of a list written without full stops may end without one too.
    cut_clause = open_clause & finished_before & _match(last_line, r"\pL$") & ~_match(last_line, r"^\s*(?:#|\||>)")
    listed = cut_clause & _match(last_line, _LIST_ITEM)
    if listed.any():
        rows = np.nonzero(listed)[0]
        body = pa.array([text.rsplit("\n", 1)[0] if "\n" in text else "" for text in
                         trimmed.take(pa.array(rows)).to_pylist()], pa.string())
        stopped_items = _match(body, r"(?m)^\s*(?:[-*•]|\d+[.)、])\s.*[。！？]\s*$")
        cut_clause[rows[~stopped_items]] = False
    checks.append((substantial & (prose | cut_paragraph | cut_clause), "ends mid-sentence"))
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
