"""Chinese references to sent photos and attachments; classification requests with nothing to classify."""

from __future__ import annotations

import pytest
from sftforge.operators.quality.rules import unseen_inputs


@pytest.mark.parametrize(
    "instruction, evidence",
    [
        ("根据我发的照片，帮我看看这是什么植物。", "发的照片"),
        ("看看我上传的图，这道菜叫什么名字？", "传的图"),
        ("附件里的合同有没有问题？", "附件里"),
        ("请看附件，帮我总结一下要点。", "看附件"),
        ("帮我看下这张图里的字写的是什么。", "这张图"),
        ("参考我发给你的表格，算一下总销售额。", "发给你的表格"),
    ],
)
def test_chinese_attachments_and_photos(instruction, evidence):
    flags, found = unseen_inputs([instruction], [""])
    assert flags[0] and found[0] == evidence


@pytest.mark.parametrize(
    "instruction",
    [
        "Classify the sentiment of the tweet.",
        "Categorize these products by price range.",
        "Determine whether the review is positive or negative.",
        "判断这句话的情感是积极还是消极。",
        "请判断这条评论是好评还是差评。",
        "将下列词语按词性分类。",
    ],
)
def test_classification_without_input(instruction):
    flags, evidence = unseen_inputs([instruction], [""])
    assert flags[0]
    assert evidence[0] is not None


@pytest.mark.parametrize(
    "instruction, input_",
    [
        ("Classify the sentiment of the tweet.", "Just got my first paycheck, so happy!"),
        ("判断这句话的情感是积极还是消极。", "今天的面试又没通过，心情很差。"),
        ("将下列词语按词性分类：奔跑、美丽、桌子、快乐、唱歌。", ""),
        ("Classify whales as mammals or fish.", ""),
        ("如何在邮件中添加附件？", ""),
        ("怎样拍出好看的夕阳照片？", ""),
        ("同样是四个角，凳子跟桌子该怎么区分？", ""),
        ("为什么钟表上面不刻24个数字 这样就能分辨出是白天还是晚上了。", ""),
    ],
)
def test_self_contained_prompts_are_not_unseen_input(instruction, input_):
    flags, _ = unseen_inputs([instruction], [input_])
    assert not flags[0]
