from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
from pydantic import ValidationError
from sftforge.operators import schema
from sftforge.operators.write.formats import RECORD_SCHEMAS, OutputConfig, SFTFormatter, check_kept_columns
from sftforge.operators.write.template import TextTemplate, placeholders

from tests.operators.write.test_formats import MULTI_TURN, _rows


def _text(tmp_path, rows, **output):
    config = OutputConfig(dir=str(tmp_path), sft_format="text", **output)
    return SFTFormatter(config).format_instructions(rows)


def test_builtin_template_renders_question_and_answer(tmp_path):
    rows = _rows(
        instruction=["Name a river.", "Translate"], input=["", "你好"], output=["The Nile.", "Hello"]
    )
    batch = _text(tmp_path, rows)
    assert batch.records.schema.field(0).name == schema.TEXT
    assert batch.records.column(schema.TEXT).to_pylist() == [
        "### Question:\nName a river.\n\n### Answer:\nThe Nile.",
        "### Question:\nTranslate\n\n你好\n\n### Answer:\nHello",
    ]


def test_multi_turn_rows_render_every_exchange_and_the_system_prompt_once(tmp_path):
    rows = _rows(messages=[MULTI_TURN, None], instruction=[None, "Q"], output=[None, "A"])
    texts = _text(tmp_path, rows, system_prompt="Be kind.").records.column(schema.TEXT).to_pylist()
    assert texts[0] == (
        "你是一位诗人。\n\n"
        "### Question:\n写一句关于春天的诗\n\n### Answer:\n春眠不觉晓\n\n"
        "### Question:\n再来一句\n\n### Answer:\n处处闻啼鸟"
    )
    # The row brings no system prompt: the configured one is the prefix.
    assert texts[1] == "Be kind.\n\n### Question:\nQ\n\n### Answer:\nA"


def test_custom_template_and_separator(tmp_path):
    template = {
        "turn": "<user>{question}</user><bot>{answer}</bot>",
        "system": "<sys>{system}</sys>",
        "separator": "",
    }
    rows = _rows(messages=[MULTI_TURN])
    text = _text(tmp_path, rows, text_template=template).records.column(schema.TEXT)[0].as_py()
    assert text == (
        "<sys>你是一位诗人。</sys><user>写一句关于春天的诗</user><bot>春眠不觉晓</bot>"
        "<user>再来一句</user><bot>处处闻啼鸟</bot>"
    )


def test_literal_braces_are_kept(tmp_path):
    rows = _rows(instruction=["Q"], output=["A"])
    template = {"turn": "{{json}} {question} -> {answer}"}
    assert _text(tmp_path, rows, text_template=template).records.column(0)[0].as_py() == "{json} Q -> A"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"turn": "Q: {question}\nA: {answer}\n{lang}"}, "unknown placeholder(s) ['lang']"),
        ({"turn": "Q: {instruction}\nA: {answer}"}, "unknown placeholder(s) ['instruction']"),
        ({"turn": "Q: {question}"}, "must contain ['{answer}']"),
        ({"turn": "Q: {question!r} {answer}"}, "no format spec or conversion"),
        ({"turn": "Q: {} {answer}"}, "positional placeholder"),
        ({"turn": "Q: {question {answer}"}, "malformed"),
        ({"system": "System: {prompt}\n"}, "unknown placeholder(s) ['prompt']"),
    ],
)
def test_bad_templates_fail_when_the_config_is_loaded(tmp_path, template, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        OutputConfig(dir=str(tmp_path), sft_format="text", text_template=template)


def test_placeholders_in_order():
    assert placeholders("a {x} {{b}} {y}") == ["x", "y"]
    assert (
        TextTemplate().render(None, [("user", "q"), ("assistant", "a")])
        == "### Question:\nq\n\n### Answer:\na"
    )


def test_text_records_are_rejected_like_other_formats(tmp_path):
    batch = _text(tmp_path, _rows(instruction=["Q", "Q2"], output=["A", "  "]))
    assert batch.records.num_rows == 1 and batch.rejected.num_rows == 1
    assert "cannot write as text: output is empty" in batch.rejected.column(schema.REJECT_REASON)[0].as_py()
    assert RECORD_SCHEMAS["text"].names == [schema.TEXT]


def test_kept_source_fields_become_string_columns(tmp_path):
    rows = _rows(instruction=["Q", "Q2", "Q3"], output=["A", "B", "C"]).append_column(
        schema.SOURCE_FIELDS,
        pa.array(
            [json.dumps({"id": 7, "domain": "geo"}), None, json.dumps({"domain": "med", "tags": ["x"]})]
        ),
    )
    config = OutputConfig(dir=str(tmp_path))
    configured = SFTFormatter(config, kept_columns=["id", "domain", "tags"]).format_instructions(rows).records
    assert configured.column_names[-3:] == ["id", "domain", "tags"]
    assert configured.select(["id", "domain", "tags"]).to_pylist() == [
        {"id": "7", "domain": "geo", "tags": ""},
        {"id": "", "domain": "", "tags": ""},
        {"id": "", "domain": "med", "tags": '["x"]'},
    ]
    # Without configured names the keys found in source_fields are kept, sorted.
    found = SFTFormatter(config).format_instructions(rows).records
    assert found.column_names[-3:] == ["domain", "id", "tags"]


def test_kept_names_cannot_shadow_release_columns():
    with pytest.raises(ValueError, match="clash"):
        check_kept_columns(["id", "messages"])
    with pytest.raises(ValueError, match="distinct"):
        check_kept_columns(["id", "id"])
    assert check_kept_columns(["id", "domain"]) == ("id", "domain")
