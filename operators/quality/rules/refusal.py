"""Refusals and non-answers, English and Chinese."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
from sftforge.operators.quality.rules.arrow import _evidence, _match, _numpy, as_strings

_APOS = "['’]"
_ASSIST_VERBS_EN = (
    r"(?:help|assist|provide|fulfill|fulfil|comply|answer|complete|generate|create|write|give|share|browse|"
    r"access|perform|engage|support|offer|discuss|respond|process|view|see|open|draw|display|play|"
    r"predict|do that|do this|make|tell|recommend|express|endorse|condone|promote)"
)
_INABLE_EN = (
    rf"(?:cannot|can ?not|can{_APOS}t|am unable to|am not able to|{_APOS}m unable to|{_APOS}m not able to|"
    rf"won{_APOS}t|will not|must decline to|do not have the ability to|don{_APOS}t have the ability to|"
    rf"am not (?:allowed|permitted|programmed) to)"
)
# Who the model is ("as an AI language model", "I'm an AI assistant") is not itself a refusal: only the
# declining that may follow it is.
_IDENTITY_EN = (
    r"(?:as an? (?:ai|a\.i\.|artificial intelligence|(?:large )?language model)[^,.!?\n]{0,40}"
    rf"|i(?: am|{_APOS}m) (?:just |only |merely )?an? (?:ai|artificial intelligence)[^,.!?\n]{{0,40}})"
)
_REFUSAL_EN = (
    rf"\b{_IDENTITY_EN}(?:,|,? and|,? so)?\s*(?:i\s+)?(?:really )?{_INABLE_EN} \w+"
    rf"|\b{_IDENTITY_EN},\s*i (?:do not|don{_APOS}t) have (?:access to|the ability to)\b"
    rf"|^[\s\"'“]*(?:{_IDENTITY_EN},\s*)?i (?:do not|don{_APOS}t) have (?:personal )?(?:opinions|feelings|"
    r"beliefs|preferences|emotions)[^\n.!?,;]{0,40}[.!?]?\s*$"
    rf"|\bi (?:do not|don{_APOS}t) have (?:the ability|access) to (?:browse|access|view|see|real-time|the "
    r"internet|current)"
    rf"|\bi (?:cannot|can{_APOS}t|am unable to|am not able to) (?:browse|access) the (?:internet|web)\b"
    rf"|\b(?:i{_APOS}m|i am) (?:sorry|afraid),? but (?:i|as an ai[^.]{{0,30}})(?: really)? (?:cannot|can ?not|"
    rf"can{_APOS}t|am unable to|am not able to|won{_APOS}t|will not|must decline to) {_ASSIST_VERBS_EN}\b"
    rf"|\bi (?:cannot|can{_APOS}t|won{_APOS}t|will not|am unable to) (?:fulfill|fulfil|comply with|assist "
    r"with|help with) (?:this|that|your|such)"
    rf"|^[\s\"'“]*(?:(?:i{_APOS}m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately|my apologies|"
    rf"i{_APOS}m afraid|i am afraid)[,.!]?\s*(?:but\s*)?)?(?:as an? [^,.]{{1,40}},\s*)?i(?: really)? "
    rf"{_INABLE_EN} {_ASSIST_VERBS_EN}\b"
)
_ASSIST_VERBS_ZH = (
    "(?:为你|为您|帮你|帮您|给你|给您|回答|提供|完成|满足|执行|处理|协助|帮助|访问|查看|浏览|生成|创作|写|画|"
    "绘制|打开|播放|预测|给出|透露|分享|讨论|判断|确定|获取|做到|这样做|参与此|支持)"
)
# "不会" is left out: "我是一个AI助手，不会做梦" describes the model, it declines nothing.
_INABLE_ZH = "(?:目前|暂时|并|恐怕|还)?(?:无法|不能|没有办法|没办法|不可以|没有能力)"
_IDENTITY_ZH = (
    "(?:作为(?:一个|一名|一款)?(?:AI|ai|Ai|人工智能|(?:大型)?语言模型)[^，,。！？\\n]{0,12}"
    "|我(?:只)?是(?:一个|一款|一名)?(?:AI|ai|Ai|人工智能)[^，,。！？\\n]{0,12})"
)
_REFUSAL_ZH = (
    f"{_IDENTITY_ZH}[，,]?\\s*我?{_INABLE_ZH}"
    f"|^[\\s“\"]*(?:{_IDENTITY_ZH}[，,]\\s*)?我(?:并)?没有(?:个人)?(?:的)?(?:观点|看法|意见|喜好|偏好|感情|情感|感受)"
    "[^\\n。！？，,；]{0,20}[。！？]?\\s*$"
    "|(?:很|非常|十分)?(?:抱歉|对不起)[，,！!。]?\\s*(?:但是?|不过)?[，,]?\\s*我(?:目前|暂时|并|恐怕)?"
    f"(?:无法|不能|没有办法|没办法|不可以){_ASSIST_VERBS_ZH}"
    "|无法(?:回答|满足)(?:你|您)的?(?:这个|该|此|这类)?(?:问题|请求|要求)"
    "|我不能(?:回答|提供)(?:这个|该|此|这类|这方面)"
    "|^[\\s“\"]*我(?:目前|暂时|并|恐怕)?(?:无法|不能|没有办法|没办法|不可以)" + _ASSIST_VERBS_ZH
)
REFUSAL_PATTERN = f"{_REFUSAL_EN}|{_REFUSAL_ZH}"


def refusals(responses) -> tuple[np.ndarray, list[str | None]]:
    """Responses that decline the task (English and Chinese), with the phrase that matched.

    Inability phrases ("I can't", "我无法") count only with a verb of assisting, so a declining email
    written on request ("I'm sorry, but I can't attend") is not a refusal. Saying what the model is
    ("作为人工智能助手，我没有实体身体，……", "As an AI, ...") is not a refusal either, unless what follows
    declines: "As an AI language model, I cannot help with that", or a whole answer that is only "I don't
    have personal opinions".
    """
    values = as_strings(responses)
    flags = _match(values, REFUSAL_PATTERN)
    return flags, _evidence(values, REFUSAL_PATTERN, flags)


_NON_ANSWER = (
    rf"^[\s\pP]*(?:n/a|i (?:don{_APOS}t|do not) know|idk|no idea|not sure|i(?:{_APOS}m| am) not sure|"
    "no answer|no comment|h+m+|u+m+|u+h+|meh|(?:我)?(?:也)?不知道|(?:我)?不清楚|不确定|无可奉告|暂无(?:答案)?|没有答案|"
    # One interjection or filler character (嗯, 哦, 略) answers nothing, whatever the question.
    "无法回答|[嗯哦噢喔啊呃额哈呵嘿唉诶欸哼呀吧么了略无空好]{1,2}"
    r")[\s\pP]*$"
)
_DONT_KNOW_PREFIX = (
    rf"^[\s\pP]*(?:(?:sorry,? )?i (?:don{_APOS}t|do not|really don{_APOS}t) know|(?:抱歉，?)?我(?:也)?不知道)"
)


def non_answers(responses, max_prefix_chars: int = 60) -> tuple[np.ndarray, list[str | None]]:
    """Responses that are "N/A", "I don't know", 不知道, 嗯 (whole), or short ones starting with "I don't know".

    A one-character Chinese answer is a non-answer when the character is an interjection or a filler
    (嗯, 哦, 啊, 略, 好); one that can answer a closed question (是, 对, 甲, 三) is left to the length rule.
    """
    values = as_strings(responses)
    whole = _match(values, _NON_ANSWER)
    short = _numpy(pc.utf8_length(values)) < max_prefix_chars
    prefixed = short & _match(values, _DONT_KNOW_PREFIX)
    flags = whole | prefixed
    evidence = _evidence(values, _NON_ANSWER, whole)
    for row, text in enumerate(_evidence(values, _DONT_KNOW_PREFIX, prefixed & ~whole)):
        if text is not None:
            evidence[row] = text
    return flags, evidence
