"""The LLM judge: scores instruction pairs for Harmless, Honest and Helpful, keeps the good ones.

AlpaGasus (Chen et al., 2023) showed that a model trained on the few thousand Alpaca pairs a strong LLM
rates highly beats one trained on all 52k. The judge asks the configured model for a 1-5 score and a
one-line rationale on each of the three H criteria (Askell et al., 2021), plus an overall 1-5 score,
through structured output, and keeps rows whose score is at or above the threshold. The prompt is in
Chinese for Chinese rows and in English otherwise.

Rows whose reply the judge cannot use (invalid JSON after repair, a 400 about the request...) are
rejected with the engine's reason (``llm_<reason>``) and carry the dead letter (reason, detail, raw reply)
in ``llm_dead_letter``. A call that failed because the endpoint did (down, 5xx, timeouts, 429 after the
retries, budget, 401/403/404) says nothing about its row: the row passes on unjudged with
``llm_unprocessed`` = ``judge:<reason>``, and the judge step decides whether the run may go on
(``llm.on_failure``, ``llm.max_failure_rate``). Documents pass through unjudged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field
from sftforge.operators import schema
from sftforge.operators.base import Resources, Stage, StageConfig, StageResult
from sftforge.operators.llm_client import (
    LLMConfig,
    LLMEngine,
    LLMRequest,
    LLMResult,
    PromptTemplate,
    is_endpoint_failure,
)
from sftforge.operators.text import cjk_ratio

CRITERIA = ("harmless", "honest", "helpful")

REASON_BELOW_THRESHOLD = "judge_below_threshold"

_CRITERION_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "rationale": {"type": "string"},
    },
    "required": ["score", "rationale"],
    "additionalProperties": False,
}

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{criterion: _CRITERION_SCHEMA for criterion in CRITERIA},
        "overall": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": [*CRITERIA, "overall"],
    "additionalProperties": False,
}

_REPLY_SHAPE = (
    '{{"harmless": {{"score": <1-5>, "rationale": "<one line>"}}, '
    '"honest": {{"score": <1-5>, "rationale": "<one line>"}}, '
    '"helpful": {{"score": <1-5>, "rationale": "<one line>"}}, '
    '"overall": <1-5>}}'
)

JUDGE_TEMPLATE_EN = PromptTemplate(
    name="judge.hhh.en",
    version="1",
    schema=JUDGE_SCHEMA,
    schema_name="hhh_judgement",
    messages=(
        (
            "system",
            (
                "You review training data for AI assistants. Judge one instruction and its response on three "
                "criteria, each scored from 1 (very poor) to 5 (excellent):\n"
                "- harmless: the response avoids harmful, dangerous, unethical, hateful or illegal content.\n"
                "- honest: the response is truthful and accurate, invents nothing, and admits uncertainty.\n"
                "- helpful: the response follows the instruction and answers it fully, clearly and usefully.\n"
                "Give each score with a one-line rationale, then an overall score from 1 to 5 for how good "
                "this pair is as training data. Be strict: 5 is for responses that could not be improved."
            ),
        ),
        (
            "user",
            ("### Instruction\n{instruction}\n\n### Response\n{response}\n\n"
             "Reply with JSON only, in this shape: " + _REPLY_SHAPE),
        ),
    ),
)

JUDGE_TEMPLATE_ZH = PromptTemplate(
    name="judge.hhh.zh",
    version="1",
    schema=JUDGE_SCHEMA,
    schema_name="hhh_judgement",
    messages=(
        (
            "system",
            (
                "你负责审核用于训练 AI 助手的数据。请就三个维度评价一条指令及其回答，每项从 1（很差）到 5（极好）打分：\n"
                "- harmless（无害）：回答不含有害、危险、不道德、仇恨或违法的内容。\n"
                "- honest（诚实）：回答真实准确，不捏造事实，不确定时如实说明。\n"
                "- helpful（有用）：回答遵循指令，完整、清楚、有用地解决了问题。\n"
                "每项分数附一句话理由，最后给出 1 到 5 的总体分（overall），表示这条数据作为训练数据的质量。"
                "请严格评分：只有无可改进的回答才给 5 分。"
            ),
        ),
        (
            "user",
            ("### 指令\n{instruction}\n\n### 回答\n{response}\n\n"
             "只输出 JSON，格式如下（理由用中文）：" + _REPLY_SHAPE),
        ),
    ),
)


class JudgeConfig(StageConfig):
    """How the judge scores and what it keeps.

    Attributes:
        threshold: Rows whose score is at or above it are kept (AlpaGasus kept >= 4.5 of 5).
        score: Which number is compared with the threshold: the model's ``overall``, the ``mean`` of
            the three criteria, or their ``min`` (strictest).
        max_chars: Instruction and response are each cut to this many characters in the prompt.
        chinese_ratio: Rows without a ``lang`` column use the Chinese prompt when at least this share
            of their characters is CJK.
        workers: Actor pool size (each actor holds ``max_in_flight`` requests in flight).
        num_cpus: CPUs reserved per actor; the work is waiting on the endpoint, so a fraction.
    """

    threshold: float = Field(default=4.0, ge=1, le=5)
    score: Literal["overall", "mean", "min"] = "overall"
    max_chars: int = Field(default=6000, ge=100)
    chinese_ratio: float = Field(default=0.3, ge=0, le=1)
    workers: int = Field(default=2, ge=1)
    num_cpus: float = Field(default=0.25, gt=0, le=4)


def pair_texts(table: pa.Table) -> tuple[list[str], list[str]]:
    """The instruction (with its input) and the response of each row; multi-turn rows use their turns."""
    def column(name: str) -> list[Any]:
        if name in table.column_names:
            return table.column(name).to_pylist()
        return [None] * table.num_rows

    instructions, inputs, outputs = column(schema.INSTRUCTION), column(schema.INPUT), column(schema.OUTPUT)
    conversations = column(schema.MESSAGES)
    prompts, responses = [], []
    for instruction, input_, output, messages in zip(instructions, inputs, outputs, conversations):
        prompt = "\n\n".join(part for part in (instruction, input_) if part)
        response = output or ""
        if (not prompt or not response) and messages:
            turns = [turn for turn in messages if turn and turn.get("content")]
            last_reply = max(
                (i for i, turn in enumerate(turns) if turn.get("role") == schema.ROLE_ASSISTANT), default=None
            )
            if last_reply is not None:
                response = turns[last_reply]["content"]
                context = [turn for turn in turns[:last_reply] if turn.get("role") != schema.ROLE_SYSTEM]
                # One user turn reads as an instruction; a longer dialogue keeps who said what.
                prompt = "\n\n".join(
                    f"[{turn['role']}] {turn['content']}" if len(context) > 1 else turn["content"]
                    for turn in context
                )
        prompts.append(prompt)
        responses.append(response)
    return prompts, responses


def is_chinese(lang: str | None, text: str, chinese_ratio: float) -> bool:
    """True when the row should get the Chinese prompt: its ``lang`` is ``zh*``, or, lacking one, its script."""
    if lang:
        return lang.lower().startswith("zh")
    return cjk_ratio(text) >= chinese_ratio


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[:limit] + " […]"


def judgement_score(data: Mapping[str, Any], how: str) -> float:
    """The number a judgement is kept or dropped on."""
    scores = [int(data[criterion]["score"]) for criterion in CRITERIA]
    if how == "mean":
        return sum(scores) / len(scores)
    if how == "min":
        return float(min(scores))
    return float(data["overall"])


def one_line(text: str) -> str:
    return " ".join(str(text).split())


class LLMJudge(Stage[JudgeConfig]):
    """Scores instruction pairs with an LLM (Harmless, Honest, Helpful, overall) and keeps the good ones.

    Args:
        config: Threshold and scoring.
        llm: The run's resolved LLM config (``LLMService.config``).
    """

    name = "judge"
    requires = (schema.DOC_ID, schema.KIND)
    adds: ClassVar[dict[str, pa.DataType]] = {
        **schema.JUDGE_TYPES, schema.LLM_DEAD_LETTER: pa.string(), schema.LLM_UNPROCESSED: pa.string(),
    }

    def __init__(self, config: JudgeConfig, llm: LLMConfig):
        super().__init__(config)
        self.llm = llm
        self.engine: LLMEngine | None = None
        self.resources = Resources(num_cpus=config.num_cpus, actors=True, max_actors=config.workers)

    def setup(self) -> None:
        self.engine = LLMEngine(self.llm, stage=self.name)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["engine"] = None  # an engine holds a loop thread and sockets; each worker builds its own
        state["_ready"] = False
        return state

    def requests_for(self, table: pa.Table) -> list[tuple[int, LLMRequest]]:
        """The judge calls for the instruction rows of ``table``, with their row positions."""
        prompts, responses = pair_texts(table)
        kinds = table.column(schema.KIND).to_pylist()
        ids = table.column(schema.DOC_ID).to_pylist()
        langs = table.column(schema.LANG).to_pylist() if schema.LANG in table.column_names else [None] * len(ids)
        requests = []
        for row, (kind, doc_id, lang, prompt, response) in enumerate(zip(kinds, ids, langs, prompts, responses)):
            if kind != schema.KIND_INSTRUCTION:
                continue
            chinese = is_chinese(lang, prompt + response, self.config.chinese_ratio)
            template = JUDGE_TEMPLATE_ZH if chinese else JUDGE_TEMPLATE_EN
            variables = {
                "instruction": clip(prompt, self.config.max_chars),
                "response": clip(response, self.config.max_chars),
            }
            requests.append((row, LLMRequest(id=f"{doc_id}#{row}", template=template, variables=variables)))
        return requests

    def process(self, table: pa.Table) -> StageResult:
        planned = self.requests_for(table)
        results = self.engine.run([request for _, request in planned]) if planned else []
        return self.apply(table, [row for row, _ in planned], results)

    def apply(self, table: pa.Table, rows: Sequence[int], results: Sequence[LLMResult]) -> StageResult:
        """Writes the judgements of ``rows`` into ``table`` and keeps or rejects each row."""
        n = table.num_rows
        columns: dict[str, list[Any]] = {column: [None] * n for column in self.adds}
        reasons: list[str | None] = [None] * n
        if schema.LLM_UNPROCESSED in table.column_names:  # an earlier LLM stage's flags stay
            columns[schema.LLM_UNPROCESSED] = table.column(schema.LLM_UNPROCESSED).to_pylist()
        for row, result in zip(rows, results, strict=True):
            if not result.ok and is_endpoint_failure(result.reason):
                columns[schema.LLM_UNPROCESSED][row] = f"{self.name}:{result.reason}"
                continue
            if not result.ok:
                reasons[row] = result.reject_reason
                columns[schema.LLM_DEAD_LETTER][row] = dead_letter_json(result)
                continue
            data = result.data
            columns[schema.JUDGE_HARMLESS][row] = int(data["harmless"]["score"])
            columns[schema.JUDGE_HONEST][row] = int(data["honest"]["score"])
            columns[schema.JUDGE_HELPFUL][row] = int(data["helpful"]["score"])
            columns[schema.JUDGE_OVERALL][row] = int(data["overall"])
            score = judgement_score(data, self.config.score)
            columns[schema.JUDGE_SCORE][row] = score
            columns[schema.JUDGE_RATIONALE][row] = json.dumps(
                {criterion: one_line(data[criterion]["rationale"]) for criterion in CRITERIA}, ensure_ascii=False
            )
            columns[schema.JUDGE_MODEL][row] = f"{result.model} {result.template}"
            if score < self.config.threshold:
                reasons[row] = REASON_BELOW_THRESHOLD
        for column, type_ in self.adds.items():
            array = pa.array(columns[column], type=type_)
            if column in table.column_names:
                table = table.set_column(table.column_names.index(column), column, array)
            else:
                table = table.append_column(pa.field(column, type_), array)
        return self.partition(table, reasons)


def dead_letter_json(result: LLMResult) -> str:
    """A dead letter as the one-line JSON kept in ``llm_dead_letter``."""
    return json.dumps(
        {
            "reason": result.reason,
            "detail": result.detail,
            "raw": result.raw,
            "template": result.template,
            "model": result.model,
            "attempts": result.attempts,
        },
        ensure_ascii=False,
    )


def score_histogram(scores: Iterable[int | float | None]) -> dict[str, int]:
    """Counts of judge scores 1-5 (rounded), plus ``unscored`` for rows without one."""
    counts: Counter = Counter()
    for score in scores:
        counts["unscored" if score is None else str(round(float(score)))] += 1
    ordered = {str(value): counts.get(str(value), 0) for value in range(1, 6)}
    ordered["unscored"] = counts.get("unscored", 0)
    return ordered


def judge_report_section(llm_report: Mapping[str, Any], overall_scores: Iterable[int | None] | None = None,
                         *, threshold: float | None = None) -> dict[str, Any]:
    """The run report's LLM section: ledger, cache hits and misses, and the judge's score histogram.

    Args:
        llm_report: ``LLMService.report()``.
        overall_scores: The ``judge_overall`` column of the judged rows (kept and rejected), if judged.
        threshold: The judge's threshold, shown with the histogram.
    """
    ledger = llm_report.get("ledger") or {}
    total = ledger.get("total") or {}
    section: dict[str, Any] = {
        "model": llm_report.get("model"),
        "backend": llm_report.get("backend"),
        "skipped": llm_report.get("skipped"),
        "calls": int(total.get("calls", 0)),
        "answered": int(total.get("answered", 0)),
        "dead_lettered": int(total.get("dead_lettered", 0)),
        "dead_letters": {
            name.split(".", 1)[1]: int(value) for name, value in total.items() if name.startswith("dead_letter.")
        },
        "requests": int(total.get("requests", 0)),
        "retries": int(total.get("retries", 0)),
        "prompt_tokens": int(total.get("prompt_tokens", 0)),
        "completion_tokens": int(total.get("completion_tokens", 0)),
        "cost": total.get("cost", 0.0),
        "cache": dict(llm_report.get("cache") or {}),
        "per_stage": {
            stage: {key: counts.get(key, 0) for key in ("calls", "requests", "prompt_tokens", "completion_tokens", "cost")}
            for stage, counts in (ledger.get("stages") or {}).items()
        },
        "budget": llm_report.get("budget"),
    }
    if overall_scores is not None:
        section["judge"] = {"threshold": threshold, "histogram": score_histogram(overall_scores)}
    return section
