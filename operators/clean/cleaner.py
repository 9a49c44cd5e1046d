"""The clean stage: HTML, Unicode normalisation, control characters, boilerplate lines, whitespace.

Cleaning runs on every row of every job, so each step first checks cheaply whether it has anything to
do (no ``<`` means no tags, an NFKC-normalised string is left alone) and the regexes are compiled once.

What it will not do, because SFT data is full of code and Chinese:

* Tags are removed only when their name is an HTML element (``<p>``, ``<div class=...>``), so that
  ``vector<int>``, ``List<String>`` or ``#include <stdio.h>`` survive; Markdown code (fenced blocks and
  inline spans) is not touched by the HTML step, and fenced blocks not by the whitespace step either.
* Only entities with a closing ``;`` are decoded, so ``?a=1&para=2`` stays a URL.
* NFKC folds full-width letters, digits and spaces to ASCII, but by default keeps full-width punctuation
  (``，：！？（）``): NFKC would turn ``你好，世界！`` into ``你好,世界!`` while leaving ``。、「」``
  alone, a mix no Chinese writer uses. CJK characters themselves never change.
* In instruction rows, leading indentation and tabs are kept (code without fences); documents get every
  line stripped and every run of blanks collapsed.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator
from sftforge.operators import schema
from sftforge.operators.base import Resources, Stage, StageConfig, StageResult

EMPTY_AFTER_CLEAN = "empty_after_clean"

#: Filler lines dropped by default, English and Chinese. Each must match a whole line (after its
#: surrounding blanks), case-insensitively; lines longer than ``DEFAULT_BOILERPLATE_MAX_CHARS`` are never
#: dropped by these, so a real paragraph that starts with "Read more" stays.
DEFAULT_BOILERPLATE = (
    # English
    r"click (?:here )?to (?:subscribe|read more|continue|learn more|download|sign up|register)\b.*",
    r"(?:share|tweet|pin) (?:this|on) (?:article|story|post|page|facebook|twitter|x|linkedin)\b.*",
    r"(?:please )?(?:subscribe|sign up) (?:to|for) (?:our|the) (?:newsletter|mailing list|channel)\b.*",
    r"(?:copyright\s*)?(?:©|\(c\)|copyright)\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?[^\n]*all rights reserved\.?",
    r"all rights reserved\.?",
    r"(?:advertisement|sponsored(?: content)?|ad)",
    r"(?:read more|continue reading|see more|show more|load more)(?: »| ›| >|\.\.\.|…)?",
    r"related (?:articles|posts|stories|content|links)\s*:?",
    r"follow us on (?:facebook|twitter|instagram|linkedin|youtube|tiktok|x)\b.*",
    r"(?:previous|next) (?:article|post|story)(?:\s*[:»›>|]\s*.{0,120})?",
    r"skip to (?:main )?content",
    r"(?:this (?:web)?site|we) uses? cookies\b.*(?:experience|consent|privacy|policy|browsing|agree|accept).*",
    r"(?:accept|reject) (?:all )?cookies",
    # Chinese
    r"[^。！？]{0,40}版权所有(?:[\s©(（|:：]|$)[^。！？]*",
    r"版权声明[:：].*",
    r"(?:未经(?:许可|授权|允许)[，,]?)?(?:严禁|禁止|不得)(?:任何形式的)?转载.*",
    r"转载请注明(?:出处|来源).*",
    r"点击(?:上方|下方|顶部|底部)?(?:蓝字|卡片|名片)?关注.*",
    r"点击(?:左下角)?阅读原文.*",
    r"(?:扫码|扫描(?:下方)?二维码|长按(?:识别)?二维码)(?:.{0,20}(?:关注|加入|添加|下载|领取|订阅).*)?",
    r"(?:欢迎)?关注(?:我们|本?公众号|微信公众号)(?:[，,:：!！]|$).{0,40}",
    r"(?:免责声明|特别声明)[:：].*",
    r"(?:本文)?(?:来源|作者|责任编辑|编辑|校对)[:：]\s*\S{1,20}",
    r"(?:广告|推广|赞助内容)",
    r"(?:阅读原文|更多精彩(?:内容)?.*|分享到[:：]?.*|点个?(?:赞|在看).*)",
)
DEFAULT_BOILERPLATE_MAX_CHARS = 200

# Elements whose content is not text, and comments; removed by ``_drop_invisible``.
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "head")
_INVISIBLE_OPEN = re.compile(rf"<({'|'.join(_INVISIBLE_TAGS)})\b[^<>]*>|<!--|<!\[CDATA\[", re.IGNORECASE)
_INVISIBLE_CLOSE = {
    **{tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in _INVISIBLE_TAGS},
    "<!--": re.compile(r"-->"),
    "<![cdata[": re.compile(r"\]\]>"),
}
# What an HTML tag becomes, as (opening tag, closing tag): block elements break paragraphs, a list item
# or row starts a line (its closing tag adds nothing, else "</li><li>" would make a paragraph), a cell
# is a space, inline elements vanish. Tags with other names are left alone: they are not HTML.
_PARAGRAPH_TAGS = (
    "p div h1 h2 h3 h4 h5 h6 section article aside header footer nav main blockquote pre table thead tbody "
    "tfoot ul ol dl figure figcaption form fieldset address details summary hr title body html"
)
_LINE_TAGS = "li tr dt dd caption option"
_CELL_TAGS = "td th"
_INLINE_TAGS = (
    "a abbr b bdi bdo big button center cite code data del dfn em embed font i img input ins kbd label "
    "legend link map mark meta meter object output picture progress q rp rt ruby s samp select small "
    "source span strike strong sub sup textarea time track tt u var video audio wbr area base canvas "
    "col colgroup dialog menu param"
)
_TAG_REPLACEMENTS: dict[str, tuple[str, str]] = {
    **{tag: ("\n\n", "\n\n") for tag in _PARAGRAPH_TAGS.split()},
    **{tag: ("\n", "") for tag in _LINE_TAGS.split()},
    **{tag: (" ", " ") for tag in _CELL_TAGS.split()},
    **{tag: ("", "") for tag in _INLINE_TAGS.split()},
    "br": ("\n", "\n"),
}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*(?::[A-Za-z0-9]+)?)(?:\s[^<>]*)?/?>")
_DOCTYPE = re.compile(r"<!doctype\b[^<>]*>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# Markdown code: a fenced block (to its closing fence or the end) or an inline span.
_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]+`", re.DOTALL)

_LINE_BREAK_CHARS = ("\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# C0/C1 controls except tab and newline, and invisible format characters that only get in the way
# (zero-width space, word joiner, BOM, soft hyphen). ZWJ/ZWNJ stay: emoji and Persian need them.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\u2060\ufeff\u00ad]")
# Full-width ASCII punctuation (U+FF01-FF0F, FF1A-FF20, FF3B-FF40, FF5B-FF65); letters and digits fold.
_FULLWIDTH_PUNCTUATION = re.compile(r"[\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+")

_SPACE_RUNS = re.compile(r" {2,}")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


class CleanConfig(StageConfig):
    """What the clean stage does; every step can be switched off.

    Attributes:
        html: Drop script/style/comments, turn block tags (``<p>``, ``<br>``, ``<li>``...) into line
            breaks, remove other HTML tags, decode entities.
        normalize_unicode: Apply NFKC.
        keep_fullwidth_punctuation: With NFKC, leave full-width punctuation (``，！？：``) as it is.
        remove_control_chars: Remove control and invisible format characters (tab and newline stay).
        collapse_whitespace: Strip line ends, collapse runs of blanks, keep at most one empty line between
            paragraphs.
        default_boilerplate: Drop lines matching ``DEFAULT_BOILERPLATE`` (English and Chinese filler).
        boilerplate_patterns: More regexes (Python syntax); a line where one matches (``re.search``) is
            dropped, whatever its length.
    """

    html: bool = True
    normalize_unicode: bool = True
    keep_fullwidth_punctuation: bool = True
    remove_control_chars: bool = True
    collapse_whitespace: bool = True
    default_boilerplate: bool = True
    boilerplate_patterns: list[str] = Field(default_factory=list)

    @field_validator("boilerplate_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {index} ('{pattern}') is not a valid regex: {exc}") from exc
        return patterns


def _default_boilerplate_regex() -> re.Pattern:
    alternatives = "|".join(f"(?:{pattern})" for pattern in DEFAULT_BOILERPLATE)
    return re.compile(rf"\s*(?:{alternatives})\s*", re.IGNORECASE)


class TextCleaner(Stage[CleanConfig]):
    """Cleans document text and every text field of instruction rows; rejects rows left empty."""

    name = "clean"
    requires = (schema.DOC_ID, schema.KIND)
    resources = Resources()

    def __init__(self, config: CleanConfig | None = None):
        super().__init__(config or CleanConfig())
        self._default_boilerplate = _default_boilerplate_regex() if self.config.default_boilerplate else None
        self._custom_boilerplate = [re.compile(pattern) for pattern in self.config.boilerplate_patterns]

    # --- pure text ------------------------------------------------------------------------------------

    def clean(self, text: str, keep_indent: bool = False) -> str:
        """Returns ``text`` cleaned by the configured steps.

        Args:
            text: Any string.
            keep_indent: Keep leading indentation and tabs (instruction fields, which often hold code).
        """
        config = self.config
        if any(char in text for char in _LINE_BREAK_CHARS):
            text = _LINE_BREAKS.sub("\n", text)
        if config.html and ("<" in text or "&" in text):
            text = _outside_code(text, _strip_html)
        if config.normalize_unicode and not unicodedata.is_normalized("NFKC", text):
            text = nfkc(text, config.keep_fullwidth_punctuation)
        if config.remove_control_chars:
            text = _CONTROL.sub("", text)
        if (
            self._default_boilerplate is None
            and not self._custom_boilerplate
            and not config.collapse_whitespace
        ):
            return text
        text = "\n".join(self._clean_lines(text.split("\n"), keep_indent))
        if config.collapse_whitespace:
            text = text.rstrip()
            text = text.lstrip("\n") if keep_indent else text.lstrip()
        return text

    def _clean_lines(self, lines: list[str], keep_indent: bool) -> Iterator[str]:
        """Drops boilerplate lines and collapses blanks, leaving fenced code blocks as they are.

        Outside code, blanks inside a line collapse (documents) or runs of spaces after the indentation do
        (instruction fields), and at most one empty line separates paragraphs.
        """
        default, custom = self._default_boilerplate, self._custom_boilerplate
        collapse = self.config.collapse_whitespace
        # After NFKC the only blanks left are spaces and tabs, so a line without a double space or a tab
        # needs no more than a strip.
        exotic_blanks = not self.config.normalize_unicode
        in_code = False
        after_empty = False
        for line in lines:
            if default is not None and len(line) <= DEFAULT_BOILERPLATE_MAX_CHARS and default.fullmatch(line):
                continue
            if custom and any(pattern.search(line) for pattern in custom):
                continue
            if not collapse or in_code and not line.lstrip().startswith(("```", "~~~")):
                yield line
                continue
            if line.lstrip().startswith(("```", "~~~")):
                in_code = not in_code
                line = line.rstrip()
            elif keep_indent:
                line = line.rstrip()
                body = line.lstrip()
                if "  " in body:
                    line = line[: len(line) - len(body)] + _SPACE_RUNS.sub(" ", body)
                elif not body:
                    line = ""
            elif exotic_blanks or "  " in line or "\t" in line:
                line = " ".join(line.split())
            else:
                line = line.strip()
            if not line and after_empty:
                continue
            after_empty = not line
            yield line

    # --- batches --------------------------------------------------------------------------------------

    def process(self, table: pa.Table) -> StageResult:
        is_instruction = [kind == schema.KIND_INSTRUCTION for kind in table.column(schema.KIND).to_pylist()]
        reasons: list[str | None] = [None] * table.num_rows
        cleaned: dict[str, list] = {}
        present = set(table.column_names)

        if schema.TEXT in present:
            texts = table.column(schema.TEXT).to_pylist()
            cleaned[schema.TEXT] = [
                text if instruction or text is None else self.clean(text)
                for text, instruction in zip(texts, is_instruction)
            ]
            for row, (text, instruction) in enumerate(zip(cleaned[schema.TEXT], is_instruction)):
                if not instruction and not text:
                    reasons[row] = EMPTY_AFTER_CLEAN

        for name in (schema.INSTRUCTION, schema.INPUT, schema.OUTPUT, schema.SYSTEM):
            if name in present:
                cleaned[name] = [
                    self.clean(value, keep_indent=True) if instruction and value is not None else value
                    for value, instruction in zip(table.column(name).to_pylist(), is_instruction)
                ]
        if schema.MESSAGES in present:
            cleaned[schema.MESSAGES] = table.column(schema.MESSAGES).to_pylist()

        empty = [None] * table.num_rows
        instructions = cleaned.get(schema.INSTRUCTION, empty)
        outputs = cleaned.get(schema.OUTPUT, empty)
        for row, instruction in enumerate(is_instruction):
            if not instruction:
                continue
            if schema.MESSAGES in cleaned and cleaned[schema.MESSAGES][row] is not None:
                turns = self._clean_turns(cleaned[schema.MESSAGES][row])
                if turns is None:
                    reasons[row] = EMPTY_AFTER_CLEAN
                    continue
                cleaned[schema.MESSAGES][row] = turns
            if not instructions[row] or not outputs[row]:
                reasons[row] = EMPTY_AFTER_CLEAN
            elif schema.SYSTEM in cleaned and cleaned[schema.SYSTEM][row] == "":
                cleaned[schema.SYSTEM][row] = None

        # Rejected rows keep their original text: the cleaned version is empty, the original is evidence.
        rejected = pa.array([reason is not None for reason in reasons], pa.bool_())
        for name, values in cleaned.items():
            original = table.column(name).combine_chunks()
            column = pc.if_else(rejected, original, pa.array(values, original.type))
            table = table.set_column(table.column_names.index(name), name, column)
        return self.partition(table, reasons)

    def _clean_turns(self, turns: list[dict]) -> list[dict] | None:
        """Cleans every turn; drops system turns left empty; None if a user or assistant turn is."""
        cleaned = []
        for turn in turns:
            content = self.clean(turn["content"] or "", keep_indent=True)
            if not content and turn["role"] == schema.ROLE_SYSTEM:
                continue
            if not content:
                return None
            cleaned.append({"role": turn["role"], "content": content})
        return cleaned


def _outside_code(text: str, transform: Callable[[str], str]) -> str:
    """Applies ``transform`` to the parts of ``text`` that are not Markdown code."""
    if "`" not in text and "~~~" not in text:
        return transform(text)
    parts = []
    position = 0
    for match in _CODE.finditer(text):
        parts.append(transform(text[position : match.start()]))
        parts.append(match.group())
        position = match.end()
    parts.append(transform(text[position:]))
    return "".join(parts)


def _strip_html(text: str) -> str:
    if "<" in text:
        text = _drop_invisible(text)
        text = _DOCTYPE.sub("", text)
        text = _TAG.sub(_replace_tag, text)
    if "&" in text:
        text = _ENTITY.sub(_unescape, text)
    return text


def _replace_tag(match: re.Match) -> str:
    closing, name = match.groups()
    replacement = _TAG_REPLACEMENTS.get(name.lower())
    if replacement is None:
        return "" if ":" in name else match.group()  # namespaced Office tags (<o:p>) are markup too
    return replacement[1] if closing else replacement[0]


def _drop_invisible(text: str) -> str:
    """Removes script/style/... elements and comments, in one pass.

    An element that is never closed loses only its opening tag; once a closing tag is known to be
    absent it is not searched for again, so that many unclosed tags cost linear time, not quadratic.
    """
    parts = []
    position = 0
    unclosed: set[str] = set()
    while match := _INVISIBLE_OPEN.search(text, position):
        kind = (match.group(1) or match.group()).lower()
        parts.append(text[position : match.start()])
        close = None if kind in unclosed else _INVISIBLE_CLOSE[kind].search(text, match.end())
        if close is None:
            unclosed.add(kind)
            position = match.end()
        else:
            position = close.end()
    parts.append(text[position:])
    return "".join(parts)


def _unescape(match: re.Match) -> str:
    value = html.unescape(match.group())
    # Entities for control characters (&#0; &#27;, decoded as themselves or U+FFFD) must not bring them back.
    return value if (value.isprintable() or value.isspace()) and value != "\ufffd" else ""


def nfkc(text: str, keep_fullwidth_punctuation: bool) -> str:
    """NFKC of ``text``, optionally leaving full-width punctuation as it is.

    Only the non-ASCII runs are normalised, each with the character before it (a combining mark
    composes with its base): ASCII characters never change under NFKC and never compose with what
    precedes them, so the string can be cut before any of them. For English text with the odd
    non-breaking space this is several times faster than normalising the whole string.
    """
    normalize = _nfkc_keeping_punctuation if keep_fullwidth_punctuation else _nfkc_all
    if len(text.encode("utf-8")) - len(text) > len(text) // 8:
        return normalize(text)  # mostly non-ASCII (CJK): cutting would only add work
    parts = []
    position = 0
    for match in _NON_ASCII_RUN.finditer(text):
        start = max(position, match.start() - 1)
        parts.append(text[position:start])
        parts.append(normalize(text[start : match.end()]))
        position = match.end()
    parts.append(text[position:])
    return "".join(parts)


def _nfkc_all(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _nfkc_keeping_punctuation(text: str) -> str:
    if not _FULLWIDTH_PUNCTUATION.search(text):
        return unicodedata.normalize("NFKC", text)
    parts = []
    position = 0
    for match in _FULLWIDTH_PUNCTUATION.finditer(text):
        parts.append(unicodedata.normalize("NFKC", text[position : match.start()]))
        parts.append(match.group())
        position = match.end()
    parts.append(unicodedata.normalize("NFKC", text[position:]))
    return "".join(parts)
