"""A row's conversation (system prompt, user / assistant turns) and the record of each SFT format."""

from __future__ import annotations

from sftforge.operators import schema
from sftforge.operators.write.schemas import (
    CONVERSATIONS,
    HISTORY,
    SHAREGPT_FROM,
    SHAREGPT_ROLES,
    SHAREGPT_VALUE,
)


class InvalidConversation(ValueError):
    """One row cannot form a valid conversation; the message is its reject reason."""


def blank(value: str | None) -> bool:
    """True for None, empty or whitespace-only strings."""
    return value is None or not value.strip()


def conversation_turns(
    instruction: str | None,
    input_: str | None,
    output: str | None,
    system: str | None,
    messages: list[dict] | None,
    default_system: str | None = None,
) -> tuple[str | None, list[tuple[str, str]]]:
    """Returns a row's system prompt and its user / assistant turns.

    A non-empty ``messages`` list is the conversation (a leading system message is taken as the system
    prompt); otherwise the user turn is the instruction, followed by the input after a blank line, and
    the assistant turn is the output. The row's ``system`` wins over a system message, which wins over
    ``default_system``.

    Raises:
        InvalidConversation: No instruction or answer, a blank turn, an unknown role, or turns that do
            not alternate user / assistant starting with the user and ending with the assistant.
    """
    own_system = None
    if messages:
        turns = []
        for index, message in enumerate(messages):
            role, content = message.get("role"), message.get("content")
            if role == schema.ROLE_SYSTEM:
                if index != 0:
                    raise InvalidConversation(f"message {index} is a system message after the first turn")
                own_system = None if blank(content) else content
                continue
            if role not in (schema.ROLE_USER, schema.ROLE_ASSISTANT):
                raise InvalidConversation(f"message {index} has role {role!r}, not user or assistant")
            if blank(content):
                raise InvalidConversation(f"message {index} ({role}) has no content")
            expected = schema.ROLE_USER if len(turns) % 2 == 0 else schema.ROLE_ASSISTANT
            if role != expected:
                raise InvalidConversation(
                    f"message {index} is {role} where {expected} was expected "
                    "(turns must alternate user / assistant, starting with user)"
                )
            turns.append((role, content))
        if not turns:
            raise InvalidConversation("conversation has no user or assistant turn")
        if turns[-1][0] != schema.ROLE_ASSISTANT:
            raise InvalidConversation("conversation ends with a user turn, not an assistant answer")
    else:
        if blank(instruction):
            raise InvalidConversation("instruction is empty")
        if blank(output):
            raise InvalidConversation("output is empty")
        prompt = instruction if blank(input_) else f"{instruction}\n\n{input_}"
        turns = [(schema.ROLE_USER, prompt), (schema.ROLE_ASSISTANT, output)]
    for candidate in (system, own_system, default_system):
        if not blank(candidate):
            return candidate, turns
    return None, turns


def messages_record(system: str | None, turns: list[tuple[str, str]]) -> dict:
    """``{"messages": [...]}`` with the system message first when there is one."""
    messages = [{"role": schema.ROLE_SYSTEM, "content": system}] if system is not None else []
    messages.extend({"role": role, "content": content} for role, content in turns)
    return {schema.MESSAGES: messages}


def sharegpt_record(system: str | None, turns: list[tuple[str, str]]) -> dict:
    """``{"conversations": [{"from", "value"}, ...]}`` with human / gpt turns."""
    conversation = [{SHAREGPT_FROM: "system", SHAREGPT_VALUE: system}] if system is not None else []
    conversation.extend(
        {SHAREGPT_FROM: SHAREGPT_ROLES[role], SHAREGPT_VALUE: content} for role, content in turns
    )
    return {CONVERSATIONS: conversation}


def alpaca_record(
    system: str | None,
    turns: list[tuple[str, str]],
    instruction: str | None = None,
    input_: str | None = None,
) -> dict:
    """Alpaca fields; earlier turns go to ``history``.

    A single-turn row keeps its own instruction and input apart; a multi-turn row's last user turn is
    the instruction, with an empty input.
    """
    history = [[turns[i][1], turns[i + 1][1]] for i in range(0, len(turns) - 2, 2)]
    if len(turns) == 2 and instruction is not None:
        prompt, extra = instruction, input_ or ""
    else:
        prompt, extra = turns[-2][1], ""
    return {
        schema.INSTRUCTION: prompt,
        schema.INPUT: extra,
        schema.OUTPUT: turns[-1][1],
        schema.SYSTEM: system,
        HISTORY: history,
    }
