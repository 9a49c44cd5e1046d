"""Self-Instruct: seed loading, prompt building, reply parsing, filters and instance selection (EN and ZH)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sftforge.operators.augment import filters
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.augment.filters import InstructionFilterConfig
from sftforge.operators.augment.novelty import NoveltyIndex

DEMO_SEEDS = Path(__file__).resolve().parents[3] / "jobs" / "demo" / "seed_tasks.jsonl"


def test_demo_seed_file_has_both_languages_and_both_task_kinds():
    seeds = si.load_seed_tasks(DEMO_SEEDS)
    kinds = {(seed.language, seed.is_classification) for seed in seeds}
    assert kinds == {("en", True), ("en", False), ("zh", True), ("zh", False)}
    assert sum(seed.language == "en" for seed in seeds) >= 12
    assert sum(seed.language == "zh" for seed in seeds) >= 12


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"instances": [{"input": "", "output": "x"}]}), "'instruction'"),
        (json.dumps({"instruction": "Name three fruits.", "instances": []}), "'instances'"),
        (json.dumps({"instruction": "Name three fruits.", "instances": [{"input": ""}]}), "'output'"),
        (json.dumps({"instruction": "Nenne drei Früchte, die im Sommer reif werden und süß schmecken.",
                     "instances": [{"input": "", "output": "x"}]}), "neither English nor Chinese"),
    ],
)
def test_bad_seed_files_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "seeds.jsonl"
    path.write_text(json.dumps({"instruction": "Name three fruits.", "instances": [{"input": "", "output": "a"}]})
                    + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(si.SeedError, match=message) as error:
        si.load_seed_tasks(path)
    assert f"{path}:2" in str(error.value)


def test_prompt_shows_six_seeds_and_two_machine_tasks_once_there_are_some():
    rng = random.Random(0)
    seeds = [f"seed {i}" for i in range(20)]
    assert len(si.sample_prompt_tasks(rng, seeds, [], 6, 2)) == 8
    assert all(task.startswith("seed") for task in si.sample_prompt_tasks(rng, seeds, [], 6, 2))
    tasks = si.sample_prompt_tasks(rng, seeds, ["machine a", "machine b", "machine c"], 6, 2)
    assert sum(task.startswith("machine") for task in tasks) == 2
    assert sum(task.startswith("seed") for task in tasks) == 6
    assert len(si.sample_prompt_tasks(rng, seeds, ["machine a"], 6, 2)) == 8


@pytest.mark.parametrize("language", ["en", "zh"])
def test_generation_prompt_lists_tasks_and_asks_to_continue(language):
    tasks = [f"Task text {i}\nwith a second line" for i in range(8)]
    request = si.generation_request("r", tasks, language, 8, sample=3, temperature=0.7)
    content = request.template.render(request.variables)[-1]["content"]
    word = "Task" if language == "en" else "任务"
    colon = ": " if language == "en" else "："
    for number in range(1, 9):
        assert f"{word} {number}{colon}Task text {number - 1} with a second line" in content
    assert "9" in content and "16" in content
    assert request.template.name == f"self_instruct.generate.{language}"
    assert request.sample == 3 and request.temperature == 0.7


def test_parse_generated_instructions_english_variants():
    reply = (
        "Sure! Here are more tasks:\n"
        "Task 8: Repeat of the last shown task.\n"
        "Task 9: Explain how tides work.\n"
        "**Task 10:** Give a synonym for 'happy'.\n"
        "11. Translate the sentence into French\n   and keep the tone.\n"
        "12) Suggest a name for a cat.\n"
        "Task 13:\n"
    )
    assert si.parse_generated_instructions(reply, ["Repeat of the last shown task."]) == [
        "Explain how tides work.",
        "Give a synonym for 'happy'.",
        "Translate the sentence into French and keep the tone.",
        "Suggest a name for a cat.",
    ]


def test_parse_generated_instructions_chinese_variants():
    reply = "任务 9：解释潮汐是怎么形成的。\n任务10：给“快乐”找一个近义词。\n11、为一只猫起个名字。\n12. “写一句关于春天的话。”"
    assert si.parse_generated_instructions(reply, ["写一句关于秋天的话。"]) == [
        "解释潮汐是怎么形成的。",
        "给“快乐”找一个近义词。",
        "为一只猫起个名字。",
        "写一句关于春天的话。",
    ]


def test_parse_generated_instructions_restarted_numbering_and_truncation():
    shown = ["Name three fruits.", "Explain gravity."]
    reply = "1. Name three fruits.\n2. Describe a sunset in two sentences.\n3. Write a haiku about the se"
    assert si.parse_generated_instructions(reply, shown) == [
        "Describe a sunset in two sentences.", "Write a haiku about the se",
    ]
    assert si.parse_generated_instructions(reply, shown, truncated=True) == ["Describe a sunset in two sentences."]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("Yes", True), ("yes, it is.", True), ("No.", False), ("Classification: No", False), ("是", True),
     ("否", False), ("不是分类任务", False), ("maybe", None), ("", None), ("Nonsense", None)],
)
def test_parse_is_classification(reply, expected):
    assert si.parse_is_classification(reply) is expected


@pytest.mark.parametrize("language", ["en", "zh"])
def test_classification_prompt_uses_labelled_seed_examples(language):
    seeds = [seed for seed in si.load_seed_tasks(DEMO_SEEDS) if seed.language == language]
    examples = si.render_classification_examples(seeds, language, 4)
    yes, no = ("Yes", "No") if language == "en" else ("是", "否")
    assert examples.count(f": {yes}\n" if language == "en" else f"：{yes}\n") == 2
    assert examples.count(f": {no}\n" if language == "en" else f"：{no}\n") == 2
    request = si.classification_request("c", "Is this spam?", language, examples)
    rendered = request.template.render(request.variables)[-1]["content"]
    assert rendered.endswith("Classification:" if language == "en" else "分类任务：")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_instance_prompt_is_output_first_for_classification(language):
    seeds = [seed for seed in si.load_seed_tasks(DEMO_SEEDS) if seed.language == language]
    for classification, family in ((True, "output_first"), (False, "input_first")):
        examples = si.render_instance_examples(seeds, language, classification, 2)
        request = si.instances_request("i", "Decide X.", language, classification, 3, examples)
        assert request.template.name == f"self_instruct.instances_{family}.{language}"
        content = request.template.render(request.variables)[-1]["content"]
        label = ("Class label:" if language == "en" else "类别标签：")
        assert (label in examples) == classification
        assert content.rstrip().endswith("Decide X.")


def test_parse_instances_input_first_english():
    reply = (
        "Example 1\nInput: 25 °C\nOutput: 77 °F\n\n"
        "Example 2\nInput: <none>\nOutput: Water boils at 100 °C.\n\n"
        "Example 3\nInput: 0 °C\nOutput:\n"
    )
    assert si.parse_instances(reply, classification=False) == [
        si.Instance("25 °C", "77 °F"),
        si.Instance("", "Water boils at 100 °C."),
    ]


def test_a_truncated_instance_reply_keeps_its_complete_records():
    reply = "Example 1\nInput: 1+1\nOutput: 2\n\nExample 2\nInput: 2+2\nOutput: 4\n\nExample 3\nInput: 3+"
    assert si.parse_instances(reply, classification=False, truncated=True) == [
        si.Instance("1+1", "2"), si.Instance("2+2", "4"),
    ]
    assert si.parse_instances("An answer that was cut", classification=False, truncated=True) == []


def test_parse_instances_output_first_chinese():
    reply = "类别标签：积极\n输入：这家店的面条太好吃了。\n类别标签：消极\n输入：排队一个小时，面还是坨的。\n类别标签：中性\n"
    assert si.parse_instances(reply, classification=True) == [
        si.Instance("这家店的面条太好吃了。", "积极"),
        si.Instance("排队一个小时，面还是坨的。", "消极"),
        si.Instance("", "中性"),
    ]


def test_an_unformatted_answer_is_one_instance_without_input():
    assert si.parse_instances("Sandwiches, fruit and water.", classification=False) == [
        si.Instance("", "Sandwiches, fruit and water.")
    ]
    assert si.parse_instances("Positive.", classification=True) == []
    kept, dropped = si.select_instances("Convert 25 C to Fahrenheit.",
                                        [si.Instance("", "Task: Convert 25 C to Fahrenheit.")], limit=3)
    assert kept == [] and dropped[0][1] == "output_copies_input"


def test_parse_instances_multiline_values():
    reply = "输入：第一行\n第二行\n输出：结果一\n结果二"
    assert si.parse_instances(reply, classification=False) == [si.Instance("第一行\n第二行", "结果一\n结果二")]


def test_select_instances_applies_the_papers_filters():
    instances = [
        si.Instance("2+2", "4"),
        si.Instance("2+2", "4"),  # duplicate
        si.Instance("same", "same"),  # output copies input
        si.Instance("x", "1"),
        si.Instance("x", "2"),  # same input, different outputs: both go
        si.Instance("", "Add numbers."),  # repeats the instruction
        si.Instance("3+3", "6"),
        si.Instance("4+4", "8"),
    ]
    kept, dropped = si.select_instances("Add numbers.", instances, limit=2)
    assert kept == [si.Instance("2+2", "4"), si.Instance("3+3", "6")]
    assert [reason for _, reason in dropped] == [
        filters.DUPLICATE, "output_copies_input", "conflicting_outputs", "conflicting_outputs",
        "output_copies_input", "over_limit",
    ]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_candidate_filter_rejects_near_copies_and_grows_the_pool(language):
    index = NoveltyIndex(0.7)
    if language == "en":
        index.add("Give three tips for staying healthy in winter.")
        near, new, bad = ("Give three tips for staying healthy during winter.",
                          "Explain the difference between weather and climate.",
                          "Describe the picture in detail please.")
    else:
        index.add("给出三条冬天保持健康的建议。")
        near, new, bad = "给出三条冬季保持健康的建议。", "解释天气和气候有什么区别。", "请描述这张图片中的人物。"
    config = InstructionFilterConfig()
    reason, detail = si.candidate_reason(near, language, config, index)
    assert reason == filters.TOO_SIMILAR and "rouge_l=" in detail
    assert si.candidate_reason(bad, language, config, index) == (filters.UNSUPPORTED_TASK, None)
    assert si.candidate_reason(new, language, config, index) == (None, None)
    assert len(index) == 2
    assert si.candidate_reason(new, language, config, index)[0] == filters.TOO_SIMILAR


def test_candidate_reasons_decide_a_round_as_candidate_reason_does_one_by_one():
    config = InstructionFilterConfig()
    seed = "Give three tips for staying healthy in winter."
    round_ = [
        "Give three tips for staying healthy during winter.",  # near copy of the pool
        "Explain the difference between weather and climate.",
        "Describe the picture in detail please.",  # unsupported task
        "Explain the difference between weather and the climate.",  # near copy of an earlier candidate
        "List four countries that border Germany.",
    ]
    one_by_one, batched = NoveltyIndex(0.7), NoveltyIndex(0.7)
    one_by_one.add(seed)
    batched.add(seed)
    expected = [si.candidate_reason(candidate, "en", config, one_by_one) for candidate in round_]
    assert si.candidate_reasons(round_, "en", config, batched) == expected
    assert [reason for reason, _ in expected] == [
        filters.TOO_SIMILAR, None, filters.UNSUPPORTED_TASK, filters.TOO_SIMILAR, None,
    ]
    assert len(batched) == len(one_by_one) == 3


def test_config_rejects_unknown_template_override(tmp_path):
    with pytest.raises(ValueError, match="unknown template"):
        si.SelfInstructConfig(seed_tasks=str(DEMO_SEEDS), templates={"nope": {"version": "2", "messages": [["user", "x"]]}})
