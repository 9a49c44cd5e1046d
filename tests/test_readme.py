"""The README stays true: its two commands come first, and its complete config example validates."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.jobs.config import load_config

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def test_first_block_holds_exactly_the_two_commands():
    first = _blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    assert first[0].endswith("sftforge demo") and "pytest" in first[1]


def test_config_example_validates(tmp_path):
    example = _blocks("yaml")[0]
    (tmp_path / "data" / "web").mkdir(parents=True)
    pq.write_table(pa.table({"content": ["x"]}), tmp_path / "data" / "web" / "a.parquet")
    (tmp_path / "data" / "alpaca.jsonl").write_text('{"instruction": "a", "output": "b"}\n')
    (tmp_path / "data" / "chats.json").write_text("[]")
    for line in re.findall(r"seed_tasks: (\S+)", example):
        (tmp_path / line).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / line).write_text('{"instruction": "Say hi.", "instances": [{"input": "", "output": "Hi"}]}\n')
    path = tmp_path / "job.yaml"
    path.write_text(example, encoding="utf-8")
    config = load_config(path)
    assert config.split.ratios == {"train": 0.7, "test": 0.3}
    assert config.language.allowed and config.llm.api_key_env == "OPENAI_API_KEY"
