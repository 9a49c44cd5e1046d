"""The clean stage: each step on plain strings, then the stage on tables of documents and instructions."""

from __future__ import annotations

import random
import unicodedata

import pyarrow as pa
import pytest
from pydantic import ValidationError
from sftforge.operators import schema
from sftforge.operators.clean.cleaner import EMPTY_AFTER_CLEAN, CleanConfig, TextCleaner, nfkc
from sftforge.operators.text import is_cjk

CLEANER = TextCleaner()


def clean(text: str, **config) -> str:
    return TextCleaner(CleanConfig(**config)).clean(text)


# --- steps on strings ---------------------------------------------------------------------------------


def test_html_tags_scripts_styles_and_comments_are_removed():
    page = (
        "<html><head><title>Page</title><style>p {color: red}</style></head><body>"
        '<h1>Title</h1><p class="lead">First <b>bold</b> <a href="/x">link</a>.</p>'
        "<script>var x = '<p>not text</p>';</script><!-- a comment -->"
        "<ul><li>one</li><li>two</li></ul>Line<br/>break<table><tr><td>a</td><td>b</td></tr></table>"
        "</body></html>"
    )

    assert CLEANER.clean(page) == "Title\n\nFirst bold link.\n\none\ntwo\n\nLine\nbreak\n\na b"
    assert CLEANER.clean("<!DOCTYPE html><P CLASS=x>Word<o:p></o:p></P><Custom>kept</Custom>") == (
        "Word\n\n<Custom>kept</Custom>"
    )


def test_unclosed_scripts_and_comments_lose_only_their_opening_tag():
    assert CLEANER.clean("before <script>never closed after") == "before never closed after"
    assert CLEANER.clean("a <!-- open b <style>x</style> c") == "a open b c"
    # Tens of thousands of unclosed tags: each must not rescan the rest of the text (no quadratic time).
    assert CLEANER.clean("<script>" * 50_000 + "tail") == "tail"
    assert CLEANER.clean("<!--" * 50_000 + "tail") == "tail"


def test_entities_are_decoded_only_when_complete():
    assert CLEANER.clean("Fish &amp; chips &lt;b&gt; caf&eacute; &#20013;&#x6587; 5&nbsp;kg") == (
        "Fish & chips <b> café 中文 5 kg"
    )
    assert CLEANER.clean("https://x.org/?a=1&para=2&copy=3") == "https://x.org/?a=1&para=2&copy=3"
    assert CLEANER.clean("bell&#7;null&#0;end") == "bellnullend"


def test_code_and_generics_are_not_taken_for_html():
    text = (
        "Use List<String> or vector<int>; #include <stdio.h> and a < b > c.\n"
        "Inline `<div>` stays.\n"
        "```html\n<p>Hello</p>\n```"
    )

    assert CLEANER.clean(text) == text


def test_html_step_can_be_switched_off():
    assert clean("<p>kept &amp; raw</p>", html=False) == "<p>kept &amp; raw</p>"


def test_nfkc_folds_compatibility_forms():
    assert CLEANER.clean("ＡＢＣ１２３ ﬁne ①") == "ABC123 fine 1"
    assert clean("x\u00a0y", collapse_whitespace=False) == "x y"


def test_nfkc_by_segments_equals_nfkc_of_the_whole_string():
    # Combining marks after ASCII, Hangul jamo, ligatures, singletons, iota subscript, half-width kana.
    alphabet = list("ae oAZ!,.\n\t1") + [
        "\u0301", "\u0308", "\u0327", "\u0345", "\u0344", "\u0f73", "\u1100", "\u1161", "\u11a8",
        "\uac00", "\ufb01", "\u2460", "\u00a0", "\u3000", "\uff21", "\uff11", "\u4e2d", "\u00e9",
        "\u212b", "\u2126", "\ufb2c", "\u1e9b", "\u0323", "\uff76", "\uff9e",
    ]  # fmt: skip
    generator = random.Random(7)
    for _ in range(20_000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 12)))
        expected = unicodedata.normalize("NFKC", text)
        assert clean(text, html=False, collapse_whitespace=False, default_boilerplate=False) == expected
        assert nfkc(text + "x" * 100, keep_fullwidth_punctuation=False) == expected + "x" * 100


def test_cjk_stays_intact():
    chinese = "我们今天讨论的是自然语言处理。「大型语言模型」在中文、英文上都表现良好；数据清洗很重要。"
    japanese = "日本語のテキストもそのままです。カタカナ、ひらがな。"
    korean = "한국어 문장도 그대로 유지됩니다."
    text = f"{chinese}\n{japanese}\n{korean}"

    cleaned = CLEANER.clean(text)

    assert cleaned == text
    assert [c for c in cleaned if is_cjk(c)] == [c for c in text if is_cjk(c)]


