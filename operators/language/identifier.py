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
import io
import re
from pathlib import Path
from typing import Literal, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.language.codes import FAMILY_LABELS, is_admitted, label_to_code
from sftforge.operators.language.config import default_model_path
from sftforge.operators.language.scripts import SCRIPT_LANGUAGES, language_by_script
from sftforge.operators.language.second_opinion import Cld2, Lingua

UNDETERMINED = "und"

_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+|\S+@\S+\.\w+", re.IGNORECASE)
#: Labels fastText is unsure of even when confident: Han, Kana and Hangul settle them for free.
_CJK = frozenset({"ja", "ko"} | set(SCRIPT_LANGUAGES["Han"]))

#: Characters of a long text given to the slower second opinions.
SECOND_OPINION_CHARS = 500


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
        self._cld2 = Cld2() if use_cld2 else None
        self.arbitrate_only = arbitrate_only
        self._lingua = Lingua(lingua_accuracy, preload=lingua_preload) if use_lingua else None

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
