"""The language stage: robust text handling, both label formats, code equivalence, thresholds,
instruction data, the second opinion on short texts, and a run inside Ray."""

from __future__ import annotations

import functools

import pyarrow as pa
import pytest
from pydantic import ValidationError
from sftforge.operators import schema
from sftforge.operators.language.codes import admitted, canonical, is_admitted, label_to_code
from sftforge.operators.language.identifier import (
    LanguageConfig,
    LanguageFilter,
    LanguageIdentifier,
    language_counts,
    prepare_text,
)
from sftforge.operators.language.scripts import language_by_script

ENGLISH = "The committee will publish its final report on the new railway line next spring."
GERMAN = "Der Ausschuss wird seinen Abschlussbericht über die neue Bahnstrecke im Frühjahr veröffentlichen."
CHINESE = "委员会将于明年春天发布关于新铁路线的最终报告，并征求沿线居民的意见。"
FRENCH = "Le comité publiera son rapport final sur la nouvelle ligne ferroviaire au printemps prochain."


@functools.cache
def stage(**settings) -> LanguageFilter:
    """One stage per config for the whole module: models load once."""
    if "min_score_per_language" in settings:
        settings = {**settings, "min_score_per_language": dict(settings["min_score_per_language"])}
    built = LanguageFilter(LanguageConfig(**settings))
    built.setup()
    built._ready = True
    return built


@functools.cache
def identifier(**settings) -> LanguageIdentifier:
    return LanguageIdentifier(**settings)


def documents(*texts: str | None) -> pa.Table:
    return pa.table(
        {
            schema.DOC_ID: [f"d{index}" for index in range(len(texts))],
            schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
            schema.TEXT: pa.array(list(texts), type=pa.string()),
        }
    )


def instructions(*pairs: tuple[str, str]) -> pa.Table:
    return pa.table(
        {
            schema.DOC_ID: [f"i{index}" for index in range(len(pairs))],
            schema.KIND: [schema.KIND_INSTRUCTION] * len(pairs),
            schema.TEXT: pa.nulls(len(pairs), pa.string()),
            schema.INSTRUCTION: [instruction for instruction, _ in pairs],
            schema.INPUT: [""] * len(pairs),
            schema.OUTPUT: [output for _, output in pairs],
        }
    )


def reasons_by_id(result) -> dict[str, str | None]:
    reasons = {doc_id: None for doc_id in result.kept.column(schema.DOC_ID).to_pylist()}
    rejected = result.rejected
    reasons.update(
        zip(rejected.column(schema.DOC_ID).to_pylist(), rejected.column(schema.REJECT_REASON).to_pylist())
    )
    return reasons


# Robust text handling


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
        ENGLISH, " Two lines\nof TEXT \r\n", CHINESE, "Ärger über Öl", "ΚΑΛΗΜΕΡΑ κόσμε", "12345", "", None, "  ",
        "mail me: someone@example.com today", "see www.example.org", "x" * 1500, "\u00a0Ünïcödé\u2003",
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


# Label formats and codes


def test_lid176_labels_are_wikipedia_codes():
    assert label_to_code("__label__en") == "en"
    assert label_to_code("__label__no") == "nb"  # the Bokmål Wikipedia
    assert label_to_code("__label__als") == "gsw"  # Alemannic there, Tosk Albanian in ISO 639-3
    assert label_to_code("__label__sh") == "sh"


def test_glotlid_labels_are_iso639_3_with_a_script():
    assert label_to_code("__label__eng_Latn") == "en"
    assert label_to_code("__label__cmn_Hani") == "zh"
    assert label_to_code("__label__zho_Hans") == "zh"
    assert label_to_code("__label__nob_Latn") == "nb"
    assert label_to_code("__label__als_Latn") == "sq"
    assert label_to_code("__label__yue_Hant") == "yue"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("eng", "en"),
        ("ZHO", "zh"),
        ("cmn", "zh"),
        ("zsm", "ms"),
        ("pes", "fa"),
        ("swh", "sw"),
        ("ekk", "et"),
        ("nob", "nb"),
        ("nno", "nn"),
        ("ger", "de"),
        ("fil", "tl"),
        ("haw", "haw"),
        ("deu_Latn", "de"),
    ],
)
def test_iso639_1_and_639_3_name_the_same_language(code, expected):
    assert canonical(code) == expected


