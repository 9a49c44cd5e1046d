"""Instruction back-translation (Humpback): document selection, self-augment prompt, parsing, checks."""

from __future__ import annotations

import pytest
from sftforge.operators.augment import filters
from sftforge.operators.augment import instruction_backtranslation as ib

CONFIG = ib.InstructionBacktranslationConfig(min_words=5, min_chars=10)
DOC_EN = ("Community gardens turn empty city lots into shared plots where neighbours grow vegetables, "
          "meet each other and teach children where food comes from.")
DOC_ZH = "社区花园把城市里的空地变成共享菜园，邻居们在这里种菜、交流，孩子们也能了解食物从哪里来。"


def test_document_selection():
    assert ib.document_reason(DOC_EN, CONFIG) is None
    assert ib.document_reason(DOC_ZH, CONFIG) is None
    assert ib.document_reason("Too short.", CONFIG) == filters.TOO_SHORT
    assert ib.document_reason("短文。", CONFIG) == filters.TOO_SHORT
    assert ib.document_reason("Ein Gemeinschaftsgarten verwandelt leere Grundstücke in Beete für alle.",
                              CONFIG) == "unsupported_language"


@pytest.mark.parametrize(("language", "doc", "labels"), [("en", DOC_EN, ("Response:", "Instruction:")),
                                                         ("zh", DOC_ZH, ("回答：", "指令："))])
def test_self_augment_prompt_shows_seed_pairs_then_the_document(language, doc, labels):
    examples = ib.render_examples([("Name a fruit.", "Apple." * 300)], language, limit_chars=50)
    assert examples.count(labels[0]) == 1 and labels[1] in examples and "…" in examples
    request = ib.self_augment_request("x", doc, language, examples)
    content = request.template.render(request.variables)[0]["content"]
    assert request.template.name == f"instruction_backtranslation.self_augment.{language}"
    assert content.index("Name a fruit.") < content.index(doc)
    assert content.rstrip().endswith(labels[1])


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Instruction: Explain what community gardens do.", "Explain what community gardens do."),
        ("Explain what community gardens do.\nResponse:\nCommunity gardens ...", "Explain what community gardens do."),
        ("指令：说明社区花园有什么作用。", "说明社区花园有什么作用。"),
        ("说明社区花园有什么作用。\n回答：社区花园……", "说明社区花园有什么作用。"),
    ],
)
def test_parse_instruction(reply, expected):
    assert ib.parse_instruction(reply) == expected


def test_instruction_checks():
    assert ib.instruction_reason("Explain what community gardens do for a city.", DOC_EN, "en", CONFIG) == (None, None)
    assert ib.instruction_reason("说明社区花园对城市有什么作用。", DOC_ZH, "zh", CONFIG) == (None, None)
    assert ib.instruction_reason("", DOC_EN, "en", CONFIG)[0] == filters.UNPARSEABLE
    assert ib.instruction_reason("Why?", DOC_EN, "en", CONFIG)[0] == filters.TOO_SHORT
    assert ib.instruction_reason("说明社区花园的作用。", DOC_EN, "en", CONFIG)[0] == filters.WRONG_LANGUAGE
    copied = "Community gardens turn empty city lots into shared plots"
    assert ib.instruction_reason(copied, DOC_EN, "en", CONFIG)[0] == filters.COPIED_SOURCE
    assert ib.instruction_reason("社区花园把城市里的空地变成共享菜园", DOC_ZH, "zh", CONFIG)[0] == filters.COPIED_SOURCE
