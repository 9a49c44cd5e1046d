"""Dedup quality: pair precision and recall on labelled near duplicates built from real news text.

Rows are instruction pairs (``instruction`` = the prompt, ``output`` = the completion) compared on their
whole content (dedup's default ``key: all``), deduplicated by the same in-memory functions the single-task
path of ``jobs.dedup`` runs (exact, then MinHash LSH at the default threshold), without Ray.

What counts as a duplicate (the labels):

- T0 templates (``--data``/news/t0_news_prompts.jsonl): the same CNN/DailyMail, XSum or Multi-News example
  appears under up to ten prompt templates. Two rows of one example *in the same direction* (article ->
  summary, or summary -> article) carry the same source text and the same target and differ only in the
  instruction wrapper: duplicates. One example in opposite directions (an article -> summary row and its
  summary -> article row) is ambiguous (CNN: the same text in swapped roles; Multi-News: the summary and
  one of several articles) and not scored.
- Hard negatives: the articles that Multi-News groups under one event, cut out of the prompts, each a row
  of its own under a summarisation instruction. Different articles on one event are not duplicates.
  Multi-News reuses a few articles in several examples: identical texts are duplicates; near (not
  identical) copies, exact 5-gram Jaccard >= 0.8, are not scored, nor is an article against the T0 rows
  of its own example.
- Controlled edits of XSum and CNN articles: one sentence inserted (from another article), one deleted,
  two sentences swapped, a paragraph moved, a boilerplate wrapper added, a few words changed, each under
  a new instruction and with the example's summary as output. They are duplicates of one another and of
  that example's article -> summary template rows.
- Any two rows of different examples, events or articles: not duplicates.

A pair is predicted duplicate when dedup puts both rows in one cluster (``cluster_id``), so transitive
clusters count in full. Precision = predicted and labelled / predicted; recall = predicted and labelled /
labelled.

    python benchmarks/bench_dedup_quality.py [--quick] [--data ../shared/data] [--show 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
from sftforge.jobs.dedup.decisions import CLUSTER
from sftforge.jobs.dedup.workflow import decide
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.keys import extract_keys
from sftforge.operators.dedup.shingles import tokenize
from sftforge.operators.dedup.survivor import NODE

ROOT = Path(__file__).resolve().parents[1]

REVERSE_TEMPLATES = {
    "cnn_dailymail_3_0_0_generate_story",
    "cnn_dailymail_3_0_0_spice_up_story",
    "multi_news_expand_reverse_task_",
}
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
MULTI_NEWS_DOCUMENT = re.compile(r"\n\s*Document:\s*")
WRAPPERS = [
    ("BREAKING NEWS. ", " Share this article on Facebook and Twitter. All rights reserved."),
    ("From our correspondent: ", " Sign up for our newsletter to get the top stories every morning."),
    ("", " Read more: full coverage on our website. Comments are closed for this article."),
]


def clean(text: str) -> str:
    return text.replace("<|endoftext|>", "").strip()


def load_t0(data: Path) -> list[dict]:
    return [json.loads(line) for line in open(data / "news" / "t0_news_prompts.jsonl", encoding="utf-8")]


def source_of(template: str) -> str:
    return template.split("_")[0]


def template_rows(records: list[dict]) -> list[dict]:
    """Every T0 row, labelled with its example (source + summary) and direction."""
    summaries: dict[str, set[str]] = defaultdict(set)
    for record in records:
        if record["template"] not in REVERSE_TEMPLATES:
            summaries[source_of(record["template"])].add(clean(record["completion"]))
    rows = []
    for record in records:
        source = source_of(record["template"])
        reverse = record["template"] in REVERSE_TEMPLATES
        if reverse:
            prompt = record["prompt"]
            matches = [s for s in summaries[source] if s[:200] in prompt]
            summary = max(matches, key=len) if matches else None
        else:
            summary = clean(record["completion"])
        if summary is None:
            continue  # a reverse row whose example has no forward row here: nothing to pair it with
        rows.append(
            {
                "instruction": record["prompt"],
                "output": clean(record["completion"]),
                "group": f"t0:{source}:{summary}:{'rev' if reverse else 'fwd'}",
                "example": f"t0:{source}:{summary}",
                "kind": "template",
                "template": record["template"],
            }
        )
    return rows


def multi_news_documents(records: list[dict]) -> list[dict]:
    """Each article of each Multi-News example as its own row (hard negatives of one another)."""
    rows = []
    for record in records:
        if record["template"] != "multi_news_summarize":
            continue
        body = record["prompt"].split("\n", 1)[1]
        documents = [d.strip() for d in MULTI_NEWS_DOCUMENT.split(body) if len(d.split()) >= 60]
        event = clean(record["completion"])
        for document in documents:
            # Multi-News reuses some articles across examples: identical text is one group.
            text = " ".join(document.lower().split())
            rows.append(
                {
                    "instruction": "Write a short summary of this news article.\n\n" + document,
                    "output": "",
                    "group": f"mn-doc:{text}",
                    "example": f"mn-doc:{text}",
                    "event": f"t0:multi:{event}",
                    "kind": "multi-news article",
                }
            )
    return rows


def article_bodies(rows: list[dict], limit: int) -> list[dict]:
    """Forward T0 rows of XSum and CNN/DailyMail articles (one per example) with the article cut out."""
    picked = []
    seen = set()
    for row in rows:
        template = row.get("template")
        if template == "xsum_summarize_DOC":
            body = row["instruction"].removeprefix("Summarize: ")
        elif template == "cnn_dailymail_3_0_0_news_summary":
            body = row["instruction"].removeprefix("Summarise the article:\n\n")
        else:
            continue
        body = body.strip()
        if len(SENTENCE.split(body)) >= 6 and row["example"] not in seen:
            seen.add(row["example"])
            picked.append(dict(row, body=body))
    return picked[:limit]


def edits(body: str, donor: str, rng: random.Random) -> list[tuple[str, str]]:
    """(edit kind, edited text) for one article."""
    sentences = SENTENCE.split(body)
    donor_sentences = [s for s in SENTENCE.split(donor) if len(s.split()) >= 8] or [donor[:200]]
    out = []
    inserted = list(sentences)
    inserted.insert(rng.randrange(1, len(sentences)), rng.choice(donor_sentences))
    out.append(("insert a sentence", " ".join(inserted)))
    deleted = list(sentences)
    del deleted[rng.randrange(1, len(sentences) - 1)]
    out.append(("delete a sentence", " ".join(deleted)))
    swapped = list(sentences)
    at = rng.randrange(0, len(sentences) - 1)
    swapped[at], swapped[at + 1] = swapped[at + 1], swapped[at]
    out.append(("swap two sentences", " ".join(swapped)))
    third = max(1, len(sentences) // 3)
    out.append(("move a paragraph", " ".join(sentences[third:] + sentences[:third])))
    prefix, suffix = rng.choice(WRAPPERS)
    out.append(("boilerplate wrapper", prefix + body + suffix))
    words = body.split()
    for _ in range(max(2, len(words) // 60)):
        words[rng.randrange(len(words))] = rng.choice(["the", "a", "this", "that", "their", "its"])
    out.append(("change a few words", " ".join(words)))
    return out


def edit_rows(template_rows: list[dict], limit: int, seed: int) -> list[dict]:
    """Edited copies of articles, each with its example's summary as output: the same example, same
    direction (duplicates of that example's forward template rows too)."""
    rng = random.Random(seed)
    sources = article_bodies(template_rows, limit)
    rows = []
    for index, source in enumerate(sources):
        donor = sources[(index + 1) % len(sources)]["body"]
        for kind, text in edits(source["body"], donor, rng):
            rows.append({"instruction": "Summarize the following article.\n\n" + text, "output": source["output"],
                         "group": source["group"], "example": source["example"], "kind": f"edit: {kind}"})
    return rows


def shingle_set(text: str) -> set[str]:
    tokens = tokenize(text)
    return {" ".join(tokens[i : i + 5]) for i in range(max(1, len(tokens) - 4))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def to_table(rows: list[dict]) -> pa.Table:
    return pa.table(
        {
            schema.DOC_ID: [f"r{i:06d}" for i in range(len(rows))],
            schema.KIND: [schema.KIND_INSTRUCTION] * len(rows),
            schema.SOURCE_FILE: ["bench"] * len(rows),
            schema.SOURCE_ROW: list(range(len(rows))),
            schema.INSTRUCTION: [row["instruction"] for row in rows],
            schema.INPUT: [None] * len(rows),
            schema.OUTPUT: [row["output"] or None for row in rows],
        }
    )


def clusters_of(rows: list[dict], config: DedupConfig) -> tuple[list[str], float]:
    table = to_table(rows)
    started = time.perf_counter()
    keys = extract_keys(table, config)
    decisions = decide(keys, config)
    elapsed = time.perf_counter() - started
    decided = dict(zip(decisions.column(NODE).to_pylist(), decisions.column(CLUSTER).to_pylist(), strict=True))
    doc_ids = table.column(schema.DOC_ID).to_pylist()
    return [decided.get(node, doc_id) for node, doc_id in zip(keys.column(NODE).to_pylist(), doc_ids, strict=True)], elapsed


def pairs_within(groups: dict[str, list[int]]) -> set[tuple[int, int]]:
    return {pair for members in groups.values() for pair in itertools.combinations(sorted(members), 2)}


def evaluate(rows: list[dict], clusters: list[str], ignored: set[tuple[int, int]]) -> dict:
    by_group: dict[str, list[int]] = defaultdict(list)
    by_cluster: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_group[row["group"]].append(index)
        by_cluster[clusters[index]].append(index)
    labelled = pairs_within(by_group) - ignored
    predicted = pairs_within(by_cluster) - ignored
    hits = labelled & predicted
    return {
        "labelled": labelled,
        "predicted": predicted,
        "precision": len(hits) / len(predicted) if predicted else 1.0,
        "recall": len(hits) / len(labelled) if labelled else 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--articles", type=int, default=300, help="articles that get controlled edits")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--show", type=int, default=3, help="misses and false positives to print")
    parser.add_argument("--quick", action="store_true", help="first 1,500 T0 rows, 60 edited articles")
    args = parser.parse_args()

    records = load_t0(args.data)
    templates = template_rows(records)
    rows = templates + multi_news_documents(records) + edit_rows(templates, 60 if args.quick else args.articles, args.seed)
    if args.quick:
        # Every 8th example, and a quarter of the Multi-News events.
        examples = list(dict.fromkeys(row["example"] for row in rows if "event" not in row))
        kept = set(examples[::8])
        events = list(dict.fromkeys(row["event"] for row in rows if "event" in row))
        kept |= set(events[::4])
        rows = [row for row in rows if row["example"] in kept or row.get("event") in kept]

    texts = [row["instruction"] + "\n" + row["output"] for row in rows]
    sets: dict[int, set[str]] = {}

    def exact(a: int, b: int) -> float:
        for index in (a, b):
            if index not in sets:
                sets[index] = shingle_set(texts[index])
        return jaccard(sets[a], sets[b])

    # Pairs not scored: one example in opposite directions; near (not identical) copies among Multi-News
    # articles; an article against the T0 rows of its own example (whose prompts hold it among others,
    # or whose completion is it).
    ignored: set[tuple[int, int]] = set()
    by_example: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_example[row["example"]].append(index)
    for members in by_example.values():
        for a, b in itertools.combinations(sorted(members), 2):
            if rows[a]["group"] != rows[b]["group"]:
                ignored.add((a, b))
    articles = [index for index, row in enumerate(rows) if "event" in row]
    near_copies = 0
    for a, b in itertools.combinations(articles, 2):
        if rows[a]["group"] != rows[b]["group"] and exact(a, b) >= 0.8:
            ignored.add((a, b))
            near_copies += 1
    for index in articles:
        for other in by_example.get(rows[index]["event"], []):
            ignored.add((min(index, other), max(index, other)))

    events: dict[str, list[int]] = defaultdict(list)
    for index in articles:
        events[rows[index]["event"]].append(index)
    hard_negatives = {
        pair
        for members in events.values()
        for pair in itertools.combinations(sorted(members), 2)
        if rows[pair[0]]["group"] != rows[pair[1]]["group"] and pair not in ignored
    }

    kinds = Counter(row["kind"] for row in rows)
    print(f"{len(rows)} rows: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
    print(f"not scored: {len(ignored)} pairs ({near_copies} near copies among Multi-News articles; the rest one "
          f"example in opposite directions, or an article against its own example's T0 rows)")

    oracle: dict[str, set] = {}
    for label, config in (
        ("default (exact + near, threshold 0.8)", DedupConfig()),
        ("near only, threshold 0.8", DedupConfig(exact={"enabled": False})),
        ("default, datasketch's default bands (fn weight 0.5)", DedupConfig(near={"false_negative_weight": 0.5})),
    ):
        clusters, elapsed = clusters_of(rows, config)
        result = evaluate(rows, clusters, ignored)
        print(f"\n{label}: {elapsed:.1f} s")
        print(f"  labelled duplicate pairs {len(result['labelled'])}, predicted {len(result['predicted'])}")
        print(f"  pair precision {result['precision']:.4f}   pair recall {result['recall']:.4f}")
        if not oracle:
            above = {pair for pair in result["labelled"] if exact(*pair) >= 0.8}
            oracle.update(above=above)
            print(f"  (an exact 5-gram Jaccard >= 0.8 oracle would recall {len(above) / len(result['labelled']):.4f}"
                  f" of the labelled pairs)")
        hits_above = len(oracle["above"] & result["predicted"])
        print(f"  recall of labelled pairs at or above the threshold (exact Jaccard >= 0.8): "
              f"{hits_above / max(1, len(oracle['above'])):.4f}")
        misses = result["labelled"] - result["predicted"]
        false = result["predicted"] - result["labelled"]
        recall_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for a, b in result["labelled"]:
            kind = rows[b]["kind"] if rows[a]["kind"] == "template" else rows[a]["kind"]
            recall_by_kind[kind][0] += (a, b) not in misses
            recall_by_kind[kind][1] += 1
        print("  recall by kind: " + ", ".join(f"{kind} {hit / total:.3f} ({total})"
                                                for kind, (hit, total) in sorted(recall_by_kind.items())))
        hard = hard_negatives & result["predicted"]
        print(f"  false positives {len(false)}; hard negatives (different articles of one Multi-News event) "
              f"predicted duplicate: {len(hard)} of {len(hard_negatives)}")
        for title, sample in (("missed", sorted(misses)[: args.show]), ("false positive", sorted(false)[: args.show])):
            for a, b in sample:
                truth = exact(a, b)
                names = [rows[i].get("template", rows[i]["kind"]) for i in (a, b)]
                words = [len((rows[i]["instruction"] + " " + rows[i]["output"]).split()) for i in (a, b)]
                print(f"    {title}: {names[0]} / {names[1]} ({words[0]} / {words[1]} words), "
                      f"exact 5-gram Jaccard {truth:.2f}")


if __name__ == "__main__":
    main()