def test_macrolanguages_admit_their_members_and_not_the_reverse():
    assert is_admitted("yue", admitted(["zh"]))
    assert is_admitted("nn", admitted(["no"])) and is_admitted("nb", admitted(["no"]))
    assert not is_admitted("nn", admitted(["nb"]))
    assert not is_admitted("id", admitted(["ms"]))
    assert is_admitted("sh", admitted(["hr"]))  # a family prediction when the model cannot say more
    assert not is_admitted("zh", admitted(["yue"]))


def test_allowed_accepts_639_3_codes():
    result = stage(allowed=("eng", "zho"))(documents(ENGLISH, CHINESE, GERMAN))
    assert reasons_by_id(result)["d2"].startswith("language: de (")
    assert reasons_by_id(result)["d2"].endswith(") not in [en, zh]")
    assert result.kept.column(schema.LANG).to_pylist() == ["en", "zh"]


def test_a_glotlid_style_model_is_understood(tmp_path):
    import fasttext

    lines = []
    words = {
        "eng_Latn": [
            "the",
            "house",
            "is",
            "big",
            "and",
            "the",
            "garden",
            "is",
            "green",
            "with",
            "many",
            "old",
            "trees",
        ],
        "deu_Latn": [
            "das",
            "haus",
            "ist",
            "gross",
            "und",
            "der",
            "garten",
            "ist",
            "grün",
            "mit",
            "vielen",
            "alten",
            "bäumen",
        ],
        "zho_Hans": [
            "房子",
            "很",
            "大",
            "花园",
            "是",
            "绿色",
            "的",
            "有",
            "很多",
            "老",
            "树",
            "我们",
            "喜欢",
        ],
    }
    for round_ in range(60):
        for label, vocabulary in words.items():
            rotated = vocabulary[round_ % len(vocabulary) :] + vocabulary[: round_ % len(vocabulary)]
            lines.append(f"__label__{label} " + " ".join(rotated[:8]))
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = fasttext.train_supervised(str(train), epoch=25, lr=0.5, minn=2, maxn=4, dim=16, verbose=0)
    path = tmp_path / "glotlid-like.bin"
    model.save_model(str(path))

    filter_ = stage(model_path=str(path), allowed=("eng", "zho"), second_opinion=False, min_score=0.0)
    result = filter_(
        documents("the garden is green and big", "der garten ist grün und gross", "花园 很 大 有 老 树")
    )
    assert result.kept.column(schema.LANG).to_pylist() == ["en", "zh"]
    assert reasons_by_id(result)["d1"].startswith("language: de (")


def test_a_missing_model_fails_when_the_config_is_read(tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        LanguageConfig(model_path=str(tmp_path / "missing.ftz"))


def test_bad_codes_and_unknown_keys_are_config_errors():
    with pytest.raises(ValidationError, match="'english' is not an ISO 639"):
        LanguageConfig(allowed=("english",))
    with pytest.raises(ValidationError):
        LanguageConfig(alowed=("en",))
    with pytest.raises(ValidationError, match="allowed is empty"):
        LanguageConfig(allowed=())


# Scores


def test_min_score_per_language_overrides_the_global_one():
    sentence = "The meeting is at noon"
    score = stage(min_score=0.0)(documents(sentence)).kept.column(schema.LANG_SCORE)[0].as_py()
    assert 0.5 < score < 1.0
    strict = min(1.0, round(score + 0.005, 2))
    filter_ = stage(min_score=0.5, min_score_per_language=(("eng", strict),))
    result = filter_(documents(sentence, GERMAN))
    assert reasons_by_id(result) == {"d0": f"language: en score {score:.2f} < {strict:.2f}", "d1": None}


def test_the_global_min_score_applies_to_every_language():
    result = stage(min_score=1.0)(documents("hello there"))
    (reason,) = result.rejected.column(schema.REJECT_REASON).to_pylist()
    assert reason.startswith("language: en score ") and reason.endswith(" < 1.00")


# Instruction data


def test_instruction_and_response_must_both_pass():
    table = instructions(
        ("Summarise the following report in two sentences.", ENGLISH),
        ("Summarise the following report in two sentences.", GERMAN),
        ("请用两句话总结下面的报告。", CHINESE),
    )
    result = stage(allowed=("en", "zh"))(table)
    reasons = reasons_by_id(result)
    assert reasons["i0"] is None and reasons["i2"] is None
    assert reasons["i1"].startswith("language: response de (") and reasons["i1"].endswith(") not in [en, zh]")


def test_a_configured_field_decides_alone():
    table = instructions(("Summarise the following report in two sentences.", GERMAN))
    assert reasons_by_id(stage(allowed=("en",), text_field="instruction")(table)) == {"i0": None}
    assert reasons_by_id(stage(allowed=("de",), text_field="output")(table)) == {"i0": None}
    assert reasons_by_id(stage(allowed=("en",), text_field="output")(table))["i0"].startswith(
        "language: de ("
    )


def test_an_empty_response_is_undetermined():
    result = stage()(instructions(("Summarise the following report in two sentences.", "   ")))
    assert result.rejected.column(schema.REJECT_REASON).to_pylist() == ["undetermined: empty response"]


def test_multi_turn_messages_are_judged_by_their_user_and_assistant_turns():
    turns = [
        [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "The capital of France is Paris."},
            {"role": "user", "content": "And of Germany?"},
            {"role": "assistant", "content": "Berlin is the capital of Germany."},
        ],
        [
            {"role": "user", "content": "What is the capital of France?"},
            {
                "role": "assistant",
                "content": "Die Hauptstadt von Frankreich ist Paris, eine sehr schöne Stadt.",
            },
        ],
    ]
    table = pa.table(
        {
            schema.DOC_ID: ["m0", "m1"],
            schema.KIND: [schema.KIND_INSTRUCTION] * 2,
            schema.TEXT: pa.nulls(2, pa.string()),
            schema.MESSAGES: pa.array(turns, type=schema.MESSAGES_TYPE),
        }
    )
    reasons = reasons_by_id(stage(allowed=("en",))(table))
    assert reasons["m0"] is None
    assert reasons["m1"].startswith("language: response de (")


