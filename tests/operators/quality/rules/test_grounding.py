"""A letter's name slots are expected; other placeholders are not."""

from __future__ import annotations

from sftforge.operators.quality.rules import placeholders


def test_letter_with_name_slots_is_fine():
    # Issue 18's false positive (a Self-Instruct seed task's answer, shortened).
    flags, _ = placeholders(
        ["Turn down a job offer by sending an email to a recruiter explaining the reason.", "帮我写一封请假信。"],
        ["Reason: You decided to accept a different offer.", ""],
        ["Hi [Recruiter],\nThank you so much for the generous offer.\n\nThanks again,\n[Your Name]",
         "尊敬的王经理：\n\n我因病需请假一天，望批准。\n\n此致\n敬礼\n[你的名字]\n[日期]"],
    )
    assert flags.tolist() == [False, False]


def test_other_placeholders_in_a_letter_and_name_slots_elsewhere_count():
    flags, evidence = placeholders(
        ["Write a cover letter.", "Explain photosynthesis.", "介绍一下长城。"],
        ["", "", ""],
        ["Dear [Hiring Manager],\n[Insert a project you led here]\nSincerely, [Your Name]",
         "Plants turn light into sugar.\n\nBest regards,\n[Your Name]",
         "长城是中国古代的军事防御工程。\n\n如需进一步咨询，请联系[在此填写联系方式]。"],
    )
    assert flags.tolist() == [True, True, True]
    assert evidence == ["[Insert a project you led here]", "[Your Name]", "[在此填写联系方式]"]


def test_a_letter_whose_substance_is_left_blank_is_a_placeholder():
    flags, evidence = placeholders(
        ["Write a cover letter for a job application."], [""],
        ["Dear [Hiring Manager],\n\nI am writing to apply for the position of [Job Title] at [Company Name]. "
         "Sincerely, [Your Name]"],
    )
    assert flags.tolist() == [True]
    assert evidence == ["[Job Title]"]
