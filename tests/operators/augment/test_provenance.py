"""Generated rows: base schema plus provenance, fresh ids, template chains; template overrides."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sftforge.operators import schema
from sftforge.operators.augment import back_translation, self_instruct
from sftforge.operators.augment.prompts import TemplateOverride, apply_override, check_overrides, resolve
from sftforge.operators.augment.provenance import (
    GENERATED_SCHEMA,
    DeadLetter,
    GeneratedRow,
    dead_letter_table,
    generated_table,
    with_provenance_columns,
)
from sftforge.operators.read.records import content_id


def test_generated_rows_carry_provenance_and_fresh_ids():
    parent_id = content_id(schema.KIND_INSTRUCTION, ["用三句话总结。", "", "好的。"])
    templates = (self_instruct.GENERATE["zh"], self_instruct.INSTANCES_INPUT_FIRST["zh"])
    rows = [
        GeneratedRow("round_trip", parent_id, "用三句话总结。", "", "好的。", "m1", (back_translation.TRANSLATE["zh"],)),
        GeneratedRow("self_instruct", None, "写一首诗。", "", "春风……", "m2", templates),
        GeneratedRow("instruction_backtranslation", parent_id, "Explain.", "", "Because.", "m3",
                     (back_translation.TRANSLATE["en"],), judge_score=4.5),
    ]
    table = generated_table(rows, "augment/x/part-000000.parquet")
    assert table.schema == GENERATED_SCHEMA
    assert set(schema.BASE_SCHEMA.names) <= set(table.column_names)
    record = table.to_pylist()
    assert [r[schema.ORIGIN] for r in record] == ["round_trip", "self_instruct", "instruction_backtranslation"]
    assert record[0][schema.PARENT_ID] == parent_id and record[1][schema.PARENT_ID] is None
    assert record[0][schema.DOC_ID] != parent_id  # same content as the parent, still a new row
    assert len({r[schema.DOC_ID] for r in record}) == 3
    assert record[1][schema.GEN_TEMPLATE] == "self_instruct.generate.zh+self_instruct.instances_input_first.zh"
    assert record[1][schema.GEN_TEMPLATE_VERSION] == "1+1"
    assert record[0][schema.GEN_MODEL] == "m1"
    assert [r[schema.GEN_JUDGE_SCORE] for r in record] == [None, None, 4.5]
    assert [r[schema.SOURCE_ROW] for r in record] == [0, 1, 2]
    assert all(r[schema.KIND] == schema.KIND_INSTRUCTION and r[schema.REJECT_STAGE] is None for r in record)


def test_empty_tables_and_dead_letters():
    assert generated_table([], "x").num_rows == 0
    table = dead_letter_table([DeadLetter("paraphrase", "p", "check", "unchanged", candidate="c")])
    assert table.to_pylist()[0]["reason"] == "unchanged"


def test_source_rows_get_null_provenance_columns():
    table = with_provenance_columns(pa.table({schema.DOC_ID: ["a"]}))
    assert table.column(schema.GEN_MODEL).null_count == 1
    assert with_provenance_columns(table).num_columns == table.num_columns


def test_template_override_keeps_placeholders_and_needs_a_new_version():
    default = back_translation.TRANSLATE["en"]
    override = TemplateOverride(version="2", messages=[("user", "Into {target}, please:\n{text}")])
    template = apply_override(default, override)
    assert (template.name, template.version) == (default.name, "2")
    assert resolve(default, {}) is default
    assert resolve(default, {default.name: override}).version == "2"
    with pytest.raises(ValueError, match="placeholders"):
        apply_override(default, TemplateOverride(version="2", messages=[("user", "{text}")]))
    with pytest.raises(ValueError, match="version"):
        apply_override(default, TemplateOverride(version="1", messages=[("user", "To {target}: {text}")]))
    with pytest.raises(ValueError, match="unknown template"):
        check_overrides({"round_trip.nope": override}, back_translation.TEMPLATES)
