"""Response length, closed tasks (where a one-word answer is normal) and echoes of the instruction."""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
import pyarrow as pa
from sftforge.operators.quality.rules.arrow import CJK_PY, _match, as_strings, non_space_chars
from sftforge.operators.quality.rules.tokens import count_units


def response_chars(texts) -> np.ndarray:
    """Non-space characters in each response."""
    return non_space_chars(texts)


def blank_responses(texts) -> np.ndarray:
    """Responses with no letter, digit or symbol: empty, whitespace, or punctuation only."""
    return ~_match(as_strings(texts), r"[\pL\pN\pS]")


# A prompt whose answer may legitimately be a word or a number: classification, choice, extraction,
# yes/no, arithmetic, translation of a phrase, naming. Questions count too, except why/how ones.
_CLOSED_CUES = (
    r"\b(?:classif\w*|categori[sz]\w*|label\w*|choose|select|pick|which|whether|yes or no|yes/no|"
    r"true or false|true/false|tell (?:me )?(?:if|whether)|identify|extract|find|return|output|answer|"
    r"fill in|predict|detect|count|how (?:many|much|old|long|far|tall|big)|calculate|compute|solve|rate|"
    r"score|convert|spell|guess|evaluate|determine|correct|check|translate|name|title|one word|"
    r"single word|a number|abbreviat\w*|acronym|capital of|sentiment|synonym|antonym|rhymes? with|"
    r"regular expression|regex|sort|alphabetical\w*|arrange|reorder)\b"
    r"|是否|是不是|对不对|对吗|哪|选择|选出|分类|类别|标签|多少|几[个位种天年岁次]|计算|求|提取|找出|只(?:需|要)?回答|"
    r"一个字|[“\"]是[”\"]或[“\"]否[”\"]|是或否|"
    r"输出|对错|正确|填空|翻译|标题|一个词|缩写|简称|首都|是谁|等于|情感|同义词|反义词|正则|排序"
)
_QUESTION = r"[?？]\s*$|吗\s*$"
_EXPLANATORY = (
    r"^[\s\pP]*(?:why|how|explain|describe|discuss)\b|\b(?:explain|describe|elaborate|discuss|essay|"
    r"story|article)\b|为什么|如何|怎么|怎样|解释|说明|描述|分析|论述|介绍"
)
_HOW_MUCH = r"^[\s\pP]*how (?:many|much|old|long|far|tall|big)\b"


def closed_tasks(instructions) -> np.ndarray:
    """Whether a short answer is normal for each prompt (classification, choice, factoid questions)."""
    values = as_strings(instructions)
    cues = _match(values, _CLOSED_CUES)
    question = _match(values, _QUESTION)
    explanatory = _match(values, _EXPLANATORY) & ~_match(values, _HOW_MUCH)
    return cues | (question & ~explanatory)


_ASKS_TO_REPEAT = r"\b(?:repeat|copy|echo|say back|recite)\b|重复|复述|照抄|跟我说|跟我念"
_PY_OVERLAP_TOKEN = re.compile(f"[{CJK_PY}]|[^\\W{CJK_PY}]+")


def _overlap_tokens(text: str) -> list[str]:
    return _PY_OVERLAP_TOKEN.findall(text.lower())


def instruction_overlap(instructions, responses, units: tuple[np.ndarray, np.ndarray] | None = None):
    """How much a response and its instruction are the same text, in [0, 1].

    The smaller of two shares of token bigrams: the response's found in the instruction, and the
    instruction's found in the response. Restating the question before answering it ("12乘以15等于
    180") keeps the second share low; echoing the instruction makes both high. Bigrams keep word
    order, so sorting or rearranging the instruction's words scores low. Only responses of comparable
    length (at least 3 tokens, between half and twice the instruction plus 10) are measured, and not
    when the instruction asks for repetition ("repeat after me", "重复"); others get NaN.

    Args:
        instructions: The instruction of each row (without its input: extraction answers copy inputs).
        responses: The response of each row.
        units: Precomputed ``count_units`` of both, to save a tokenisation.
    """
    instructions, responses = as_strings(instructions), as_strings(responses)
    instruction_units, response_units = units or (count_units(instructions), count_units(responses))
    result = np.full(len(responses), np.nan)
    candidates = np.nonzero(
        (response_units >= 3)
        & (response_units >= 0.5 * instruction_units)
        & (response_units <= 2 * instruction_units + 10)
        & ~_match(instructions, _ASKS_TO_REPEAT)
    )[0]
    if len(candidates) == 0:
        return result
    chosen = pa.array(candidates)
    for row, instruction, response in zip(
        candidates, instructions.take(chosen).to_pylist(), responses.take(chosen).to_pylist()
    ):
        source, answer = _overlap_tokens(instruction), _overlap_tokens(response)
        source_grams = set(pairwise(source))
        answer_grams = set(pairwise(answer))
        if answer_grams and source_grams:
            shared = len(answer_grams & source_grams)
            result[row] = min(shared / len(answer_grams), shared / len(source_grams))
    return result
