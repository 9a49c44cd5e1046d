"""The ``text`` SFT format: a conversation rendered as one string through a template.

Rule for what goes in (documented in the README):

- Each user / assistant exchange is rendered with ``turn``, whose placeholders are ``{question}`` (the
  user turn: the instruction, then the input after a blank line) and ``{answer}`` (the assistant turn).
- A multi-turn row renders every exchange in order and joins them with ``separator``.
- A system prompt (the row's own, else ``output.system_prompt``) is rendered once with ``system``
  (placeholder ``{system}``) and put before the first exchange; a row without one gets no prefix.

Literal braces are written ``{{`` and ``}}``. Any other placeholder, a format spec or a conversion
(``{answer!r}``, ``{answer:>10}``) is an error when the config is loaded, never at run time.
"""

from __future__ import annotations

import string

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import field_validator
from sftforge.operators.base import StageConfig

QUESTION = "question"
ANSWER = "answer"
SYSTEM = "system"

DEFAULT_TURN = "### Question:\n{question}\n\n### Answer:\n{answer}"
DEFAULT_SYSTEM = "{system}\n\n"
DEFAULT_SEPARATOR = "\n\n"


def placeholders(template: str) -> list[str]:
    """The placeholder names of a ``str.format`` template, in order.

    Raises:
        ValueError: The template is malformed (a lone brace), or a placeholder has a conversion or a
            format spec, or is positional.
    """
    names = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"template {template!r} is malformed ({exc}); write literal braces as {{{{ }}}}"
        ) from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or name.isdigit():
            raise ValueError(f"template {template!r} has a positional placeholder; name it")
        if spec or conversion:
            raise ValueError(
                f"template {template!r}: placeholder {{{name}}} takes no format spec or conversion"
            )
        names.append(name)
    return names


def _check(template: str, allowed: set[str], required: set[str], key: str) -> str:
    names = placeholders(template)
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ValueError(
            f"output.text_template.{key} uses unknown placeholder(s) {unknown}; "
            f"allowed: {sorted('{' + name + '}' for name in allowed)}"
        )
    missing = sorted(required - set(names))
    if missing:
        raise ValueError(f"output.text_template.{key} must contain {sorted('{' + n + '}' for n in missing)}")
    return template


class TextTemplate(StageConfig):
    """How ``sft_format: text`` renders a conversation (see the module docstring for the rule).

    Attributes:
        turn: One exchange; must contain ``{question}`` and ``{answer}``.
        system: The system prompt prefix; must contain ``{system}``.
        separator: Between the exchanges of a multi-turn row.
    """

    turn: str = DEFAULT_TURN
    system: str = DEFAULT_SYSTEM
    separator: str = DEFAULT_SEPARATOR

    @field_validator("turn")
    @classmethod
    def _turn_placeholders(cls, value: str) -> str:
        return _check(value, {QUESTION, ANSWER}, {QUESTION, ANSWER}, "turn")

    @field_validator("system")
    @classmethod
    def _system_placeholders(cls, value: str) -> str:
        return _check(value, {SYSTEM}, {SYSTEM}, "system")

    def render(self, system: str | None, turns: list[tuple[str, str]]) -> str:
        """The text of a conversation; ``turns`` alternate user / assistant (``conversation_turns``)."""
        exchanges = [
            self.turn.format(question=turns[i][1], answer=turns[i + 1][1]) for i in range(0, len(turns), 2)
        ]
        prefix = self.system.format(system=system) if system is not None else ""
        return prefix + self.separator.join(exchanges)


def _fill_template(template: str, values: dict[str, pa.Array], length: int) -> pa.Array:
    """``template.format(**row)`` for every row, joined with Arrow kernels (values must not be null)."""
    pieces: list = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(pa.scalar(literal, pa.string()))
        if name is not None:
            pieces.append(values[name])
    if not any(isinstance(piece, pa.Array) for piece in pieces):
        return pa.array(["".join(piece.as_py() for piece in pieces)] * length, pa.string())
    return pc.binary_join_element_wise(*pieces, pa.scalar("", pa.string()))


def render_single_turns(template: TextTemplate, system: pa.Array, prompt: pa.Array, answer: pa.Array):
    """``TextTemplate.render`` of single-turn rows, column-wise: the same text, without a loop per row."""
    exchange = _fill_template(template.turn, {"question": prompt, "answer": answer}, len(prompt))
    prefix = _fill_template(template.system, {"system": pc.fill_null(system, "")}, len(prompt))
    prefix = pc.if_else(system.is_valid(), prefix, pa.scalar("", pa.string()))
    return pc.binary_join_element_wise(prefix, exchange, pa.scalar("", pa.string()))
