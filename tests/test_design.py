"""DESIGN.md stays true: its example stage, the example's test and the example step run as written, and
every path its map names exists."""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.operators import schema

ROOT = Path(__file__).resolve().parents[1]
DESIGN = (ROOT / "DESIGN.md").read_text(encoding="utf-8")
#: The example's module name, as its test imports it.
EXAMPLE_MODULE = "sftforge.operators.length.filter"


def _blocks() -> dict[str, str]:
    """The page's Python blocks, by the path on their first line (``# operators/length/filter.py``)."""
    blocks = {}
    for code in re.findall(r"```python\n(.*?)```", DESIGN, re.DOTALL):
        first, _, _ = code.partition("\n")
        blocks[first.removeprefix("# ").split(" ")[0]] = code
    return blocks


def _load(name: str, block: str, folder: Path) -> types.ModuleType:
    """A block of the page written to ``folder`` and loaded as module ``name``."""
    path = folder / (name.replace(".", "_") + ".py")
    path.write_text(_blocks()[block], encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example(monkeypatch, tmp_path) -> types.ModuleType:
    """The example stage, importable under the name its test uses (only for this test)."""
    package = types.ModuleType(EXAMPLE_MODULE.rpartition(".")[0])
    package.__path__ = []
    monkeypatch.setitem(sys.modules, package.__name__, package)
    module = _load(EXAMPLE_MODULE, "operators/length/filter.py", tmp_path)
    monkeypatch.setitem(sys.modules, EXAMPLE_MODULE, module)
    return module


def test_the_page_has_the_three_examples():
    assert set(_blocks()) == {
        "operators/length/filter.py",
        "tests/operators/length/test_filter.py",
        "jobs/pipeline.py",
    }


def test_the_example_stage_is_short_and_follows_the_contract(example):
    assert len(_blocks()["operators/length/filter.py"].splitlines()) <= 40
    stage = example.LengthFilter(example.LengthConfig())
    assert stage.name == "length" and stage.config.min_chars == 20
    with pytest.raises(ValueError):
        example.LengthConfig(min_chars=-1)
    instruction = pa.table(
        {
            schema.DOC_ID: ["i"],
            schema.KIND: [schema.KIND_INSTRUCTION],
            schema.INSTRUCTION: ["Say hi."],
            schema.INPUT: [None],
            schema.OUTPUT: ["Hi there, nice to meet you."],
        }
    )
    assert stage(instruction).kept.num_rows == 1  # prompt and answer count together


def test_the_example_test_passes(example, tmp_path):
    module = _load("design_example_test", "tests/operators/length/test_filter.py", tmp_path)
    tests = [value for name, value in vars(module).items() if name.startswith("test_")]
    assert tests
    for test in tests:
        test()


def test_the_example_step_declares_what_the_accounting_reads(example, tmp_path):
    step_class = _load("design_example_step", "jobs/pipeline.py", tmp_path).LengthStep
    assert step_class.stages == ("length",) and step_class.key == "length"
    job = types.SimpleNamespace(length=example.LengthConfig(min_chars=5))
    assert step_class.enabled(job) and step_class(job).config.min_chars == 5


def test_every_path_on_the_map_exists():
    for line in DESIGN.splitlines():
        if not line.startswith("| ") or line.startswith(("| capability", "|---")):
            continue
        _, _, operators, jobs, _ = line.split("|")
        for folder, cell in (("operators", operators), ("jobs", jobs)):
            for path in re.findall(r"`([\w/.]+(?:/|\.py))`", cell):
                assert (ROOT / folder / path).exists(), (
                    f"DESIGN.md names {folder}/{path}, which does not exist"
                )


def test_the_page_is_one_page():
    assert len(DESIGN.splitlines()) <= 160
