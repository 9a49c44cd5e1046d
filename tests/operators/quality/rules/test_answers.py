"""Closed tasks: a prompt that asks for 是 or 否 may get one character back."""

from __future__ import annotations

from sftforge.operators.quality.rules import closed_tasks


def test_yes_no_prompts_in_chinese_are_closed():
    assert closed_tasks(["鲸鱼是哺乳动物吗？只回答“是”或“否”。", "用一个字回答：天空是什么颜色？",
                         "写一篇关于环保的短文。"]).tolist() == [True, True, False]