def test_fullwidth_punctuation_is_kept_by_default_and_folded_on_request():
    text = "你好，世界！真的吗？（是的）：好。"

    assert CLEANER.clean(text) == text
    assert clean(text, keep_fullwidth_punctuation=False) == "你好,世界!真的吗?(是的):好。"


def test_control_characters_go_tabs_and_newlines_stay():
    assert clean("a\x00b\x07c\x1bd\x7fe\x9ff\u200bg\ufeffh\tend\nnext", collapse_whitespace=False) == (
        "abcdefgh\tend\nnext"
    )
    # ZWJ holds emoji sequences together.
    assert CLEANER.clean("family: 👨\u200d👩\u200d👧") == "family: 👨\u200d👩\u200d👧"


def test_line_breaks_are_normalised():
    assert CLEANER.clean("one\r\ntwo\rthree\u2028four\x0cfive") == "one\ntwo\nthree\nfour\nfive"


def test_whitespace_collapses_and_paragraphs_stay():
    text = "  Title   here \t\n\n\n\n   First  paragraph\tline.\n \n \nSecond.  \n\n"

    assert CLEANER.clean(text) == "Title here\n\nFirst paragraph line.\n\nSecond."


def test_instruction_fields_keep_indentation_and_code_blocks():
    code = "def f(x):\n    if x:\n\treturn  x\n\n\n\n    return None  "
    fenced = "Answer:\n```python\ndef f():\n    a  =  1\n\n\n\n    return a\n```\n\n\n\nDone."

    assert CLEANER.clean(code, keep_indent=True) == "def f(x):\n    if x:\n\treturn x\n\n    return None"
    assert CLEANER.clean(fenced, keep_indent=True) == fenced.replace("\n\n\n\nDone", "\n\nDone")
    assert CLEANER.clean(fenced) == fenced.replace("\n\n\n\nDone", "\n\nDone")


@pytest.mark.parametrize(
    "line",
    [
        "Click here to subscribe!",
        "Share this article",
        "SUBSCRIBE TO OUR NEWSLETTER",
        "© 2024 Example Media. All rights reserved.",
        "Advertisement",
        "Read more »",
        "Follow us on Twitter @example",
        "版权所有 © 2023 某某科技有限公司",
        "点击关注，获取更多精彩内容",
        "点击上方蓝字关注我们",
        "点击阅读原文",
        "扫码关注公众号",
        "欢迎关注我们！",
        "This website uses cookies to improve your experience.",
        "Next article: How to bake bread",
        "长按识别二维码",
        "免责声明：本文仅代表作者观点，不代表本站立场。",
        "未经授权，禁止转载",
        "责任编辑：张三",
    ],
)
def test_default_boilerplate_lines_are_dropped(line: str):
    text = f"正文第一段。\n{line}\nThe article goes on."

    assert CLEANER.clean(text) == "正文第一段。\nThe article goes on."


def test_boilerplate_leaves_real_sentences_alone():
    text = (
        "Read more about the history of Rome in the next chapter, where we discuss the Republic.\n"
        "他说版权所有权的问题需要法律解决。\n"
        "Click the button to continue.\n"
        "Next post is about the crust, for which we use cookies and butter.\n"
        "点击右上角的设置按钮，选择“隐私”。\n"
        "扫描二维码即可付款\n"
        "关注我们的研究发现，睡眠很重要"
    )

    assert CLEANER.clean(text) == text


def test_custom_boilerplate_patterns_and_switching_defaults_off():
    text = "Body.\nPromo code SAVE20 today\nShare this article"

    assert clean(text, boilerplate_patterns=[r"(?i)promo code"]) == "Body."
    assert clean(text, default_boilerplate=False) == text


def test_invalid_boilerplate_pattern_is_a_config_error():
    with pytest.raises(ValidationError, match=r"pattern 1 \('\(unclosed'\) is not a valid regex"):
        CleanConfig(boilerplate_patterns=["ok", "(unclosed"])


# --- the stage on tables ------------------------------------------------------------------------------


def base_table(rows: list[dict]) -> pa.Table:
    full = []
    for index, row in enumerate(rows):
        record = {field.name: None for field in schema.BASE_SCHEMA}
        record.update(
            {
                schema.DOC_ID: f"id{index}",
                schema.SOURCE_FILE: "f",
                schema.SOURCE_ROW: index,
                schema.ORIGIN: "source",
            }
        )
        record.update(row)
        full.append(record)
    return pa.Table.from_pylist(full, schema=schema.BASE_SCHEMA)


