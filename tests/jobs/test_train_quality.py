"""Training the fastText quality classifier and scoring with it: files, releases, the stage, Ray."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from sftforge.jobs.train_quality import (
    TrainingDataError,
    add_arguments,
    load_labelled,
    load_release,
    main,
    train_quality,
)
from sftforge.operators import schema
from sftforge.operators.quality.classifier import ClassifierError, QualityModel, metadata_path
from sftforge.operators.quality.scorer import (
    ClassifierConfig,
    DocumentRules,
    PairRules,
    QualityConfig,
    QualityScorer,
)

TOPICS = ["rain", "bread", "rivers", "bees", "volcanoes", "tides", "maps", "clocks", "glaciers", "comets",
          "雨水", "面包", "河流", "蜜蜂", "火山", "潮汐"]
GOOD_TEMPLATES = [
    ("Explain how {t} work.", "Here is a clear explanation of {t}: they follow simple physical rules, "
     "and each step can be observed and measured carefully."),
    ("Write two sentences about {t}.", "People have studied {t} for centuries. Today we understand {t} "
     "much better thanks to careful observation."),
    ("请介绍一下{t}。", "{t}是一个有趣的话题。人们通过长期观察，逐渐了解了{t}的规律和特点。"),
]
BAD_TEMPLATES = [
    ("Explain how {t} work.", "As an AI language model I cannot explain {t}. I'm sorry."),
    ("Write two sentences about {t}.", "{t} {t} {t} click here buy now !!! $$$ ###"),
    ("请介绍一下{t}。", "作为一个AI语言模型，我无法回答关于{t}的问题。"),
]


def generated_rows(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        label = "good" if index % 2 == 0 else "bad"
        instruction, output = rng.choice(GOOD_TEMPLATES if label == "good" else BAD_TEMPLATES)
        topic = rng.choice(TOPICS)
        rows.append({"instruction": instruction.format(t=topic), "input": "", "output": output.format(t=topic),
                     "label": label})
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("quality-model")
    labelled = folder / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in generated_rows(240)),
                        encoding="utf-8")
    report = train_quality(load_labelled([labelled]), folder / "quality.bin", epoch=10, dim=16, seed=1)
    return folder / "quality.bin", report


def test_training_reports_held_out_precision_and_recall(trained):
    model_path, report = trained
    assert report.train_rows + report.test_rows == 240
    assert report.test_rows == 48  # 20% of each label
    assert report.good_rows == report.bad_rows == 120
    assert report.metrics["bad"].precision >= 0.9 and report.metrics["bad"].recall >= 0.9
    assert report.metrics["good"].support == 24
    meta = json.loads(metadata_path(model_path).read_text(encoding="utf-8"))
    assert meta["text_format"] == "sftforge-quality-text-v1"
    assert meta["metrics"]["bad"]["recall"] == report.metrics["bad"].recall


def test_training_is_reproducible(tmp_path):
    examples = [example for example in load_labelled_rows(tmp_path, generated_rows(80, seed=5))]
    first = train_quality(examples, tmp_path / "a.bin", epoch=5, dim=8, seed=3)
    second = train_quality(examples, tmp_path / "b.bin", epoch=5, dim=8, seed=3)
    assert first.metrics == second.metrics
    lines = [example.line for example in examples[:10]]
    assert (QualityModel.load(tmp_path / "a.bin").probability_good(lines)
            == QualityModel.load(tmp_path / "b.bin").probability_good(lines)).all()


def load_labelled_rows(folder: Path, rows: list[dict]):
    path = folder / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return load_labelled([path])


def _pairs(rows: list[dict]) -> pa.Table:
    return pa.table({
        schema.DOC_ID: [f"r{i}" for i in range(len(rows))],
        schema.KIND: [schema.KIND_INSTRUCTION] * len(rows),
        schema.INSTRUCTION: [row["instruction"] for row in rows],
        schema.INPUT: [row["input"] for row in rows],
        schema.OUTPUT: [row["output"] for row in rows],
    })


def _rules_off() -> dict:
    return {"documents": None, "pairs": PairRules(refusal=False, min_response_chars=None, min_response_cjk_chars=None)}


def test_stage_scores_with_the_trained_model(trained):
    model_path, _ = trained
    rows = generated_rows(40, seed=99)
    config = QualityConfig(classifier=ClassifierConfig(path=str(model_path), threshold=0.5, weight=1.0), **_rules_off())
    stage = QualityScorer(config)
    assert stage.resources.actors and stage.resources.num_cpus == 0.5
    result = stage(_pairs(rows))
    labels = {f"r{i}": row["label"] for i, row in enumerate(rows)}
    rejected = result.rejected.column(schema.DOC_ID).to_pylist()
    assert sum(labels[doc] == "bad" for doc in rejected) >= 18
    assert sum(labels[doc] == "good" for doc in rejected) <= 2
    assert all(reason.startswith("classifier(") for reason in result.rejected.column(schema.REJECT_REASON).to_pylist())
    kept = result.kept.to_pylist()
    assert all(row[schema.QUALITY_SCORE] == pytest.approx(row[schema.QUALITY_CLASSIFIER_SCORE], abs=1e-6) for row in kept)


@pytest.mark.ray
def test_stage_scores_in_a_ray_actor_pool(ray_session, trained):
    import ray.data
    from sftforge.jobs.runner import apply_stage

    model_path, _ = trained
    rows = generated_rows(60, seed=7)
    config = QualityConfig(classifier=ClassifierConfig(path=str(model_path)), **_rules_off())
    ds = apply_stage(ray.data.from_arrow(_pairs(rows)), QualityScorer(config), batch_size=16)
    out = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    assert out.num_rows == 60
    scores = dict(zip(out.column(schema.DOC_ID).to_pylist(), out.column(schema.QUALITY_CLASSIFIER_SCORE).to_pylist()))
    good = [scores[f"r{i}"] for i, row in enumerate(rows) if row["label"] == "good"]
    bad = [scores[f"r{i}"] for i, row in enumerate(rows) if row["label"] == "bad"]
    assert min(good) > max(bad)


def _release(folder: Path) -> Path:
    release = folder / "rel"
    (release / "train").mkdir(parents=True)
    (release / "documents" / "train").mkdir(parents=True)
    (release / "rejects").mkdir(parents=True)
    messages = [[{"role": "user", "content": f"Explain {t}."}, {"role": "assistant", "content": f"{t} are fine."}]
                for t in TOPICS[:5]]
    pq.write_table(pa.table({schema.MESSAGES: pa.array(messages, type=schema.MESSAGES_TYPE)}),
                   release / "train" / "part-00000.parquet")
    pq.write_table(pa.table({schema.TEXT: ["A document about rivers and the sea."]}),
                   release / "documents" / "train" / "part-00000.parquet")
    pq.write_table(pa.table({
        schema.DOC_ID: ["x1", "x2", "x3", "x4"],
        schema.REJECT_STAGE: ["quality", "judge", "dedup.exact", "language"],
        schema.REJECT_REASON: ["refusal", "judge 2/10", "duplicate of a1", "de"],
        schema.TEXT: [None, None, None, "Ein Satz."],
        schema.INSTRUCTION: ["Explain x.", "Explain y.", "Explain z.", None],
        schema.INPUT: ["", "", "", None],
        schema.OUTPUT: ["As an AI I cannot.", "Bad.", "z is z.", None],
    }), release / "rejects" / "part-00000.parquet")
    return release


def test_release_rows_become_examples(tmp_path):
    examples = load_release(_release(tmp_path))
    labels = [example.label for example in examples]
    assert labels.count("good") == 6 and labels.count("bad") == 2  # dedup and language rejects are not bad
    assert any(example.line.startswith("__prompt__ explain rain") for example in examples)
    assert any(example.line.startswith("__document__") for example in examples)
    assert [e.label for e in load_release(_release(tmp_path / "all"), bad_stages=None)].count("bad") == 4


def test_cli_trains_from_a_labelled_file(tmp_path, capsys):
    labelled = tmp_path / "rows.jsonl"
    labelled.write_text("".join(json.dumps(row) + "\n" for row in generated_rows(60, seed=2)), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--labelled", str(labelled), "--output", str(tmp_path / "m.bin"), "--epoch", "5"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "precision" in out
    assert (tmp_path / "m.bin").is_file()


def test_sftforge_train_quality_subcommand(tmp_path, capsys):
    from sftforge.jobs.cli import main as sftforge

    labelled = tmp_path / "rows.jsonl"
    labelled.write_text("".join(json.dumps(row) + "\n" for row in generated_rows(40, seed=4)), encoding="utf-8")
    code = sftforge(["train-quality", "--labelled", str(labelled), "--output", str(tmp_path / "q.bin"), "--epoch", "3"])
    assert code == 0
    assert metadata_path(tmp_path / "q.bin").is_file()
    assert "held-out accuracy" in capsys.readouterr().out


def test_bad_training_data_is_named(tmp_path, capsys):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "a", "output": "b", "label": "maybe"}\n', encoding="utf-8")
    with pytest.raises(TrainingDataError, match="broken.jsonl row 1: label 'maybe'"):
        load_labelled([broken])
    one_sided = tmp_path / "good.jsonl"
    one_sided.write_text('{"instruction": "a", "output": "b", "label": "good"}\n' * 5, encoding="utf-8")
    with pytest.raises(TrainingDataError, match="at least 2 'bad'"):
        train_quality(load_labelled([one_sided]), tmp_path / "m.bin")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main(parser.parse_args(["--labelled", str(tmp_path / "missing.jsonl"), "--output", "m.bin"])) == 2
    assert "missing.jsonl: no such file" in capsys.readouterr().err


def test_unusable_models_are_refused(tmp_path, trained):
    model_path, _ = trained
    not_a_model = tmp_path / "junk.bin"
    not_a_model.write_bytes(b"this is not a fastText model")
    with pytest.raises(ClassifierError):
        QualityModel.load(not_a_model)
    copy = tmp_path / "old.bin"
    copy.write_bytes(model_path.read_bytes())
    metadata_path(copy).write_text(json.dumps({"text_format": "some-older-format"}), encoding="utf-8")
    with pytest.raises(ClassifierError, match="retrain"):
        QualityModel.load(copy)
    with pytest.raises(ValidationError, match="no quality model"):
        ClassifierConfig(path=str(tmp_path / "nowhere.bin"))
    with pytest.raises(ValidationError):
        QualityConfig(documents=DocumentRules(), classifier={"path": str(model_path), "threshold": 2})
