"""JSON-lines-of-objects files: each object with its file:line; a bad line stops with its place."""

from __future__ import annotations

import pytest
from sftforge.operators.read.json_lines import json_objects


class Bad(Exception):
    pass


def test_objects_come_with_their_place_and_blank_lines_are_skipped():
    lines = ['{"a": 1}', "", "  ", '{"b": "二"}']
    assert list(json_objects(lines, "seeds.jsonl", Bad)) == [("seeds.jsonl:1", {"a": 1}), ("seeds.jsonl:4", {"b": "二"})]


@pytest.mark.parametrize(("line", "message"), [("{oops", "seeds.jsonl:2: invalid JSON"),
                                               ("[1, 2]", "seeds.jsonl:2: expected a JSON object")])
def test_a_bad_line_raises_the_callers_error_naming_the_line(line, message):
    with pytest.raises(Bad, match=message):
        list(json_objects(['{"ok": true}', line], "seeds.jsonl", Bad))
