from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest
from sftforge.operators.write.jsonl import encode_jsonl, jsonl_bytes


def _reference(table: pa.Table) -> bytes:
    return "".join(
        json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        for row in table.to_pylist()
    ).encode("utf-8")


def _awkward_table(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    alphabet = [
        "a",
        "中",
        "文",
        '"',
        "\\",
        "\n",
        "\r",
        "\t",
        "\x08",
        "\x0c",
        "\x00",
        "\x01",
        "\x1f",
        "\x7f",
        "\u2028",
        "😀",
        "/",
        " ",
        "é",
    ]

    def text():
        if rng.random() < 0.1:
            return None
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))

    floats = [0.0, -0.0, 1.0, 1e-300, 1e300, 0.1, 123456789.123, 1e16, 2.5e-7]
    turn = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.table(
        {
            "text": [text() for _ in range(rows)],
            "score": [
                None if rng.random() < 0.1 else rng.choice(floats + [rng.random()]) for _ in range(rows)
            ],
            "count": pa.array(
                [None if rng.random() < 0.1 else rng.randint(-(2**63), 2**63 - 1) for _ in range(rows)],
                pa.int64(),
            ),
            "flag": [None if rng.random() < 0.1 else rng.random() < 0.5 for _ in range(rows)],
            "turns": pa.array(
                [
                    None
                    if rng.random() < 0.1
                    else [
                        None if rng.random() < 0.1 else {"role": text(), "content": text()}
                        for _ in range(rng.randint(0, 4))
                    ]
                    for _ in range(rows)
                ],
                pa.list_(turn),
            ),
            "pairs": pa.array(
                [
                    None if rng.random() < 0.1 else [[text(), text()] for _ in range(rng.randint(0, 3))]
                    for _ in range(rows)
                ],
                pa.list_(pa.list_(pa.string())),
            ),
            "nothing": pa.nulls(rows),
            "large": pa.array([text() for _ in range(rows)], pa.large_string()),
            "category": pa.array([rng.choice(["zh", "en", None]) for _ in range(rows)]).dictionary_encode(),
        }
    )


def test_lines_are_byte_identical_to_json_dumps():
    table = _awkward_table(3000, seed=1)
    assert bytes(jsonl_bytes(encode_jsonl(table))) == _reference(table)


def test_sliced_tables_and_sliced_lines():
    table = _awkward_table(500, seed=2)
    part = table.slice(123, 200)
    assert bytes(jsonl_bytes(encode_jsonl(part))) == _reference(part)
    lines = encode_jsonl(table)
    assert bytes(jsonl_bytes(lines.slice(10, 5))) == _reference(table.slice(10, 5))


def test_chinese_is_written_as_is():
    table = pa.table({"text": ["春眠不觉晓，处处闻啼鸟。"]})
    raw = bytes(jsonl_bytes(encode_jsonl(table)))
    assert "春眠不觉晓".encode() in raw
    assert b"\\u" not in raw
    assert json.loads(raw) == {"text": "春眠不觉晓，处处闻啼鸟。"}


def test_empty_table():
    assert bytes(jsonl_bytes(encode_jsonl(pa.table({"a": pa.array([], pa.string())})))) == b""


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        encode_jsonl(pa.table({"score": [1.0, float("nan")]}))


def test_types_without_json_form_are_refused():
    with pytest.raises(ValueError, match="binary"):
        encode_jsonl(pa.table({"blob": pa.array([b"x"], pa.binary())}))
