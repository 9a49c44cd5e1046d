"""The identifier: robust text handling, and the second opinion on short or unsure texts."""

from __future__ import annotations

import pytest
from sftforge.operators import schema
from sftforge.operators.language.identifier import prepare_text

from tests.operators.language.helpers import (
    CHINESE,
    ENGLISH,
    FRENCH,
    GERMAN,
    documents,
    identifier,
    reasons_by_id,
    stage,
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "empty"),
        ("", "empty"),
        (" \n\t \u3000 ", "empty"),
        ("https://example.com/path?q=1 www.example.org mail@example.com", "urls only"),
        ("12 345,67 2024-05-01", "digits only"),
        ("!!! ??? ... ---", "no letters"),
        ("🙂 🚀 ✨", "no letters"),
    ],
)
def test_text_without_language_is_undetermined(text, reason):
    assert prepare_text(text).undetermined == reason
    result = stage()(documents(text, ENGLISH))
    assert reasons_by_id(result) == {"d0": f"undetermined: {reason}", "d1": None}
    rejected = result.rejected.to_pylist()[0]
    assert rejected[schema.LANG] == "und" and rejected[schema.LANG_SCORE] == 0.0


def test_newlines_never_reach_fasttext():
    text = "The committee met on Monday.\nIt will publish its report\r\nnext spring.\n"
    (windows, _) = prepare_text(text)
    assert all("\n" not in window and "\r" not in window for window in windows)
    result = stage()(documents(text))
    assert result.kept.column(schema.LANG).to_pylist() == ["en"]


def test_the_batch_preparation_matches_prepare_text():
    texts = [
        ENGLISH,
        " Two lines\nof TEXT \r\n",
        CHINESE,
        "Ärger über Öl",
        "ΚΑΛΗΜΕΡΑ κόσμε",
        "12345",
        "",
        None,
        "  ",
        "mail me: someone@example.com today",
        "see www.example.org",
        "x" * 1500,
        "\u00a0Ünïcödé\u2003",
    ]
    lid = identifier()
    for text, item in zip(texts, lid._prepare(texts), strict=True):
        expected = prepare_text(text, lid.window_chars, lid.max_windows)
        assert (item,) == expected.windows if isinstance(item, str) else item == expected, text
    # A batch Arrow cannot hold (a lone surrogate) is prepared text by text, in the same shapes.
    assert lid._prepare(["broken \ud800 text", ENGLISH])[1] == ENGLISH.lower()


def test_urls_do_not_make_a_text_english():
    text = "委员会将于明年春天发布报告 https://example.com/report/final-version-english www.example.org"
    assert identifier().identify([text])[0].lang == "zh"


def test_a_long_document_is_judged_on_bounded_windows():
    header = "Table of contents. Introduction. Chapter one. Appendix. " * 10
    body = CHINESE * 500_000  # about 19 MB of text
    prepared = prepare_text(header + body, window_chars=1000, max_windows=3)
    assert len(prepared.windows) == 3 and all(len(window) <= 1000 for window in prepared.windows)
    result = stage()(documents(header + body, ENGLISH * 3))
    assert result.kept.column(schema.LANG).to_pylist() == ["zh", "en"]


def test_mixed_script_text_takes_the_language_of_its_sentences():
    found = identifier().identify(
        [
            "我们使用 Python 和 Ray Data 来处理大规模数据集，效果很好。",
            "iPhone 15 Pro 的电池续航明显比上一代更好。",
        ]
    )
    assert [item.lang for item in found] == ["zh", "zh"]


def test_code_gets_a_label_not_an_error():
    code = 'def mean(values):\n    """Return the arithmetic mean of a list of numbers."""\n    return sum(values) / len(values)\n'
    found = identifier().identify([code, "x = [1, 2, 3]\nprint(x[0] + x[1])"])
    assert found[0].lang == "en"
    assert found[1].undetermined is None and 0.0 <= found[1].score <= 1.0


def test_lone_surrogates_do_not_break_the_batch():
    found = identifier().identify(["broken \ud800 text in plain English words here", ENGLISH])
    assert found[1].lang == "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好吗", "zh"),
        ("ありがとう", "ja"),
        ("大学の先生", "ja"),
        ("안녕하세요", "ko"),
        ("Γειά σου κόσμε", "el"),
        ("გამარჯობა", "ka"),
        ("Дякую", "uk"),
        ("Дзякуй вельмі", "be"),
        ("Сайн байна уу", "mn"),
        ("Obrigado", "pt"),
    ],
)
def test_short_texts_get_a_second_opinion(text, expected):
    (found,) = identifier().identify([text])
    assert found.lang == expected
    assert found.decided_by != "fasttext"


def test_the_second_opinion_fixes_what_fasttext_alone_gets_wrong():
    texts = ["Дякую", "Дзякуй вельмі", "Сайн байна уу"]
    alone = identifier(
        second_opinion_below=0.0, short_text_chars=0, use_script=False, use_cld2=False, use_lingua=False
    )
    assert [found.lang for found in alone.identify(texts)] != ["uk", "be", "mn"]
    assert [found.lang for found in identifier().identify(texts)] == ["uk", "be", "mn"]


def test_confident_texts_pay_for_fasttext_only():
    found = identifier().identify([ENGLISH, GERMAN, FRENCH])
    assert [item.decided_by for item in found] == ["fasttext"] * 3
