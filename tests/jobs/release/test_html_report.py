"""report.html renders offline in a real headless Chromium: not blank, funnel numbers in the page text."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.release.layout import split_dir
from sftforge.jobs.release.report import write_report
from sftforge.operators import schema

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _release(folder: Path) -> Path:
    for split, count in (("train", 30), ("validation", 6)):
        messages = [
            [{"role": "user", "content": "Q" * (5 + i)}, {"role": "assistant", "content": "答" * (10 * i)}]
            for i in range(count)
        ]
        table = pa.table(
            {
                schema.MESSAGES: pa.array(messages, schema.MESSAGES_TYPE),
                schema.DOC_ID: [f"{split}-{i}" for i in range(count)],
                schema.LANG: ["zh" if i % 3 else "en" for i in range(count)],
                schema.QUALITY_SCORE: [i / count for i in range(count)],
            }
        )
        split_dir(folder, "parquet", split).mkdir(parents=True)
        pq.write_table(table, split_dir(folder, "parquet", split) / "part-00000.parquet")
    split_dir(folder, "parquet", "train", documents=True).mkdir(parents=True)
    pq.write_table(
        pa.table({schema.TEXT: ["A river document."] * 4, schema.LANG: ["en"] * 4}),
        split_dir(folder, "parquet", "train", documents=True) / "part-00000.parquet",
    )
    (folder / "rejects").mkdir()
    pq.write_table(
        pa.table(
            {
                schema.REJECT_STAGE: ["language", "quality", "quality"],
                schema.REJECT_REASON: [
                    "language: de (0.93) not in [en, zh]",
                    "refusal (as an AI)",
                    "refusal (as an AI)",
                ],
                schema.TEXT: ["Ein deutscher Satz.", None, None],
                schema.INSTRUCTION: [None, "Tell me a joke", "Explain tides"],
            }
        ),
        folder / "rejects" / "part-00000.parquet",
    )
    return folder


ACCOUNTING = {
    "rows_read": 12345,
    "rows_generated": 0,
    "rows_written": 40,
    "rows_rejected": 12305,
    "stages": [
        {"stage": "clean", "rows_in": 12345, "kept": 9876, "rejected": 2469},
        {"stage": "language", "rows_in": 9876, "kept": 4321, "rejected": 5555},
        {"stage": "quality", "rows_in": 4321, "kept": 40, "rejected": 4281},
    ],
}
SECTIONS = {
    "dedup": {
        "removed_exact": 7,
        "removed_near": 3,
        "removed_as_duplicates_of_earlier_releases": 0,
        "cluster_size_histogram": {"1": 30, "2": 4, "3-4": 2},
        "examples": [{"kept": "train-1", "removed": ["x-9", "x-10"], "text": "黄河是中国第二长河"}],
    },
    "judge": {"threshold": 4, "histogram": {"1": 2, "2": 1, "3": 5, "4": 9, "5": 20, "unparsed": 1}},
    "llm": {
        "model": "smollm2",
        "requests": 40,
        "calls": 37,
        "retries": 3,
        "prompt_tokens": 5120,
        "completion_tokens": 900,
        "cost": 0.0123,
        "cache": {"hits": 10, "misses": 30},
        "per_stage": {
            "judge": {"requests": 40, "prompt_tokens": 5120, "completion_tokens": 900, "cost": 0.0123}
        },
    },
}


def _png_is_not_blank(path: Path) -> bool:
    """Decodes the PNG's pixel rows (no imaging library) and checks that many pixels are not white."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, width = 8, b"", 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width = struct.unpack(">I", chunk[:4])[0]
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    raw = zlib.decompress(idat)
    # Filtered scanlines: a byte that is neither white (0xff) nor a zero difference marks drawn pixels.
    drawn = sum(1 for byte in raw if byte not in (0x00, 0xFF))
    return width > 0 and drawn > len(raw) * 0.001


def test_report_html_is_self_contained(tmp_path):
    folder = _release(tmp_path / "r1")
    write_report(folder, "r1", ACCOUNTING, SECTIONS, {"train": 34, "validation": 6}, {"all stages": 2.0})
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and not re.search(r"\b(?:src|href)\s*=", html)
    assert html.count("<svg") >= 8
    for text in (
        "12345",
        "9,876",
        "Ein deutscher Satz.",
        "Tell me a joke",
        "25.0%",
        "5120",
        "黄河是中国第二长河",
        "Record length in characters, validation",
        "documents/train",
        "6,172",
    ):
        assert text in html, text


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_report_html_renders_in_headless_chromium(tmp_path):
    folder = _release(tmp_path / "r1")
    write_report(folder, "r1", ACCOUNTING, SECTIONS, {"train": 34, "validation": 6})
    page = (folder / "report.html").as_uri()
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--disable-dev-shm-usage",
    ]
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1000,1600", page],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert _png_is_not_blank(shot)
    dom = subprocess.run([*common, "--dump-dom", page], check=True, capture_output=True, timeout=120).stdout
    text = re.sub(r"<[^>]+>", " ", dom.decode("utf-8"))
    for number in ("12345", "9876", "2469", "4321", "5555", "4281"):
        assert number in text, number


def test_every_section_of_the_issue_has_content(tmp_path):
    folder = _release(tmp_path / "r1")
    write_report(folder, "r1", ACCOUNTING, SECTIONS, {"train": 34, "validation": 6}, {"all stages": 2.0})
    html = (folder / "report.html").read_text(encoding="utf-8")
    sections = {part.split("</h2>")[0]: part.split("</h2>", 1)[1] for part in html.split("<h2>")[1:]}
    for title in (
        "Funnel", "Rejection reasons", "Language mix", "Record lengths per split", "Quality scores",
        "Judge scores", "Dedup clusters", "LLM usage", "Throughput",
    ):
        body = sections[title]
        assert ("<svg" in body or "<table" in body) and 'class="empty"' not in body, title
    assert "zh" in sections["Language mix"] and "en" in sections["Language mix"]
    assert all(split in sections["Record lengths per split"] for split in ("train", "validation"))
    assert "rows/s" in sections["Throughput"] and "Ein deutscher Satz." in sections["Rejection reasons"]
    assert "黄河是中国第二长河" in sections["Dedup clusters"] and "25.0%" in sections["LLM usage"]
