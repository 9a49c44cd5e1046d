"""The augmentation driver against a real chat-completions server on 127.0.0.1 with a scripted model.

Covers each method end to end (English and Chinese parents), provenance, the dead-letter table
(filtered candidates and malformed replies), the target, re-runs that send nothing, and a run killed
mid-way that resumes without repeating finished work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.augment.driver import AugmentOutcome, read_dead_letters, read_generated, run_augment
from sftforge.operators import schema
from sftforge.operators.augment import AugmentConfig, filters
from sftforge.operators.augment.novelty import rouge_l_text
from sftforge.operators.llm_client import LLMConfig, RetryPolicy
from sftforge.operators.read.records import content_id

from tests.support import augment_model
from tests.support.openai_server import BAD_REQUEST, GARBLED_REPLY, OpenAITestServer

ROOT = Path(__file__).resolve().parents[3]
SEEDS = str(ROOT / "jobs" / "demo" / "seed_tasks.jsonl")
QUICK_RETRY = RetryPolicy(max_attempts=3, max_total_s=20, initial_backoff_s=0.01, max_backoff_s=0.05,
                          repair_attempts=1)


@pytest.fixture
def server():
    with OpenAITestServer(reply=augment_model.reply) as running:
        yield running


def llm_for(server, tmp_path, **overrides) -> LLMConfig:
    values = {"base_url": server.url, "model": "test-model", "api_key_env": None, "seed": 0,
              "cache": str(tmp_path / "cache"), "retry": QUICK_RETRY, "max_in_flight": 4, "timeout_s": 5}
    values.update(overrides)
    return LLMConfig(**values)


def generated(outcome: AugmentOutcome) -> list[dict]:
    return pa.concat_tables(list(read_generated(outcome))).to_pylist()


def dead_letters(outcome: AugmentOutcome) -> list[dict]:
    return pa.concat_tables(list(read_dead_letters(outcome))).to_pylist()


# --- Self-Instruct ----------------------------------------------------------------------------------


def test_self_instruct_reaches_the_target_in_english_and_chinese(server, tmp_path):
    config = AugmentConfig(progress=False, self_instruct={"seed_tasks": SEEDS, "target_rows": 40,
                                                          "prompts_per_batch": 4})
    outcome = run_augment(config, llm_for(server, tmp_path), tmp_path / "work")
    rows = generated(outcome)
    report = outcome.report()["methods"]["self_instruct"]
    assert outcome.rows == len(rows) == 40 and report["stopped"] is None
    assert {filters.text_language(row[schema.INSTRUCTION]) for row in rows} == {"en", "zh"}
    assert sum(filters.text_language(row[schema.INSTRUCTION]) == "zh" for row in rows) == 20
    assert len({row[schema.DOC_ID] for row in rows}) == 40
    for row in rows:
        language = filters.text_language(row[schema.INSTRUCTION])
        assert row[schema.ORIGIN] == "self_instruct" and row[schema.PARENT_ID] is None
        assert row[schema.KIND] == schema.KIND_INSTRUCTION and row[schema.OUTPUT]
        assert row[schema.GEN_MODEL] == "test-model"
        assert row[schema.GEN_TEMPLATE].startswith(f"self_instruct.generate.{language}+self_instruct.classify.{language}+")
        assert row[schema.GEN_TEMPLATE_VERSION] == "1+1+1"
    # Output-first instances for the tasks the model called classification.
    classification = [row for row in rows if row[schema.GEN_TEMPLATE].endswith(("output_first.en", "output_first.zh"))]
    assert classification and all(row[schema.OUTPUT] in {"first", "second", "甲类", "乙类"} for row in classification)
    # No two kept instructions (nor one and a seed) are near copies.
    seeds = [json.loads(line)["instruction"] for line in Path(SEEDS).read_text(encoding="utf-8").splitlines()]
    instructions = sorted({row[schema.INSTRUCTION] for row in rows})
    for i, text in enumerate(instructions):
        assert all(rouge_l_text(text, other) < 0.7 for other in instructions[i + 1:] + seeds)
    # Every dropped candidate is in the dead-letter table with its reason, and the funnel adds up.
    letters = dead_letters(outcome)
    reasons = {letter["reason"] for letter in letters}
    assert {filters.TOO_SIMILAR, filters.UNSUPPORTED_TASK, filters.TOO_SHORT} <= reasons
    funnel = report["funnel"]
    filtered = sum(1 for letter in letters if letter["step"] == "filter")
    assert funnel["candidates"] == funnel["instructions_accepted"] + filtered
    assert all(letter["candidate"] for letter in letters if letter["step"] == "filter")
    similar = next(letter for letter in letters if letter["reason"] == filters.TOO_SIMILAR)
    assert "rouge_l=" in similar["detail"]


def test_rerun_sends_nothing_and_a_raised_target_continues(server, tmp_path):
    llm = llm_for(server, tmp_path)

    def config(target: int) -> AugmentConfig:
        return AugmentConfig(progress=False, self_instruct={"seed_tasks": SEEDS, "target_rows": target,
                                                            "prompts_per_batch": 2, "languages": ["en"]})

    first = run_augment(config(10), llm, tmp_path / "work")
    sent = server.count
    again = run_augment(config(10), llm, tmp_path / "work")
    assert server.count == sent and again.rows == 10 and again.methods["self_instruct"].resumed_rows == 10
    assert generated(again) == generated(first)
    more = run_augment(config(30), llm, tmp_path / "work")
    assert more.rows == 30 and more.methods["self_instruct"].resumed_rows == 10
    assert all(entry.attempt == 0 for entry in server.log)  # no request body was ever sent twice
    assert len({row[schema.DOC_ID] for row in generated(more)}) == 30


# --- Per-row methods --------------------------------------------------------------------------------

PARENT_COLUMNS = pa.schema([(name, schema.BASE_SCHEMA.field(name).type)
                            for name in (schema.DOC_ID, schema.KIND, schema.TEXT, schema.INSTRUCTION,
                                         schema.INPUT, schema.OUTPUT, schema.REJECT_STAGE)])
DOC_EN_GOOD = ("This is a good article about community gardens. They turn empty city lots into shared plots where "
               "neighbours grow vegetables, meet each other and teach children where food comes from.")
DOC_EN_POOR = ("Community gardens are a thing that exists in some places and people go there sometimes to do "
               "various activities with plants and soil and other people who live nearby.")
DOC_ZH_GOOD = "社区花园把城市里的空地变成共享菜园，邻居们在这里种菜、交流，孩子们也能了解食物从哪里来，这是一个好的做法。"


def parent_table() -> pa.Table:
    def pair(instruction: str, output: str) -> dict:
        return {schema.DOC_ID: content_id(schema.KIND_INSTRUCTION, [instruction, "", output]),
                schema.KIND: schema.KIND_INSTRUCTION, schema.INSTRUCTION: instruction, schema.INPUT: "",
                schema.OUTPUT: output}

    def document(text: str) -> dict:
        return {schema.DOC_ID: content_id(schema.KIND_DOCUMENT, [text]), schema.KIND: schema.KIND_DOCUMENT,
                schema.TEXT: text}

    rows = [
        pair("Summarize the main causes of the French Revolution in three sentences.", "Debt, hunger and ideas."),
        pair("请用三句话说明法国大革命爆发的主要原因。", "财政危机、粮食短缺和启蒙思想。"),
        pair("Name three rivers that flow through Germany.", "The Rhine, the Elbe and the Danube."),
        pair("Give the unparseable answer to this riddle about a river.", "A river."),
        document(DOC_EN_GOOD),
        document(DOC_EN_POOR),
        document(DOC_ZH_GOOD),
        document("Too short."),
        {**pair("A row an earlier stage rejected.", "x"), schema.REJECT_STAGE: "clean"},
    ]
    return pa.Table.from_pylist(rows, schema=PARENT_COLUMNS)


def by_method(rows: list[dict], method: str) -> list[dict]:
    return [row for row in rows if row.get(schema.ORIGIN, row.get("method")) == method]


def test_round_trip_paraphrase_humpback_and_qa_on_english_and_chinese_parents(server, tmp_path):
    table = parent_table()
    ids = dict(zip(table.column(schema.INSTRUCTION).to_pylist(), table.column(schema.DOC_ID).to_pylist()))
    docs = dict(zip(table.column(schema.TEXT).to_pylist(), table.column(schema.DOC_ID).to_pylist()))
    config = AugmentConfig(
        progress=False,
        round_trip={},
        paraphrase={"paraphrases_per_instruction": 3},
        instruction_backtranslation={"min_words": 5, "min_chars": 10, "seed_tasks": SEEDS},
        qa_generation={"min_words": 5, "min_chars": 10, "question_type": "multiple_choice",
                       "questions_per_passage": 2},
    )
    outcome = run_augment(config, llm_for(server, tmp_path), tmp_path / "work", lambda: [table])
    rows, letters = generated(outcome), dead_letters(outcome)

    round_trip = {row[schema.PARENT_ID]: row for row in by_method(rows, "round_trip")}
    english = ids["Summarize the main causes of the French Revolution in three sentences."]
    chinese = ids["请用三句话说明法国大革命爆发的主要原因。"]
    assert set(round_trip) == {english, chinese}
    assert round_trip[english][schema.INSTRUCTION] == "Sum up in three sentences the main reasons for the French Revolution."
    assert round_trip[english][schema.OUTPUT] == "Debt, hunger and ideas."  # responses are kept as they were
    assert round_trip[chinese][schema.INSTRUCTION] == "用三句话解释法国大革命爆发的主要原因。"
    assert round_trip[english][schema.GEN_TEMPLATE] == "round_trip.translate.en"
    round_trip_letters = {(letter["parent_id"], letter["reason"]) for letter in by_method(letters, "round_trip")}
    assert (ids["Name three rivers that flow through Germany."], filters.MEANING_DRIFT) in round_trip_letters
    assert (ids["Give the unparseable answer to this riddle about a river."], filters.COPIED_SOURCE) in round_trip_letters

    paraphrases = by_method(rows, "paraphrase")
    assert {row[schema.PARENT_ID] for row in paraphrases} == {english, chinese,
                                                             ids["Name three rivers that flow through Germany."]}
    assert all(row[schema.INSTRUCTION].startswith(("Could you", "请你")) for row in paraphrases)
    reasons = [letter["reason"] for letter in by_method(letters, "paraphrase")]
    assert reasons.count(filters.UNCHANGED) == 3 and reasons.count(filters.MEANING_DRIFT) == 3
    assert reasons.count(filters.UNPARSEABLE) == 1

    curated = by_method(rows, "instruction_backtranslation")
    assert {row[schema.PARENT_ID] for row in curated} == {docs[DOC_EN_GOOD], docs[DOC_ZH_GOOD]}
    assert all(row[schema.GEN_JUDGE_SCORE] == 5.0 and row[schema.OUTPUT] in (DOC_EN_GOOD, DOC_ZH_GOOD)
               for row in curated)
    assert curated[0][schema.GEN_TEMPLATE].endswith("+judge.hhh.en") or curated[0][schema.GEN_TEMPLATE].endswith(
        "+judge.hhh.zh")
    low = [letter for letter in by_method(letters, "instruction_backtranslation")]
    assert [(letter["parent_id"], letter["reason"]) for letter in low] == [(docs[DOC_EN_POOR], filters.BELOW_THRESHOLD)]
    assert outcome.methods["instruction_backtranslation"].counters["skipped.too_short"] == 1

    questions = by_method(rows, "qa_generation")
    assert len(questions) == 3  # one valid question per passage, of the two asked for
    assert all(row[schema.OUTPUT][:3] in ("A. ", "B. ", "C. ", "D. ") and row[schema.INPUT] for row in questions)
    assert all(letter["reason"] == filters.INVALID_QUESTION for letter in by_method(letters, "qa_generation"))

    # Rejected rows of earlier stages are never parents.
    rejected = table.filter(pa.compute.is_valid(table.column(schema.REJECT_STAGE))).column(schema.DOC_ID)[0].as_py()
    assert all(row[schema.PARENT_ID] != rejected for row in rows)
    assert outcome.report()["rows_by_method"] == {
        "round_trip": 2, "paraphrase": 3, "instruction_backtranslation": 2, "qa_generation": 3,
    }


def test_malformed_replies_and_failed_calls_go_to_the_dead_letter_table(server, tmp_path):
    def faults(request):
        prompt = request.body["messages"][0]["content"]  # the repair request's last message is the repair
        if '"questions"' in prompt:
            return GARBLED_REPLY  # not JSON, even after the repair request
        if prompt.startswith(("Rewrite the instruction below", "用 3 种不同的说法改写")):
            return BAD_REQUEST
        return None

    server.settings.faults = faults
    table = parent_table()
    config = AugmentConfig(progress=False, paraphrase={},
                           qa_generation={"min_words": 5, "min_chars": 10, "question_type": "open"})
    outcome = run_augment(config, llm_for(server, tmp_path), tmp_path / "work", lambda: [table])
    letters = dead_letters(outcome)
    assert outcome.rows == 0
    qa_letters = by_method(letters, "qa_generation")
    assert len(qa_letters) == 3 and {letter["reason"] for letter in qa_letters} == {"llm_invalid_json"}
    assert all(letter["raw"] and letter["template"].startswith("qa_generation.open.") for letter in qa_letters)
    paraphrase_letters = by_method(letters, "paraphrase")
    assert len(paraphrase_letters) == 4 and {letter["reason"] for letter in paraphrase_letters} == {"llm_client_error"}


def test_parents_are_sampled_stably_and_the_target_caps_rows(server, tmp_path):
    table = parent_table()
    config = AugmentConfig(progress=False, paraphrase={"target_rows": 1, "parents_per_batch": 1})
    outcome = run_augment(config, llm_for(server, tmp_path), tmp_path / "work", lambda: [table])
    assert outcome.rows == 1 and outcome.methods["paraphrase"].stopped is None
    sent = server.count
    again = run_augment(config, llm_for(server, tmp_path), tmp_path / "work", lambda: [table])
    assert server.count == sent and again.rows == 1


# --- Kill and resume --------------------------------------------------------------------------------


def test_a_killed_run_resumes_without_repeating_finished_work(tmp_path):
    target, per_batch, in_flight = 60, 2, 2
    with OpenAITestServer(reply=augment_model.reply, latency=0.05, concurrency=2) as server:
        llm = llm_for(server, tmp_path, max_in_flight=in_flight)
        config = AugmentConfig(progress=False, work_dir=str(tmp_path / "work"),
                               self_instruct={"seed_tasks": SEEDS, "target_rows": target,
                                              "prompts_per_batch": per_batch, "languages": ["en"]})
        (tmp_path / "augment.json").write_text(config.model_dump_json(), encoding="utf-8")
        (tmp_path / "llm.json").write_text(llm.model_dump_json(), encoding="utf-8")
        env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
        process = subprocess.Popen(
            [sys.executable, "-m", "sftforge.jobs.augment.driver", "--config", str(tmp_path / "augment.json"),
             "--llm", str(tmp_path / "llm.json"), "--work-dir", str(tmp_path / "work"), "--no-progress"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        folder = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            folders = list((tmp_path / "work").glob("self_instruct-*"))
            if folders and len(list(folders[0].glob("done-*.json"))) >= 2:
                folder = folders[0]
                break
            time.sleep(0.02)
        assert folder is not None, f"no batch finished: {process.stderr.read().decode() if process.poll() is not None else ''}"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        finished = sorted(folder.glob("done-*.json"))
        finished_batches = [int(path.stem.split("-")[1]) for path in finished]
        finished_instructions = {
            text for batch in finished_batches
            for text in pq.read_table(folder / f"state-{batch:06d}.parquet").column("instruction").to_pylist()
        }
        rows_before = sum(json.loads(path.read_text())["rows"] for path in finished)
        assert rows_before < target, "the run finished before it could be killed"
        sent_before = server.count

        outcome = run_augment(config, llm, tmp_path / "elsewhere")  # config.work_dir wins
        after = server.log[sent_before:]

    rows = generated(outcome)
    assert outcome.rows == len(rows) == target
    assert len({row[schema.DOC_ID] for row in rows}) == target
    assert outcome.methods["self_instruct"].resumed_rows == rows_before
    # Nothing of a finished batch was asked again: no generation prompt of those batches (its seed is
    # the batch's sample index), no classification or instance prompt for their instructions.
    for entry in after:
        seed = entry.body.get("seed", 0)
        prompt = entry.last_user_message()
        if "Continue the list with" in prompt:
            assert seed // per_batch not in finished_batches
        else:
            assert not any(f"Task: {text}" in prompt for text in finished_instructions), prompt[-200:]
    # The unfinished batch's answered calls came from the cache: only calls in flight at the kill repeat.
    repeated = [entry for entry in after if entry.attempt > 0]
    assert len(repeated) <= in_flight


# --- Pipeline step ----------------------------------------------------------------------------------


class _JobConfig:
    def __init__(self, augment, llm, output_dir):
        self.augment = augment
        self.llm = llm
        self.output = type("Output", (), {"dir": str(output_dir)})()


def _keep_all_stage(name: str):
    from sftforge.operators.base import Stage

    class KeepAll(Stage):
        def process(self, table):
            return self.partition(table, [None] * table.num_rows)

    KeepAll.name = name
    return KeepAll(None)


@pytest.mark.ray
@pytest.mark.parametrize("with_parents", [True, False])
def test_pipeline_step_appends_generated_rows_and_earlier_stages_run_once(ray_session, server, tmp_path,
                                                                          with_parents):
    import ray.data
    from sftforge.jobs.augment.step import AugmentStep
    from sftforge.jobs.runner import apply_stage
    from sftforge.jobs.stats import start_stats_actor
    from sftforge.jobs.steps.base import RunContext

    handle, stats = start_stats_actor(f"augment-test-{with_parents}")
    full = pa.Table.from_pylist(parent_table().to_pylist(), schema=schema.BASE_SCHEMA)
    ds = apply_stage(ray.data.from_arrow(full), _keep_all_stage("before"), stats_actor=stats)
    methods = {"self_instruct": {"seed_tasks": SEEDS, "target_rows": 4, "prompts_per_batch": 2}}
    if with_parents:
        methods["paraphrase"] = {}
    config = AugmentConfig(progress=False, **methods)
    job = _JobConfig(config, llm_for(server, tmp_path), tmp_path / "out")
    ctx = RunContext(job, "test", stats, tmp_path / "staging")
    step = AugmentStep(job)
    result = apply_stage(step.run(ds, ctx), _keep_all_stage("after"), stats_actor=stats)
    table = pa.concat_tables(ray.get(result.to_arrow_refs()), promote_options="default")
    report = step.outcome().report  # counts what the executed Dataset generated
    counters = ray.get(handle.snapshot.remote())
    ray.kill(handle)
    generated_count = 4 + (3 if with_parents else 0)
    assert report["rows_generated"] == generated_count
    assert counters["augment"]["rows"] == generated_count
    live = full.num_rows - 1  # one row arrives already rejected
    assert counters["before"]["in"] == live  # the steps before augmentation ran once
    assert counters["after"]["in"] == live + generated_count
    assert table.num_rows == full.num_rows + generated_count
    origins = table.column(schema.ORIGIN).to_pylist()
    assert origins.count("self_instruct") == 4 and origins.count("paraphrase") == generated_count - 4
    assert schema.GEN_TEMPLATE in table.column_names
    assert list((tmp_path / "staging" / "dead_letter" / "augment" / "self_instruct").glob("dead-*.parquet"))


# --- Endpoint failures ------------------------------------------------------------------------------


def test_endpoint_failures_are_never_dead_letters_and_a_rerun_asks_again(server, tmp_path):
    from sftforge.operators.llm_client import EndpointOutage

    from tests.support.openai_server import SERVER_ERROR, always

    table = parent_table()
    config = AugmentConfig(progress=False, paraphrase={})
    server.settings.faults = always(SERVER_ERROR)
    with pytest.raises(EndpointOutage) as raised:
        run_augment(config, llm_for(server, tmp_path, retry=QUICK_RETRY.model_copy(update={"max_attempts": 1})),
                    tmp_path / "work", lambda: [table])
    assert raised.value.stage == "augment.paraphrase" and raised.value.reason == "server_error"
    kept = run_augment(config, llm_for(server, tmp_path, on_failure="keep"), tmp_path / "work", lambda: [table])
    assert kept.rows == 0 and not dead_letters(kept)  # an outage says nothing about the rows
    assert kept.methods["paraphrase"].counters["calls_failed_endpoint"] == 4
    server.settings.faults = None
    again = run_augment(config, llm_for(server, tmp_path), tmp_path / "work", lambda: [table])
    assert again.rows == 3 and again.methods["paraphrase"].resumed_rows == 0  # nothing was checkpointed


def test_the_fingerprint_covers_the_model(server, tmp_path):
    from sftforge.jobs.augment.checkpoints import fingerprint

    one = fingerprint("paraphrase", {}, llm_for(server, tmp_path))
    assert fingerprint("paraphrase", {}, llm_for(server, tmp_path, model="other-model")) != one
    model = tmp_path / "model.gguf"
    model.write_bytes(b"weights v1")
    local = llm_for(server, tmp_path, backend="local", local={"model_path": str(model)})
    before = fingerprint("paraphrase", {}, local)
    model.write_bytes(b"weights v2!")
    assert fingerprint("paraphrase", {}, local) != before
