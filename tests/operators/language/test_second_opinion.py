"""CLD2 and lingua as second opinions, asked directly."""

from sftforge.operators.language.second_opinion import Cld2, Lingua

from tests.operators.language.helpers import ENGLISH, GERMAN


def test_cld2_answers_in_our_codes_or_not_at_all():
    cld2 = Cld2()
    code, score = cld2.detect(GERMAN)
    assert code == "de" and 0.0 < score <= 1.0
    assert cld2.detect("12345 !!!") is None


def test_lingua_chooses_among_the_candidates_it_knows():
    lingua = Lingua("low")
    assert lingua.decide(ENGLISH, {"en", "de"})[0] == "en"
    assert lingua.decide(GERMAN, {"en", "de"})[0] == "de"
    assert lingua.known("zh") == ["zh"]
    # A language lingua does not know: no closed-world guess.
    assert lingua.decide(ENGLISH, {"en", "xx"}) is None
