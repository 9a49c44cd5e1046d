"""Truncation judged by how the text really ends: cut sentences, dangling "is", lists of phrases."""

from __future__ import annotations

import numpy as np
import pytest
from sftforge.operators.quality.rules import truncations


def _truncated(text: str, cjk: bool) -> tuple[bool, str | None]:
    flags, evidence = truncations([text], np.array([cjk]))
    return bool(flags[0]), evidence[0]


@pytest.mark.parametrize(
    "text",
    [
        # Issue 18's false positive: the last line is a list separated by 、.
        "“屡试不爽”是一个汉语成语。\n\n**近义词：** 百发百中、万无一失、十拿九稳、稳操胜券\n**反义词：** 屡试屡败、屡战屡败、一败涂地",
        "常见的绿叶蔬菜有：菠菜、油麦菜、生菜、小白菜、空心菜",
        "比喻做了多余的事，反而不恰当。\n出处：《战国策·齐策二》\n近义词：多此一举、弄巧成拙",
        # A list whose items are written without full stops ends without one.
        "如果电脑真的在冒烟，请立即：\n1. 拔掉电源插头\n2. 检查是否有烧焦味、异常发热\n3. 联系专业维修人员或送修，切勿继续使用",
    ],
)
def test_chinese_lists_are_not_truncated(text):
    assert _truncated(text, cjk=True) == (False, None)


@pytest.mark.parametrize(
    "text",
    [
        "There once was a cat named Lenore\nwho forgot what her whiskers were for\nand fell fast asleep on the floor",
        "الجميلون لم يولدوا بعد. This is standard Arabic",
    ],
)
def test_poems_and_short_unpunctuated_endings_are_not_truncated(text):
    assert _truncated(text, cjk=False) == (False, None)


@pytest.mark.parametrize(
    "text, evidence",
    [
        ("Near its source a river is narrow and fast. Further down it slows and meanders across a broad plain. "
         "Close to the sea it drops its mud and sand, building a delta where it", "ends mid-sentence"),
        ("By the third century the empire was too large for one ruler. After Theodosius died in 395 his two sons "
         "each took one half, a division that was", 'ends with "was"'),
        ("To multiply 17 by 23, compute 17 x 20 = 340 and 17 x 3 = 51. Adding them together, the answer is",
         'ends with "is"'),
        ("15% of 240 is", 'ends with "is"'),
    ],
)
def test_long_english_answers_cut_mid_sentence(text, evidence):
    assert _truncated(text, cjk=False) == (True, evidence)


@pytest.mark.parametrize(
    "text, evidence",
    [
        ("李白是唐代伟大的浪漫主义诗人。代表作有《将进酒》、《静夜思》、", 'ends with "、"'),
        ("区块链是一种由多方共同维护、按时间顺序把数据块连接起来、难", "ends mid-sentence"),
        ("阿房宫的土地和劳工都属皇权支配范围，不存在民间产权和补偿机制。\n\n因此，这个问", "ends mid-sentence"),
        ("1. **认知资源有限**：人的注意力有限。\n2. **习惯化**：许多日常行为经过重复变成自动化程序，不需要",
         "ends mid-sentence"),
        ("125乘以8的结果是", 'ends with "结果是"'),
        ("正方形的面积等于边长乘以边长，所以面积等于", 'ends with "等于"'),
    ],
)
def test_chinese_answers_cut_mid_clause(text, evidence):
    assert _truncated(text, cjk=True) == (True, evidence)
