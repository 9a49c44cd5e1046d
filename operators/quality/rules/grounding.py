"""What a response makes up: URLs the prompt never gave, unfilled template placeholders."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.quality.rules.arrow import _evidence, _match, as_strings

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]{}，。、；：！？）】》]+", re.IGNORECASE)
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "edu", "ac"}


def _host(url: str) -> str:
    host = re.sub(r"^(?:https?://)?", "", url, flags=re.IGNORECASE).split("/")[0].split("?")[0].split("#")[0]
    host = host.split("@")[-1].split(":")[0].lower().rstrip(".")
    return host.removeprefix("www.")


def _registered_domain(host: str) -> str:
    labels = host.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def ungrounded_urls(prompts, responses, allowed_hosts: Iterable[str] = ()) -> tuple[np.ndarray, list[str | None]]:
    """How many URLs in each response the prompt never gave, with the first of them.

    A URL is grounded when the prompt contains it, its host, or its registered domain (the prompt
    mentions "python.org"), or its host is allowed (documentation placeholders such as example.com).
    Everything else is likely invented by the model that wrote the response.
    """
    prompts, responses = as_strings(prompts), as_strings(responses)
    allowed = {host.lower().removeprefix("www.") for host in allowed_hosts}
    counts = np.zeros(len(responses), np.int64)
    evidence: list[str | None] = [None] * len(responses)
    candidates = np.nonzero(_match(responses, r"https?://|www\."))[0]
    if len(candidates) == 0:
        return counts, evidence
    chosen = pa.array(candidates)
    for row, prompt, response in zip(
        candidates, prompts.take(chosen).to_pylist(), responses.take(chosen).to_pylist()
    ):
        prompt_lower = prompt.lower()
        for match in _URL.finditer(_CODE_BLOCK.sub(" ", response)):
            if match.start() and match.string[match.start() - 1] in "\"'`":
                continue  # a string literal in code: an endpoint the code calls, not a citation
            url = match.group(0).rstrip(".,;:!?")
            host = _host(url)
            if not host or host in allowed:
                continue
            if url.lower().rstrip("/") in prompt_lower or host in prompt_lower:
                continue
            if _registered_domain(host) in prompt_lower:
                continue
            counts[row] += 1
            if evidence[row] is None:
                evidence[row] = url
    return counts, evidence


_PLACEHOLDER_ANY = r"(?:<\s*(?:no[ _-]?input|no[ _-]?output|empty)\s*>)"
_PLACEHOLDER_RESPONSE = (
    r"(?:\[\s*(?:your|insert|enter|add|name of|recipient|sender|company|job title|position|date|address|"
    r"phone|email|placeholder|todo|tbd|x{2,}|hiring manager|manager|first name|last name|full name|city|"
    r"state|zip|location|product|number|signature)\b[^\]\n]{0,40}\](?:[^(]|$)"
    r"|<\s*(?:insert|your|enter|name of)\b[^>\n]{0,40}>"
    r"|\{\s*(?:your|insert)\b[^}\n]{0,30}\}"
    r"|[\[【［]\s*(?:插入|填写|输入|在此|此处|你的|您的|姓名|名字|日期|公司|地址|电话|职位|收件人|联系方式|签名)[^\]】］\n]{0,30}[\]】］]"
    r"|(?:尊敬的|亲爱的)\s*(?:XXX|xxx|×××|\*\*\*)"
    r"|lorem ipsum)"
)
_TEMPLATE_REQUEST = r"\b(?:template|placeholders?|fill[- ]in|mad ?libs?|form letter)\b|模板|模版|占位|填空"
# A letter or email written for the user is a template by nature: the model cannot know who signs it
# or whom it is for, so the name, signature, contact and date slots of such a letter are expected. Its
# substance is not: "the position of [Job Title] at [Company Name]" leaves the letter unwritten.
_LETTER_REQUEST = (
    r"\b(?:letters?|e-?mails?|cover letter|memo|invitations?|thank[- ]you note|note to|message to|reply to|"
    r"respond to|write (?:back )?to|recruiter|resignation)\b|信|邮件|邀请函|短信|便条|通知|回复"
)
_LETTER_SLOT = (
    r"(?i)\[\s*(?:(?:your|recipient|recipient's|sender|sender's|the|first|last|full|hiring manager|manager|"
    r"recruiter|contact)\s*)*(?:name|signature|contact information|contact details|email|e-mail|"
    r"phone(?: number)?|address|date|hiring manager|manager|recruiter|recipient)\s*\]"
    r"|[\[【［]\s*(?:你的|您的|收件人|寄件人)?(?:姓名|名字|签名|日期|联系方式|电话|地址|收件人)\s*[\]】］]"
)


def placeholders(instructions, inputs, responses) -> tuple[np.ndarray, list[str | None]]:
    """Unfilled template text: ``<noinput>`` anywhere, ``[Your Name]`` / ``[插入...]`` in the response.

    A prompt that asks for a template ("write a form letter template") may get placeholders back, and
    a letter or email written on request may leave its name, title, contact and date slots open
    ("Thanks again,\n[Your Name]"); other placeholders in it ("[Insert company logo here]") still count.
    """
    instructions, inputs, responses = as_strings(instructions), as_strings(inputs), as_strings(responses)
    everything = pc.binary_join_element_wise(instructions, inputs, responses, "\n")
    anywhere = _match(everything, _PLACEHOLDER_ANY)
    prompts = pc.binary_join_element_wise(instructions, inputs, "\n")
    letter = pa.array(_match(prompts, _LETTER_REQUEST))
    judged = pc.if_else(letter, pc.replace_substring_regex(responses, _LETTER_SLOT, ""), responses)
    in_response = _match(judged, _PLACEHOLDER_RESPONSE) & ~_match(prompts, _TEMPLATE_REQUEST)
    evidence = _evidence(everything, _PLACEHOLDER_ANY, anywhere)
    for row, text in enumerate(_evidence(judged, _PLACEHOLDER_RESPONSE, in_response & ~anywhere)):
        if text is not None:
            evidence[row] = text.rstrip()
    return anywhere | in_response, evidence
