"""``sftforge train-quality``: train the fastText quality classifier the quality stage can score with.

Labelled examples come from either

- files (JSONL or Parquet) with a label column whose values are good/bad (also 1/0, true/false,
  keep/reject), and the usual text columns (``instruction``/``input``/``output``, ``messages`` or
  ``conversations``, or ``text``); or
- an earlier release: rows written to its splits are good, rows in its ``rejects/`` are bad when a
  stage that judges quality rejected them (``quality`` and ``judge`` by default; duplicates and
  wrong-language rows say nothing about quality).

The examples are shuffled with a seed, a held-out share is kept apart, the model is trained on the
rest (one thread, so that the same data and seed give the same model), and precision and recall on
the held-out rows are reported for both labels. The model is saved in fastText's own format, with
``<model>.json`` beside it (text format, labels, metrics, data counts).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.operators import schema
from sftforge.operators.quality.classifier import (
    LABEL_BAD,
    LABEL_GOOD,
    LABEL_PREFIX,
    TEXT_FORMAT,
    QualityModel,
    classifier_text,
    metadata_path,
    training_line,
)
from sftforge.operators.read.json_lines import json_objects

GOOD_VALUES = frozenset({"good", "1", "true", "keep", "kept", "pos", "positive", "yes"})
BAD_VALUES = frozenset({"bad", "0", "false", "reject", "rejected", "neg", "negative", "no"})
DEFAULT_BAD_STAGES = ("quality", "judge")
_REJECTS = "rejects"


class TrainingDataError(Exception):
    """Labelled examples cannot be read or are not enough to train on; the message names the file."""


@dataclass(frozen=True)
class Example:
    """One labelled row, already shaped for fastText."""

    label: str
    line: str


@dataclass
class LabelMetrics:
    """Held-out precision and recall of one label."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class TrainReport:
    """What ``train_quality`` did and how well the model does on held-out rows."""

    model_path: str
    train_rows: int
    test_rows: int
    good_rows: int
    bad_rows: int
    accuracy: float
    threshold: float
    metrics: dict[str, LabelMetrics] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _label(value, source: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in GOOD_VALUES:
        return LABEL_GOOD
    if text in BAD_VALUES:
        return LABEL_BAD
    raise TrainingDataError(f"{source}: label {value!r} is neither good nor bad")


def _record_line(record: dict) -> str:
    """The classifier text of one record in any of the layouts sftforge reads or writes."""
    conversation = record.get(schema.MESSAGES) or record.get("conversations")
    if conversation:
        users, answers = [], []
        for turn in conversation:
            role = turn.get("role") or turn.get("from")
            content = turn.get("content") if "content" in turn else turn.get("value")
            if role in (schema.ROLE_USER, "human", "user"):
                users.append(content or "")
            elif role in (schema.ROLE_ASSISTANT, "gpt", "assistant"):
                answers.append(content or "")
        return classifier_text("\n".join(users), None, answers[-1] if answers else "")
    instruction, input_, output = (record.get(name) for name in (schema.INSTRUCTION, schema.INPUT, schema.OUTPUT))
    if instruction or output:
        return classifier_text(instruction, input_, output)
    return classifier_text(text=record.get(schema.TEXT) or "")


def _records(path: Path) -> Iterable[dict]:
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise TrainingDataError(f"{path}: not a readable Parquet file ({exc})") from None
        yield from table.to_pylist()
        return
    with path.open(encoding="utf-8") as handle:
        for _where, record in json_objects(handle, str(path), TrainingDataError):
            yield record


def load_labelled(paths: Sequence[str | Path], label_column: str = "label") -> list[Example]:
    """Examples from JSONL or Parquet files with a good/bad label column."""
    examples = []
    for path in map(Path, paths):
        if not path.is_file():
            raise TrainingDataError(f"{path}: no such file")
        for number, record in enumerate(_records(path), start=1):
            if label_column not in record:
                raise TrainingDataError(f"{path}: row {number} has no '{label_column}' column")
            label = _label(record[label_column], f"{path} row {number}")
            if label is not None:
                examples.append(Example(label, _record_line(record)))
    return examples


def load_release(release: str | Path, bad_stages: Sequence[str] | None = DEFAULT_BAD_STAGES) -> list[Example]:
    """Examples from a published release: written rows are good, quality rejections bad.

    Args:
        release: The release folder (``<output.dir>/<release>``).
        bad_stages: Stages whose rejections count as bad; ``None`` takes every rejection.
    """
    release = Path(release)
    if not release.is_dir():
        raise TrainingDataError(f"{release}: no such release folder")
    examples = []
    for path in sorted(release.rglob("*.parquet")):
        rejected = _REJECTS in path.relative_to(release).parts
        for record in _records(path):
            if rejected:
                stage = record.get(schema.REJECT_STAGE)
                if bad_stages is not None and stage not in bad_stages:
                    continue
                examples.append(Example(LABEL_BAD, _record_line(record)))
            else:
                examples.append(Example(LABEL_GOOD, _record_line(record)))
    if not examples:
        raise TrainingDataError(f"{release}: no Parquet rows found under its split folders or rejects/")
    return examples


def _split(examples: list[Example], test_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A stratified shuffle split: each label keeps its share in train and test."""
    rng = random.Random(seed)
    train, test = [], []
    for label in (LABEL_GOOD, LABEL_BAD):
        group = sorted((example for example in examples if example.label == label), key=lambda e: e.line)
        rng.shuffle(group)
        cut = max(1, round(len(group) * test_fraction)) if test_fraction > 0 else 0
        test += group[:cut]
        train += group[cut:]
    rng.shuffle(train)
    return train, test


def _metrics(truth: list[str], predicted: list[str]) -> dict[str, LabelMetrics]:
    result = {}
    for label in (LABEL_GOOD, LABEL_BAD):
        tp = sum(1 for t, p in zip(truth, predicted) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted) if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[label] = LabelMetrics(round(precision, 4), round(recall, 4), round(f1, 4), tp + fn)
    return result


def train_quality(
    examples: Sequence[Example],
    output: str | Path,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    epoch: int = 25,
    lr: float = 0.5,
    word_ngrams: int = 2,
    dim: int = 32,
    min_count: int = 1,
    threshold: float = 0.5,
    sources: Sequence[str] = (),
) -> TrainReport:
    """Trains, evaluates on held-out rows, and saves a fastText quality model.

    Args:
        examples: Labelled examples (``load_labelled`` / ``load_release``).
        output: Where to save the model; ``<output>.json`` gets its metadata and metrics.
        test_fraction: Share of each label held out for evaluation.
        seed: Seed of the split and of fastText.
        epoch, lr, word_ngrams, dim, min_count: fastText hyper-parameters.
        threshold: P(good) below which a held-out row counts as predicted bad.
        sources: Where the examples came from, recorded in the metadata.

    Raises:
        TrainingDataError: Fewer than 2 examples of either label.
    """
    import fasttext

    counts = {label: sum(1 for example in examples if example.label == label) for label in (LABEL_GOOD, LABEL_BAD)}
    for label, count in counts.items():
        if count < 2:
            raise TrainingDataError(f"need at least 2 '{label}' examples to train and evaluate, got {count}")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    train, test = _split(list(examples), test_fraction, seed)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        train_file = Path(scratch) / "train.txt"
        train_file.write_text(
            "".join(training_line(example.label, example.line) + "\n" for example in train), encoding="utf-8"
        )
        model = fasttext.train_supervised(
            input=str(train_file), epoch=epoch, lr=lr, wordNgrams=word_ngrams, dim=dim, minCount=min_count,
            seed=seed, thread=1, verbose=0, loss="softmax",
        )
    model.save_model(str(output))
    if test:
        good = QualityModel(model).probability_good([example.line for example in test])
        predicted = [LABEL_GOOD if p >= threshold else LABEL_BAD for p in good]
        truth = [example.label for example in test]
        metrics = _metrics(truth, predicted)
        accuracy = sum(1 for t, p in zip(truth, predicted) if t == p) / len(test)
    else:
        metrics, accuracy = {}, float("nan")
    report = TrainReport(
        model_path=str(output), train_rows=len(train), test_rows=len(test), good_rows=counts[LABEL_GOOD],
        bad_rows=counts[LABEL_BAD], accuracy=round(accuracy, 4), threshold=threshold, metrics=metrics,
        sources=list(sources),
    )
    meta = {
        "text_format": TEXT_FORMAT,
        "labels": [LABEL_PREFIX + LABEL_GOOD, LABEL_PREFIX + LABEL_BAD],
        "hyperparameters": {"epoch": epoch, "lr": lr, "word_ngrams": word_ngrams, "dim": dim,
                            "min_count": min_count, "seed": seed, "test_fraction": test_fraction},
        **report.as_dict(),
    }
    metadata_path(output).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train-quality`` subcommand's arguments."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--labelled", nargs="+", metavar="FILE",
                        help="JSONL or Parquet files with a good/bad label column")
    source.add_argument("--release", metavar="DIR",
                        help="an earlier release: written rows are good, quality rejections bad")
    parser.add_argument("--output", required=True, help="where to save the model (e.g. models/quality.bin)")
    parser.add_argument("--label-column", default="label", help="label column of --labelled files")
    parser.add_argument("--bad-stages", default=",".join(DEFAULT_BAD_STAGES),
                        help="with --release: comma-separated stages whose rejects are bad ('all' for every stage)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="held-out share of each label")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epoch", type=int, default=25)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--word-ngrams", type=int, default=2)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--threshold", type=float, default=0.5, help="P(good) below which a row is bad")


def main(args: argparse.Namespace) -> int:
    """Runs ``train-quality`` and prints the held-out metrics; returns the exit code."""
    try:
        if args.release:
            stages = None if args.bad_stages.strip() == "all" else [s.strip() for s in args.bad_stages.split(",") if s.strip()]
            examples = load_release(args.release, stages)
            sources = [args.release]
        else:
            examples = load_labelled(args.labelled, args.label_column)
            sources = list(args.labelled)
        report = train_quality(
            examples, args.output, test_fraction=args.test_fraction, seed=args.seed, epoch=args.epoch,
            lr=args.lr, word_ngrams=args.word_ngrams, dim=args.dim, threshold=args.threshold, sources=sources,
        )
    except TrainingDataError as exc:
        print(f"sftforge: error: {exc}", file=sys.stderr)
        return 2
    print(f"model: {report.model_path} ({report.train_rows} train / {report.test_rows} held-out rows; "
          f"{report.good_rows} good, {report.bad_rows} bad)")
    print(f"held-out accuracy {report.accuracy:.3f} at P(good) >= {report.threshold}")
    for label, metric in report.metrics.items():
        print(f"  {label:>4}: precision {metric.precision:.3f}  recall {metric.recall:.3f}  "
              f"f1 {metric.f1:.3f}  (n={metric.support})")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="sftforge train-quality", description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
