"""QA from passages: prompts with a JSON schema, and validation of open and multiple-choice questions."""

from __future__ import annotations

import jsonschema
import pytest
from sftforge.operators.augment import filters
from sftforge.operators.augment import qa_generation as qa

PASSAGE_EN = ("The Danube is Europe's second-longest river. It rises in the Black Forest in Germany and flows "
              "about 2,850 kilometres to the Black Sea, passing through ten countries and four capital cities.")
PASSAGE_ZH = "长江是中国最长的河流，全长约六千三百公里，发源于青藏高原，最后在上海附近流入东海。"
OPEN = qa.QAGenerationConfig(questions_per_passage=2, min_words=5, min_chars=10)
CHOICE = qa.QAGenerationConfig(question_type="multiple_choice", questions_per_passage=2, min_words=5, min_chars=10)


@pytest.mark.parametrize(("config", "family"), [(OPEN, "open"), (CHOICE, "multiple_choice")])
@pytest.mark.parametrize(("language", "passage"), [("en", PASSAGE_EN), ("zh", PASSAGE_ZH)])
def test_prompt_carries_the_schema(config, family, language, passage):
    request = qa.qa_request("q", passage, language, config)
    assert request.template.name == f"qa_generation.{family}.{language}"
    assert request.template.schema is not None
    content = request.template.render(request.variables)[0]["content"]
    assert passage in content and "2" in content and '"questions"' in content
    # The schema is itself valid and strict-mode shaped (every property required, no extras).
    jsonschema.Draft202012Validator.check_schema(request.template.schema)


def test_multiple_choice_schema_rejects_a_missing_option_and_a_bad_letter():
    validator = jsonschema.Draft202012Validator(qa.MULTIPLE_CHOICE_SCHEMA)
    good = {"questions": [{"question": "q?", "options": {"A": "1", "B": "2", "C": "3", "D": "4"}, "answer": "B"}]}
    assert not list(validator.iter_errors(good))
    three = {"questions": [{"question": "q?", "options": {"A": "1", "B": "2", "C": "3"}, "answer": "B"}]}
    letter = {"questions": [{"question": "q?", "options": {"A": "1", "B": "2", "C": "3", "D": "4"}, "answer": "E"}]}
    assert list(validator.iter_errors(three)) and list(validator.iter_errors(letter))


def choice(question, options, answer):
    return {"question": question, "options": dict(zip("ABCD", options)), "answer": answer}


def test_multiple_choice_validation_english():
    data = {"questions": [
        choice("Where does the Danube rise?", ["The Alps", "The Black Forest", "The Carpathians", "Vienna"], "B"),
        choice("How long is the Danube?", ["2,850 km", "2,850 km", "1,000 km", "6,300 km"], "A"),
        choice("What does the Danube flow into?", ["Black Sea", "North Sea", "All of the above", "Baltic"], "A"),
        choice("How many capitals does it pass?", ["Two", "", "Four", "Six"], "C"),
        choice("Where does the Danube rise?", ["Alps", "Black Forest", "Jura", "Tatra"], "B"),
        choice("How many countries does it cross?", ["Five", "Ten", "Twelve", "Three"], "B"),
        choice("Which sea is at its mouth?", ["Black", "Red", "White", "Yellow"], "A"),
    ]}
    kept, dropped = qa.validate_questions(data, PASSAGE_EN, "en", CHOICE)
    assert [q.question for q in kept] == ["Where does the Danube rise?", "How many countries does it cross?"]
    assert kept[0].options[1] == "The Black Forest" and kept[0].answer == "B"
    assert [(reason, detail) for _, reason, detail in dropped] == [
        (filters.INVALID_QUESTION, "two options are the same"),
        (filters.INVALID_QUESTION, "an all/none-of-the-above option"),
        (filters.INVALID_QUESTION, "an option is empty"),
        (filters.DUPLICATE, "repeats an earlier question"),
        ("over_limit", "more than 2 questions"),
    ]


def test_multiple_choice_validation_chinese_and_row_fields():
    data = {"questions": [
        choice("长江最后流入哪里？", ["东海", "南海", "黄海", "渤海"], "A"),
        choice("长江发源于哪里？", ["青藏高原", "云贵高原", "以上都对", "黄土高原"], "A"),
        choice("Where does it end?", ["东海", "南海", "黄海", "渤海"], "A"),
    ]}
    kept, dropped = qa.validate_questions(data, PASSAGE_ZH, "zh", CHOICE)
    assert len(kept) == 1 and [d for _, _, d in dropped] == ["an all/none-of-the-above option",
                                                              "question is not in 'zh'"]
    instruction, input_, output = qa.row_fields(kept[0], PASSAGE_ZH)
    assert instruction == "长江最后流入哪里？\nA. 东海\nB. 南海\nC. 黄海\nD. 渤海"
    assert input_ == PASSAGE_ZH and output == "A. 东海"


def test_open_validation_and_answer_support():
    data = {"questions": [
        {"question": "Where does the Danube rise?", "answer": "In the Black Forest in Germany."},
        {"question": "Who painted the Mona Lisa?", "answer": "Leonardo da Vinci painted it."},
        {"question": "How long is it?", "answer": ""},
        {"question": "长江有多长？", "answer": "约六千三百公里"},
    ]}
    kept, dropped = qa.validate_questions(data, PASSAGE_EN, "en", OPEN)
    assert [q.answer for q in kept] == ["In the Black Forest in Germany."]
    assert [d.split(" ")[0] for _, _, d in dropped] == ["answer", "empty", "question"]
    assert qa.row_fields(kept[0], PASSAGE_EN) == ("Where does the Danube rise?", PASSAGE_EN,
                                                  "In the Black Forest in Germany.")
    zh_kept, _ = qa.validate_questions({"questions": [{"question": "长江有多长？", "answer": "约六千三百公里"}]},
                                       PASSAGE_ZH, "zh", OPEN)
    assert len(zh_kept) == 1


def test_reply_without_questions_list_is_invalid():
    kept, dropped = qa.validate_questions({"items": []}, PASSAGE_EN, "en", OPEN)
    assert kept == [] and dropped[0][1] == filters.INVALID_QUESTION


def test_passage_selection():
    assert qa.passage_reason(PASSAGE_EN, OPEN) is None
    assert qa.passage_reason(PASSAGE_ZH, OPEN) is None
    assert qa.passage_reason("Short.", OPEN) == filters.TOO_SHORT
