"""Per-row methods over documents: instruction back-translation (Humpback) and QA from passages."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from sftforge.jobs.augment.checkpoints import BatchOutput, file_digest
from sftforge.jobs.augment.row_methods import Parent, RowMethod, parent_hash
from sftforge.operators import schema
from sftforge.operators.augment import filters, instruction_backtranslation, qa_generation
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.prompts import resolve
from sftforge.operators.augment.provenance import DeadLetter, GeneratedRow
from sftforge.operators.llm_client import LLMConfig, PromptTemplate


class InstructionBacktranslationMethod(RowMethod):
    """Humpback: self-augment (instruction for a document) and self-curate (the judge)."""

    method = instruction_backtranslation.METHOD
    kind = schema.KIND_DOCUMENT

    def __init__(
        self, config: instruction_backtranslation.InstructionBacktranslationConfig, llm: LLMConfig, work_dir: str | Path,
        seed_tasks: str | None,
    ):
        from sftforge.operators.judge.judge import JudgeConfig, LLMJudge

        seeds = si.load_seed_tasks(seed_tasks) if seed_tasks else []
        super().__init__(config, llm, work_dir, extra=file_digest(seed_tasks) if seed_tasks else "")
        self.examples: dict[str, list[tuple[str, str]]] = {"en": [], "zh": []}
        for seed in seeds:
            for instance in seed.instances:
                prompt = "\n".join(part for part in (seed.instruction, instance.input) if part)
                self.examples[seed.language].append((prompt, instance.output))
        self.templates = {lang: resolve(t, config.templates) for lang, t in instruction_backtranslation.SELF_AUGMENT.items()}
        self.judge = LLMJudge(JudgeConfig(threshold=config.threshold, score=config.score), llm=llm)

    def skip_reason(self, row):
        return instruction_backtranslation.document_reason(row[schema.TEXT] or "", self.config)

    def _examples(self, p: Parent) -> str:
        pool = self.examples.get(p.language) or []
        if not pool or not self.config.few_shot:
            return ""
        start = parent_hash("examples", p.doc_id) % len(pool)
        chosen = [pool[(start + i) % len(pool)] for i in range(min(self.config.few_shot, len(pool)))]
        return instruction_backtranslation.render_examples(chosen, p.language, self.config.example_chars)

    def process(self, parents, batch, engine):
        config, method = self.config, self.method
        output = BatchOutput()
        requests = [
            instruction_backtranslation.self_augment_request(
                f"{p.doc_id}:self_augment", p.text, p.language, self._examples(p), self.templates
            )
            for p in parents
        ]
        candidates: list[tuple[Parent, GeneratedRow]] = []
        for p, result in zip(parents, engine.run(requests), strict=True):
            if not result.ok:
                output.call_failed(method, p.doc_id, "self_augment", result)
                continue
            instruction = instruction_backtranslation.parse_instruction(result.text)
            reason, detail = instruction_backtranslation.instruction_reason(instruction, p.text, p.language, config)
            if reason is not None:
                output.drop(DeadLetter(method, p.doc_id, "self_augment", reason, detail, candidate=instruction,
                                       raw=result.text, template=result.template, model=result.model))
                continue
            candidates.append(
                (p, GeneratedRow(method, p.doc_id, instruction, "", p.text.strip(), result.model,
                                 (self.templates[p.language],)))
            )
        output.counters["candidates"] += len(candidates)
        if not candidates:
            return output
        table = pa.table(
            {
                schema.DOC_ID: [row.doc_id for _, row in candidates],
                schema.KIND: [schema.KIND_INSTRUCTION] * len(candidates),
                schema.INSTRUCTION: [row.instruction for _, row in candidates],
                schema.INPUT: [""] * len(candidates),
                schema.OUTPUT: [row.output for _, row in candidates],
            }
        )
        planned = self.judge.requests_for(table)
        results = engine.run([request for _, request in planned])
        judged = self.judge.apply(table, [row for row, _ in planned], results)
        scores = dict(zip(judged.kept.column(schema.DOC_ID).to_pylist(),
                          judged.kept.column(schema.JUDGE_SCORE).to_pylist()))
        for (p, row), result in zip(candidates, results, strict=True):
            if row.doc_id in scores:
                curated = GeneratedRow(method, p.doc_id, row.instruction, "", row.output, row.model,
                                       (*row.templates, *_judge_templates(p.language)), judge_score=scores[row.doc_id])
                output.rows.append(curated)
            elif not result.ok:
                output.call_failed(method, p.doc_id, "self_curate", result)
            else:
                from sftforge.operators.judge.judge import judgement_score

                score = judgement_score(result.data, config.score)
                output.drop(DeadLetter(method, p.doc_id, "self_curate", filters.BELOW_THRESHOLD,
                                       f"judge score {score:g} < {config.threshold:g}", candidate=row.instruction,
                                       raw=result.text, template=result.template, model=result.model))
        return output


def _judge_templates(language: str) -> tuple[PromptTemplate, ...]:
    from sftforge.operators.judge.judge import JUDGE_TEMPLATE_EN, JUDGE_TEMPLATE_ZH

    return (JUDGE_TEMPLATE_ZH if language == "zh" else JUDGE_TEMPLATE_EN,)


class QAGenerationMethod(RowMethod):
    """Questions and answers from document passages."""

    method = qa_generation.METHOD
    kind = schema.KIND_DOCUMENT

    def __init__(self, config: qa_generation.QAGenerationConfig, llm: LLMConfig, work_dir: str | Path):
        super().__init__(config, llm, work_dir)
        family = qa_generation.MULTIPLE_CHOICE if config.question_type == "multiple_choice" else qa_generation.OPEN
        self.templates = {lang: resolve(t, config.templates) for lang, t in family.items()}

    def skip_reason(self, row):
        return qa_generation.passage_reason(row[schema.TEXT] or "", self.config)

    def process(self, parents, batch, engine):
        config, method = self.config, self.method
        output = BatchOutput()
        requests = [
            qa_generation.qa_request(f"{p.doc_id}:qa", p.text, p.language, config, self.templates) for p in parents
        ]
        for p, result in zip(parents, engine.run(requests), strict=True):
            if not result.ok:
                output.call_failed(method, p.doc_id, "generate", result)
                continue
            kept, dropped = qa_generation.validate_questions(result.data, p.text, p.language, config)
            output.counters["candidates"] += len(kept) + len(dropped)
            for shown, reason, detail in dropped:
                output.drop(DeadLetter(method, p.doc_id, "validate", reason, detail, candidate=shown,
                                       template=result.template, model=result.model))
            for question in kept:
                instruction, input_, answer = qa_generation.row_fields(question, p.text)
                output.rows.append(GeneratedRow(method, p.doc_id, instruction, input_, answer, result.model,
                                                (self.templates[p.language],)))
        return output
