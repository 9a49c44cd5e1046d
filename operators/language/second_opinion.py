"""Second opinions on a text fastText is unsure of: CLD2, and lingua restricted to a few candidates.

The script (``scripts.py``) is asked first, for free; then these two, cheapest first (see
``identifier.py`` for when each is asked).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from sftforge.operators.language.codes import MACRO_MEMBERS, canonical

# CLD2's codes that are not ISO 639 (old or region-tagged) or mean another thing in our table.
_CLD2_CODES = {"iw": "he", "jw": "jv", "in": "id", "zh-Hant": "zh", "no": "nb", "fil": "tl", "sr-ME": "sr"}


class Cld2:
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


class Lingua:
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
