"""Writing systems: which script the letters of a text are in, and the languages a script settles.

A language identifier looks at words; a script is settled by the code points alone, for free. Hangul
is Korean, Kana is Japanese, Greek is Greek, whatever a model trained on short snippets says. The
table below maps every code point to a script once, so profiling a text is one numpy lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SCRIPTS = (
    "none",
    "Latin",
    "Cyrillic",
    "Greek",
    "Armenian",
    "Hebrew",
    "Arabic",
    "Devanagari",
    "Bengali",
    "Gurmukhi",
    "Gujarati",
    "Oriya",
    "Tamil",
    "Telugu",
    "Kannada",
    "Malayalam",
    "Sinhala",
    "Thai",
    "Lao",
    "Tibetan",
    "Myanmar",
    "Georgian",
    "Hangul",
    "Ethiopic",
    "Khmer",
    "Han",
    "Kana",
    "Other",
)
_ID = {name: index for index, name in enumerate(SCRIPTS)}

_RANGES = {
    "Latin": [
        (0x41, 0x5A),
        (0x61, 0x7A),
        (0xC0, 0x24F),
        (0x250, 0x2AF),
        (0x1E00, 0x1EFF),
        (0x2C60, 0x2C7F),
        (0xA720, 0xA7FF),
        (0xFF21, 0xFF3A),
        (0xFF41, 0xFF5A),
    ],
    "Cyrillic": [(0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F)],
    "Greek": [(0x370, 0x3FF), (0x1F00, 0x1FFF)],
    "Armenian": [(0x530, 0x58F), (0xFB13, 0xFB17)],
    "Hebrew": [(0x590, 0x5FF), (0xFB1D, 0xFB4F)],
    "Arabic": [(0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    "Devanagari": [(0x900, 0x97F), (0xA8E0, 0xA8FF)],
    "Bengali": [(0x980, 0x9FF)],
    "Gurmukhi": [(0xA00, 0xA7F)],
    "Gujarati": [(0xA80, 0xAFF)],
    "Oriya": [(0xB00, 0xB7F)],
    "Tamil": [(0xB80, 0xBFF)],
    "Telugu": [(0xC00, 0xC7F)],
    "Kannada": [(0xC80, 0xCFF)],
    "Malayalam": [(0xD00, 0xD7F)],
    "Sinhala": [(0xD80, 0xDFF)],
    "Thai": [(0xE00, 0xE7F)],
    "Lao": [(0xE80, 0xEFF)],
    "Tibetan": [(0xF00, 0xFFF)],
    "Myanmar": [(0x1000, 0x109F)],
    "Georgian": [(0x10A0, 0x10FF), (0x1C90, 0x1CBF), (0x2D00, 0x2D2F)],
    "Hangul": [(0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF)],
    "Ethiopic": [(0x1200, 0x139F), (0x2D80, 0x2DDF)],
    "Khmer": [(0x1780, 0x17FF)],
    "Han": [(0x3005, 0x3007), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF)],
    "Kana": [(0x3041, 0x309F), (0x30A0, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)],
}

#: Scripts that one language owns, in practice, for text the pipeline meets (the first language is the
#: answer; the others are the ones a model may rightly name instead).
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "Greek": ("el",),
    "Armenian": ("hy",),
    "Georgian": ("ka", "xmf"),
    "Hangul": ("ko",),
    "Kana": ("ja",),
    "Thai": ("th",),
    "Lao": ("lo",),
    "Khmer": ("km",),
    "Myanmar": ("my",),
    "Gujarati": ("gu",),
    "Gurmukhi": ("pa",),
    "Oriya": ("or",),
    "Tamil": ("ta",),
    "Telugu": ("te",),
    "Kannada": ("kn",),
    "Malayalam": ("ml",),
    "Sinhala": ("si",),
    "Hebrew": ("he", "yi"),
    "Bengali": ("bn", "as", "bpy"),
    "Tibetan": ("bo", "dz"),
    "Ethiopic": ("am", "ti"),
    "Han": ("zh", "yue", "wuu", "lzh", "gan", "hak", "nan", "cdo"),
}

#: Share of Kana among Han and Kana letters above which a text is Japanese: Japanese prose is about
#: 30-40% Kana, while Chinese text only borrows the odd katakana name.
KANA_SHARE_JAPANESE = 0.1


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    table = np.zeros(0x110000, dtype=np.uint8)
    for name, ranges in _RANGES.items():
        for first, last in ranges:
            table[first : last + 1] = _ID[name]
    # Only letters count: digits, punctuation and marks inside a script's block say nothing.
    for code in range(0x30000):
        if table[code] and not chr(code).isalpha():
            table[code] = 0
    other = np.fromiter(
        (code for code in range(0x3000) if table[code] == 0 and chr(code).isalpha()), dtype=np.int64
    )
    table[other] = _ID["Other"]
    return table


@dataclass(frozen=True)
class ScriptProfile:
    """Letter counts of one text per script.

    Attributes:
        counts: Letters per script, indexed like ``SCRIPTS``.
    """

    counts: tuple[int, ...]

    @property
    def letters(self) -> int:
        return sum(self.counts[1:])

    def share(self, script: str) -> float:
        letters = self.letters
        return self.counts[_ID[script]] / letters if letters else 0.0

    def dominant(self) -> tuple[str, float]:
        """Returns the script with the most letters, and its share; Han and Kana count together."""
        return _dominant(self.counts)


def _dominant(counts) -> tuple[str, float]:
    counts = list(counts)
    letters = sum(counts) - counts[0]
    if not letters:
        return "none", 0.0
    kana = counts[_KANA]
    cjk = counts[_HAN] + kana
    counts[_HAN], counts[_KANA], counts[0] = cjk, 0, -1
    best = max(counts)
    script = SCRIPTS[counts.index(best)]
    if script == "Han" and kana >= KANA_SHARE_JAPANESE * cjk:
        script = "Kana"
    return script, best / letters


_HAN, _KANA = _ID["Han"], _ID["Kana"]


def _counts(text: str) -> list[int]:
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.bincount(_table()[np.minimum(points, 0x10FFFF)], minlength=len(SCRIPTS)).tolist()


def script_profile(text: str) -> ScriptProfile:
    """Counts the letters of ``text`` per script."""
    return ScriptProfile(tuple(_counts(text)))


def language_by_script(
    text: str, suggested: str | None = None, min_share: float = 0.5
) -> tuple[str, float] | None:
    """Returns the language that the script of ``text`` settles, and the script's share of the letters.

    Args:
        text: The text.
        suggested: A model's answer; kept when it is one of the languages written in that script (a
            model may rightly say Yiddish for Hebrew letters, Cantonese for Han).
        min_share: Share of the letters the dominant script needs before it settles anything.

    Returns:
        ``(language, share)``, or None when the script is shared by many languages (Latin, Cyrillic,
        Arabic, Devanagari) or no script dominates.
    """
    if text.isascii():
        return None  # Latin letters, or none: the models decide
    script, share = _dominant(_counts(text))
    languages = SCRIPT_LANGUAGES.get(script)
    if not languages or share < min_share:
        return None
    if suggested in languages:
        return suggested, share
    return languages[0], share