def test_documents_and_instruction_rows_share_a_batch():
    table = pa.concat_tables(
        [
            documents(ENGLISH, FRENCH),
            instructions(("Translate to French: good morning", "Bonjour à tous, et bonne journée.")),
        ],
        promote_options="default",
    )
    result = stage(allowed=("en", "fr"))(table)
    assert result.rejected.num_rows == 0
    assert result.kept.column(schema.LANG).to_pylist() == ["en", "fr", "en"]


# The second opinion


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


def test_scripts_settle_kana_hangul_and_han():
    assert language_by_script("東京に行きます")[0] == "ja"
    assert language_by_script("서울대학교")[0] == "ko"
    assert language_by_script("中国人民银行")[0] == "zh"
    assert language_by_script("粵語", suggested="yue")[0] == "yue"
    assert language_by_script("Привет") is None  # Cyrillic is shared: the models decide


def test_confident_texts_pay_for_fasttext_only():
    found = identifier().identify([ENGLISH, GERMAN, FRENCH])
    assert [item.decided_by for item in found] == ["fasttext"] * 3


# The run report


def test_language_counts_per_language_kept_and_rejected():
    table = pa.table(
        {
            schema.LANG: ["en", "en", "zh", "de", None],
            schema.REJECT_STAGE: [None, "quality", None, "language", "clean"],
        }
    )
    assert language_counts(table) == {"kept": {"en": 2, "zh": 1}, "rejected": {"de": 1}}


# Inside Ray


@pytest.mark.ray
def test_the_stage_runs_in_an_actor_pool(ray_session):
    import ray.data
    from sftforge.jobs.runner import apply_stage

    texts = [ENGLISH, GERMAN, CHINESE, FRENCH, "", "12345", "안녕하세요"] * 30
    table = documents(*texts)
    filter_ = LanguageFilter(LanguageConfig(allowed=("en", "zh", "ko"), max_actors=2, num_cpus=0.5))
    assert filter_.resources.actors and filter_.resources.num_cpus == 0.5
    out = apply_stage(ray.data.from_arrow(table), filter_, batch_size=50).to_arrow_refs()
    result = pa.concat_tables(ray.get(out))
    assert result.num_rows == table.num_rows
    rows = {row[schema.DOC_ID]: row for row in result.to_pylist()}
    assert rows["d0"][schema.LANG] == "en" and rows["d0"][schema.REJECT_STAGE] is None
    assert rows["d1"][schema.REJECT_STAGE] == "language" and rows["d1"][schema.REJECT_REASON].startswith(
        "language: de ("
    )
    assert rows["d4"][schema.REJECT_REASON] == "undetermined: empty"
    assert rows["d5"][schema.REJECT_REASON] == "undetermined: digits only"
    assert rows["d6"][schema.LANG] == "ko"
    counts = language_counts(result)
    assert counts["kept"] == {"en": 30, "ko": 30, "zh": 30}
    assert counts["rejected"] == {"und": 60, "de": 30, "fr": 30}
