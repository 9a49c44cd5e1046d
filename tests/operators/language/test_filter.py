"""The language stage: thresholds, instruction data, the run report, and a run inside Ray."""

from __future__ import annotations

import fasttext
import pyarrow as pa
import pytest
import ray
import ray.data
from sftforge.jobs.runner import apply_stage
from sftforge.operators import schema
from sftforge.operators.language.config import LanguageConfig
from sftforge.operators.language.filter import LanguageFilter, language_counts

from tests.operators.language.helpers import (
    CHINESE,
    ENGLISH,
    FRENCH,
    GERMAN,
    documents,
    instructions,
    reasons_by_id,
    stage,
)


def test_allowed_accepts_639_3_codes():
    result = stage(allowed=("eng", "zho"))(documents(ENGLISH, CHINESE, GERMAN))
    assert reasons_by_id(result)["d2"].startswith("language: de (")
    assert reasons_by_id(result)["d2"].endswith(") not in [en, zh]")
    assert result.kept.column(schema.LANG).to_pylist() == ["en", "zh"]


def test_a_glotlid_style_model_is_understood(tmp_path):

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


def test_language_counts_per_language_kept_and_rejected():
    table = pa.table(
        {
            schema.LANG: ["en", "en", "zh", "de", None],
            schema.REJECT_STAGE: [None, "quality", None, "language", "clean"],
        }
    )
    assert language_counts(table) == {"kept": {"en": 2, "zh": 1}, "rejected": {"de": 1}}


@pytest.mark.ray
def test_the_stage_runs_in_an_actor_pool(ray_session):

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
