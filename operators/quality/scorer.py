"""The quality stage: rules for documents and SFT pairs, an optional classifier, one combined score.

Every rule writes its own signal column (see ``schema.QUALITY_TYPES``), so a rejection can be checked
against its numbers. A row that fails rules is rejected with all of them listed, for example
``refusal("As an AI language model"); response_too_short(3<10 chars)``. ``quality_score`` in [0, 1]
multiplies one soft score per rule (1 when the signal is comfortably inside its threshold, falling to 0
at the threshold), blended with the classifier's P(good) when a model is configured; diversity
selection ranks rows by it.

Which rules apply:

- Documents get the Gopher / C4 / FineWeb rules. CJK text (by the ``lang`` column when a language stage
  ran, else by script) is counted in characters and has its own length bounds; the mean-word-length
  and stop-word rules only apply to the languages they were made for (English by default).
- Instruction pairs get the SFT rules on their instruction, input and response, and the repetition
  rules (duplicate lines, paragraphs and duplicated n-grams) on responses long enough to measure and
  without code.
  Conversations (``messages``) are judged on their user turns and last assistant turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.base import Resources, Stage, StageResult
from sftforge.operators.quality import rules
from sftforge.operators.quality.classifier import QualityModel, classifier_text
from sftforge.operators.quality.config import (
    _CJK_LANGUAGES,
    DOCUMENT_RULES,
    PAIR_RULES,
    REPETITION_RULES,
    RULES,
    SCORE_RULES,
    ClassifierConfig,
    DocumentRules,
    PairRules,
    QualityConfig,
)
from sftforge.operators.quality.diversity import instruction_roots
from sftforge.operators.quality.verdicts import Verdicts, _bound_fraction, _nullable, _per_script

__all__ = [
    "DOCUMENT_RULES", "PAIR_RULES", "REPETITION_RULES", "RULES", "SCORE_RULES", "ClassifierConfig", "DocumentRules",
    "PairRules", "QualityConfig", "QualityScorer",
]


@dataclass
class _Rows:
    """The text of a batch, split the way the rules read it."""

    is_pair: np.ndarray
    is_document: np.ndarray
    text: pa.Array
    instruction: pa.Array
    input: pa.Array
    output: pa.Array
    cjk: np.ndarray
    language: list[str | None]

    @property
    def judged(self) -> pa.Array:
        """What the document rules read: a document's text, a pair's response."""
        return pc.if_else(pa.array(self.is_pair), self.output, self.text)


class QualityScorer(Stage[QualityConfig]):
    """Scores every row with the quality rules (and a classifier), rejecting rows that fail any rule."""

    name = "quality"
    requires = (schema.DOC_ID, schema.KIND)

    def __init__(self, config: QualityConfig):
        super().__init__(config)
        adds = {column: type_ for column, type_ in schema.QUALITY_TYPES.items()}
        if config.classifier is None:
            adds.pop(schema.QUALITY_CLASSIFIER_SCORE)
        if not config.instruction_roots:
            adds.pop(schema.INSTRUCTION_ROOT)
        adds[schema.QUALITY_SCORE] = pa.float64()
        self.adds = adds
        if config.classifier is not None:
            self.resources = Resources(
                num_cpus=config.classifier.num_cpus, actors=True, max_actors=config.classifier.max_actors
            )
        self._model: QualityModel | None = None

    def setup(self) -> None:
        if self.config.classifier is not None:
            self._model = QualityModel.load(self.config.classifier.path)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None  # fastText models do not pickle; each worker loads its own in setup()
        state["_ready"] = False
        return state

    def process(self, table: pa.Table) -> StageResult:
        rows = self._rows(table)
        verdicts = Verdicts(table.num_rows)
        columns: dict[str, np.ndarray | list] = {}
        self._score_text(rows, verdicts, columns)
        if rows.is_pair.any() and self.config.pairs is not None:
            self._score_pairs(rows, verdicts, columns)
        rule_score = verdicts.score.copy()
        if self._model is not None:
            classifier = self.config.classifier
            lines = [
                classifier_text(instruction, input_, output, text) if pair else classifier_text(text=text)
                for pair, instruction, input_, output, text in zip(
                    rows.is_pair, rows.instruction.to_pylist(), rows.input.to_pylist(),
                    rows.output.to_pylist(), rows.text.to_pylist(),
                )
            ]
            good = self._model.probability_good(lines)
            columns[schema.QUALITY_CLASSIFIER_SCORE] = good
            if classifier.threshold is not None:
                verdicts.bound("classifier", good, np.ones(len(good), bool), classifier.threshold,
                               min(1.0, classifier.threshold + 0.25), maximum=False)
            rule_score = (1 - classifier.weight) * verdicts.score + classifier.weight * good
            rule_score[verdicts.score == 0] = 0.0
        if self.config.min_score is not None:
            verdicts.bound("quality_score", rule_score, np.ones(len(rule_score), bool), self.config.min_score,
                           self.config.min_score, maximum=False)
        columns[schema.QUALITY_SCORE] = np.round(rule_score, 6)
        if schema.INSTRUCTION_ROOT in self.adds:
            roots: list[str | None] = [None] * table.num_rows
            pair_rows = np.nonzero(rows.is_pair)[0]
            if len(pair_rows):
                instructions = rows.instruction.take(pa.array(pair_rows))
                chinese = rules.cjk_fractions(instructions) >= 0.3
                for row, root in zip(pair_rows, instruction_roots(instructions.to_pylist(), chinese)):
                    roots[row] = root
            columns[schema.INSTRUCTION_ROOT] = roots
        table = self._with_columns(table, columns)
        reasons = verdicts.reasons() if self.config.reject else [None] * table.num_rows
        return self.partition(table, reasons)

    def _rows(self, table: pa.Table) -> _Rows:
        n = table.num_rows
        kind = rules.as_strings(table.column(schema.KIND))
        is_pair = rules._numpy(pc.equal(kind, schema.KIND_INSTRUCTION)).astype(bool)

        def column(name: str) -> pa.Array:
            if name not in table.column_names:
                return pa.array([""] * n, pa.string())
            return rules.as_strings(table.column(name))

        instruction, input_, output = column(schema.INSTRUCTION), column(schema.INPUT), column(schema.OUTPUT)
        if schema.MESSAGES in table.column_names:
            instruction, output = _conversation_turns(table, is_pair, instruction, output)
        text = column(schema.TEXT)
        judged = pc.if_else(pa.array(is_pair), output, text)
        language: list[str | None] = [None] * n
        if schema.LANG in table.column_names:
            language = [
                None if value is None else str(value).lower().replace("_", "-").split("-")[0]
                for value in table.column(schema.LANG).to_pylist()
            ]
        script_cjk = rules.cjk_fractions(judged) >= self.config.cjk_ratio
        cjk = np.array([
            (lang in _CJK_LANGUAGES) if lang and not pair else bool(script)
            for lang, script, pair in zip(language, script_cjk, is_pair)
        ], bool) if n else np.zeros(0, bool)
        return _Rows(is_pair, ~is_pair, text, instruction, input_, output, cjk, language)

    def _score_text(self, rows: _Rows, verdicts: Verdicts, columns: dict) -> None:
        """Document rules on documents; repetition rules on long pair responses."""
        judged = rows.judged
        tokens = rules.tokenize(judged)
        words = rules.word_signals(judged, tokens)
        lines = rules.line_signals(judged)
        doc = self.config.documents
        pairs = self.config.pairs
        documents = rows.is_document if doc is not None else np.zeros(len(rows.cjk), bool)
        long_responses = np.zeros(len(rows.cjk), bool)
        if pairs is not None and pairs.repetition and doc is not None:
            has_code = rules._match(judged, r"```|^\s*(?:def |class |import |#include|function |public |for \(|if \()")
            long_responses = rows.is_pair & (words["words"] >= pairs.repetition_min_words) & ~has_code
            long_responses &= ~rules.repetition_requested(rows.instruction)
        repetition_rows = documents | long_responses
        cjk_scale = np.where(rows.is_pair, pairs.repetition_cjk_ngram_scale if pairs is not None else 3,
                             doc.cjk_ngram_scale if doc is not None else 2)
        grams = rules.ngram_signals(tokens, repetition_rows, cjk_rows=rows.cjk, cjk_scale=cjk_scale)
        columns["_runs"] = rules.repeated_runs(tokens)
        columns[schema.QUALITY_WORD_COUNT] = words["words"]
        columns[schema.QUALITY_MEAN_WORD_LENGTH] = np.where(rows.cjk, np.nan, words["mean_word_length"])
        columns[schema.QUALITY_SYMBOL_WORD_RATIO] = words["symbol_word_ratio"]
        columns[schema.QUALITY_BULLET_LINES] = lines["bullet_lines"]
        columns[schema.QUALITY_ELLIPSIS_LINES] = lines["ellipsis_lines"]
        columns[schema.QUALITY_ALPHA_WORDS] = words["alpha_words"]
        columns[schema.QUALITY_TERMINAL_PUNCTUATION] = lines["terminal_punctuation"]
        columns[schema.QUALITY_DUP_LINES] = lines["dup_lines"]
        columns[schema.QUALITY_DUP_LINE_CHARS] = lines["dup_line_chars"]
        columns[schema.QUALITY_DUP_PARAGRAPHS] = lines["dup_paragraphs"]
        columns[schema.QUALITY_DUP_PARAGRAPH_CHARS] = lines["dup_paragraph_chars"]
        for n, column in schema.QUALITY_TOP_NGRAM_CHARS.items():
            columns[column] = grams["top"][n]
        for n, column in schema.QUALITY_DUP_NGRAM_CHARS.items():
            columns[column] = grams["dup"][n]
        word_rule_rows = np.array(
            [not cjk and (lang or "en") in (doc.word_rule_languages if doc else ()) for cjk, lang in zip(rows.cjk, rows.language)],
            bool,
        ) if len(rows.cjk) else np.zeros(0, bool)
        stop_words = np.where(word_rule_rows | rows.is_pair & ~rows.cjk, words["stop_words"], -1)
        columns[schema.QUALITY_STOP_WORDS] = stop_words
        columns["_units"] = words["words"]
        if doc is None:
            return
        count = words["words"].astype(float)
        min_words = _per_script(rows.cjk, doc.min_cjk_chars, doc.min_words)
        max_words = _per_script(rows.cjk, doc.max_cjk_chars, doc.max_words)
        unit = np.where(rows.cjk, "chars", "words")
        if min_words is not None:
            applies = documents & ~np.isnan(min_words)
            verdicts.bound("word_count", count, applies, np.nan_to_num(min_words), np.nan_to_num(min_words) * 1.5,
                           maximum=False, unit=unit, integer=True)
        if max_words is not None:
            applies = documents & ~np.isnan(max_words)
            verdicts.bound("word_count", count, applies, np.nan_to_num(max_words, nan=np.inf),
                           np.nan_to_num(max_words, nan=np.inf) * 0.8, maximum=True, unit=unit, integer=True)
        word_docs = documents & word_rule_rows
        mean = words["mean_word_length"]
        verdicts.bound("mean_word_length", mean, word_docs, doc.min_mean_word_length,
                       None if doc.min_mean_word_length is None else doc.min_mean_word_length + 0.5, maximum=False)
        verdicts.bound("mean_word_length", mean, word_docs, doc.max_mean_word_length,
                       None if doc.max_mean_word_length is None else doc.max_mean_word_length - 2, maximum=True)
        verdicts.bound("stop_words", words["stop_words"].astype(float), word_docs, doc.min_stop_words,
                       None if doc.min_stop_words is None else doc.min_stop_words + 1, maximum=False, integer=True)
        _bound_fraction(verdicts, "symbol_word_ratio", words["symbol_word_ratio"], documents, doc.max_symbol_word_ratio)
        _bound_fraction(verdicts, "bullet_lines", lines["bullet_lines"], documents, doc.max_bullet_lines)
        _bound_fraction(verdicts, "ellipsis_lines", lines["ellipsis_lines"], documents, doc.max_ellipsis_lines)
        if doc.min_alpha_words is not None:
            verdicts.bound("alpha_words", words["alpha_words"], documents, doc.min_alpha_words,
                           (doc.min_alpha_words + 1) / 2, maximum=False)
        if doc.min_terminal_punctuation is not None:
            verdicts.bound("terminal_punctuation", lines["terminal_punctuation"], documents,
                           doc.min_terminal_punctuation, max(0.5, doc.min_terminal_punctuation), maximum=False)
        for rule, key, threshold in (
            ("dup_lines", "dup_lines", doc.max_dup_lines),
            ("dup_line_chars", "dup_line_chars", doc.max_dup_line_chars),
            ("dup_paragraphs", "dup_paragraphs", doc.max_dup_paragraphs),
            ("dup_paragraph_chars", "dup_paragraph_chars", doc.max_dup_paragraph_chars),
        ):
            _bound_fraction(verdicts, rule, lines[key], repetition_rows, threshold)
        for n, threshold in doc.max_top_ngram_chars.items():
            # Responses repeat phrases by design (menus, surveys, "Side dish: ... Side dish: ..."); only
            # documents are held to the top n-gram rule.
            _bound_fraction(verdicts, f"top_{n}gram_chars", grams["top"][n], documents, threshold)
        for n, threshold in doc.max_dup_ngram_chars.items():
            _bound_fraction(verdicts, f"dup_{n}gram_chars", grams["dup"][n], repetition_rows, threshold)

    def _score_pairs(self, rows: _Rows, verdicts: Verdicts, columns: dict) -> None:
        config = self.config.pairs
        n = len(rows.cjk)
        pair_rows = np.nonzero(rows.is_pair)[0]
        take = pa.array(pair_rows)
        instruction, input_, output = rows.instruction.take(take), rows.input.take(take), rows.output.take(take)
        cjk = rows.cjk[pair_rows]
        prompt = pc.binary_join_element_wise(instruction, input_, "\n")
        prompt_units = rules.count_units(prompt)
        instruction_units = rules.count_units(instruction)
        response_units = columns.pop("_units")[pair_rows]
        runs, run_evidence = columns.pop("_runs")
        closed = rules.closed_tasks(instruction)

        def spread(values, fill=np.nan, dtype=float):
            full = np.full(n, fill, dtype=dtype)
            full[pair_rows] = values
            return full

        def spread_list(values):
            full: list = [None] * n
            for row, value in zip(pair_rows, values):
                full[row] = value
            return full

        everywhere = rows.is_pair
        chars = rules.response_chars(output)
        blank = rules.blank_responses(output)
        columns[schema.QUALITY_RESPONSE_CHARS] = spread(chars, -1, np.int64)
        if config.instruction_empty:
            verdicts.flag("instruction_empty", spread(rules.blank_responses(instruction), False, bool), everywhere)
        if config.response_empty:
            verdicts.flag("response_empty", spread(blank, False, bool), everywhere)
        minimum = _per_script(cjk, config.min_response_cjk_chars, config.min_response_chars)
        if minimum is not None:
            applies = spread(~closed & ~blank & ~np.isnan(minimum), False, bool)
            minimum = spread(np.nan_to_num(minimum), 0.0)
            verdicts.bound("response_too_short", spread(chars.astype(float)), applies, minimum, minimum * 4,
                           maximum=False, unit="chars", integer=True)
        overlap = rules.instruction_overlap(instruction, output, (instruction_units, response_units))
        columns[schema.QUALITY_INSTRUCTION_OVERLAP] = spread(overlap)
        if config.max_instruction_overlap is not None:
            verdicts.bound("repeats_instruction", spread(overlap), everywhere, config.max_instruction_overlap,
                           config.max_instruction_overlap / 2, maximum=True)
        for rule, column, enabled, (flags, evidence) in (
            ("refusal", schema.QUALITY_REFUSAL, config.refusal, rules.refusals(output)),
            ("non_answer", schema.QUALITY_NON_ANSWER, config.non_answer, rules.non_answers(output)),
            ("truncated", schema.QUALITY_TRUNCATED, config.truncated, rules.truncations(output, cjk, response_units)),
            ("unseen_input", schema.QUALITY_UNSEEN_INPUT, config.unseen_input,
             rules.unseen_inputs(instruction, input_, prompt_units)),
            ("impossible_action", schema.QUALITY_IMPOSSIBLE_ACTION, config.impossible_action,
             rules.impossible_actions(instruction)),
            ("placeholder", schema.QUALITY_PLACEHOLDER, config.placeholder,
             rules.placeholders(instruction, input_, output)),
        ):
            full = spread(flags, False, bool)
            columns[column] = _nullable(full, rows.is_pair)
            if enabled:
                verdicts.flag(rule, full, everywhere, spread_list(evidence), quote=rule != "truncated")
        columns[schema.QUALITY_REPEATED_RUN] = np.where(rows.is_pair, runs, -1)
        if config.max_repeated_run is not None:
            has_code = rules._match(output, "```")
            repeated = spread(~has_code & (runs[pair_rows] > config.max_repeated_run), False, bool)
            verdicts.flag("repeated_word", repeated, everywhere, run_evidence, quote=False)
        urls, url_evidence = rules.ungrounded_urls(prompt, output, config.allowed_url_hosts)
        columns[schema.QUALITY_UNGROUNDED_URLS] = spread(urls, -1, np.int64)
        if config.ungrounded_urls:
            verdicts.flag("ungrounded_url", spread(urls > 0, False, bool), everywhere, spread_list(url_evidence))
        ratio = response_units / np.maximum(prompt_units, 1)
        columns[schema.QUALITY_LENGTH_RATIO] = spread(ratio)
        if config.min_length_ratio is not None:
            applies = spread(~closed & ~blank & (prompt_units >= config.length_ratio_min_prompt), False, bool)
            verdicts.bound("length_ratio_low", spread(ratio), applies, config.min_length_ratio,
                           config.min_length_ratio * 2.5, maximum=False)
        if config.max_length_ratio is not None:
            verdicts.bound("length_ratio_high", spread(ratio), everywhere, config.max_length_ratio,
                           config.max_length_ratio / 2, maximum=True)

    def _with_columns(self, table: pa.Table, columns: dict) -> pa.Table:
        columns.pop("_units", None)
        columns.pop("_runs", None)
        for column, type_ in self.adds.items():
            values = columns.get(column)
            if values is None:
                array = pa.nulls(table.num_rows, type_)
            elif isinstance(values, list):
                array = pa.array(values, type=type_)
            elif isinstance(values, pa.Array):
                array = values.cast(type_)
            elif pa.types.is_integer(type_):
                array = pa.array(values, type=type_, mask=values < 0)
            elif pa.types.is_floating(type_):
                array = pa.array(values, type=type_, mask=np.isnan(values))
            else:
                array = pa.array(values, type=type_)
            if column in table.column_names:
                table = table.set_column(table.column_names.index(column), column, array)
            else:
                table = table.append_column(pa.field(column, type_), array)
        return table


def _conversation_turns(table: pa.Table, is_pair: np.ndarray, instruction: pa.Array, output: pa.Array):
    """Fills instruction/output of conversation rows: user turns, and the last assistant turn."""
    empty = rules._numpy(pc.and_(pc.equal(pc.utf8_length(instruction), 0), pc.equal(pc.utf8_length(output), 0)))
    rows = np.nonzero(is_pair & empty.astype(bool))[0]
    if len(rows) == 0:
        return instruction, output
    messages = table.column(schema.MESSAGES).take(pa.array(rows)).to_pylist()
    instructions, outputs = instruction.to_pylist(), output.to_pylist()
    for row, turns in zip(rows, messages):
        turns = turns or []
        users = [turn.get("content") or "" for turn in turns if turn.get("role") == schema.ROLE_USER]
        answers = [turn.get("content") or "" for turn in turns if turn.get("role") == schema.ROLE_ASSISTANT]
        instructions[row] = "\n".join(users)
        outputs[row] = answers[-1] if answers else ""
    return pa.array(instructions, pa.string()), pa.array(outputs, pa.string())