def test_documents_are_cleaned_and_emptied_ones_rejected_with_their_original_text():
    table = base_table(
        [
            {schema.KIND: "document", schema.TEXT: "<p>Hello&nbsp;world</p>"},
            {schema.KIND: "document", schema.TEXT: "<script>only()</script>\nShare this article"},
            {schema.KIND: "document", schema.TEXT: "\u200b \x00"},
        ]
    )

    result = CLEANER(table)

    assert result.kept.column(schema.TEXT).to_pylist() == ["Hello world"]
    assert result.rejected.column(schema.DOC_ID).to_pylist() == ["id1", "id2"]
    assert result.rejected.column(schema.REJECT_REASON).to_pylist() == [EMPTY_AFTER_CLEAN] * 2
    assert result.rejected.column(schema.TEXT).to_pylist() == [
        "<script>only()</script>\nShare this article",
        "\u200b \x00",
    ]
    assert result.kept.schema == schema.BASE_SCHEMA


def test_instruction_rows_clean_every_field():
    table = base_table(
        [
            {
                schema.KIND: "instruction",
                schema.SYSTEM: " Be  helpful. ",
                schema.INSTRUCTION: "<b>Translate</b> ＡＢＣ",
                schema.INPUT: "",
                schema.OUTPUT: "  indented\x00 code  \n\n\n\nend",
            },
            {schema.KIND: "instruction", schema.INSTRUCTION: "<br>", schema.OUTPUT: "answer"},
            {schema.KIND: "instruction", schema.INSTRUCTION: "question", schema.OUTPUT: "\u200b"},
        ]
    )

    result = CLEANER(table)

    (kept,) = result.kept.to_pylist()
    assert (kept["system"], kept["instruction"], kept["input"], kept["output"]) == (
        " Be helpful.",
        "Translate ABC",
        "",
        "  indented code\n\nend",
    )
    assert result.rejected.column(schema.REJECT_REASON).to_pylist() == [EMPTY_AFTER_CLEAN] * 2
    assert result.rejected.column(schema.INSTRUCTION).to_pylist() == ["<br>", "question"]


def test_conversations_are_cleaned_turn_by_turn():
    turns = [
        {"role": "system", "content": "<p></p>"},
        {"role": "user", "content": "Hi&nbsp;there"},
        {"role": "assistant", "content": "<b>Hello!</b>"},
    ]
    broken = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "<br>"}]
    table = base_table(
        [
            {
                schema.KIND: "instruction",
                schema.MESSAGES: turns,
                schema.SYSTEM: "<p></p>",
                schema.INSTRUCTION: "Hi&nbsp;there",
                schema.OUTPUT: "<b>Hello!</b>",
            },
            {
                schema.KIND: "instruction",
                schema.MESSAGES: broken,
                schema.INSTRUCTION: "Hi",
                schema.OUTPUT: "ok",
            },
        ]
    )

    result = CLEANER(table)

    (kept,) = result.kept.to_pylist()
    assert kept["messages"] == [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert (kept["system"], kept["instruction"], kept["output"]) == (None, "Hi there", "Hello!")
    assert result.rejected.column(schema.MESSAGES).to_pylist() == [broken]
    assert result.rejected.column(schema.REJECT_REASON).to_pylist() == [EMPTY_AFTER_CLEAN]


def test_documents_and_instructions_in_one_batch_keep_their_order_and_ids():
    table = base_table(
        [
            {schema.KIND: "document", schema.TEXT: "Doc  one"},
            {schema.KIND: "instruction", schema.INSTRUCTION: "Q", schema.OUTPUT: "A"},
            {schema.KIND: "document", schema.TEXT: "文档　二"},
        ]
    )

    result = CLEANER(table)

    assert result.kept.column(schema.DOC_ID).to_pylist() == ["id0", "id1", "id2"]
    assert result.kept.column(schema.TEXT).to_pylist() == ["Doc one", None, "文档 二"]
    assert result.rejected.num_rows == 0


def test_stage_runs_on_a_minimal_table():
    table = pa.table({schema.DOC_ID: ["a", "b"], schema.KIND: ["document"] * 2, schema.TEXT: ["x  y", " "]})

    result = CLEANER(table)

    assert result.kept.column(schema.TEXT).to_pylist() == ["x y"]
    assert result.rejected.column(schema.REJECT_REASON).to_pylist() == [EMPTY_AFTER_CLEAN]
