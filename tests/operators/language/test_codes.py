"""Label formats and language codes."""

from __future__ import annotations

import pytest
from sftforge.operators.language.codes import admitted, canonical, is_admitted, label_to_code


def test_lid176_labels_are_wikipedia_codes():
    assert label_to_code("__label__en") == "en"
    assert label_to_code("__label__no") == "nb"  # the Bokmål Wikipedia
    assert label_to_code("__label__als") == "gsw"  # Alemannic there, Tosk Albanian in ISO 639-3
    assert label_to_code("__label__sh") == "sh"


def test_glotlid_labels_are_iso639_3_with_a_script():
    assert label_to_code("__label__eng_Latn") == "en"
    assert label_to_code("__label__cmn_Hani") == "zh"
    assert label_to_code("__label__zho_Hans") == "zh"
    assert label_to_code("__label__nob_Latn") == "nb"
    assert label_to_code("__label__als_Latn") == "sq"
    assert label_to_code("__label__yue_Hant") == "yue"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("eng", "en"),
        ("ZHO", "zh"),
        ("cmn", "zh"),
        ("zsm", "ms"),
        ("pes", "fa"),
        ("swh", "sw"),
        ("ekk", "et"),
        ("nob", "nb"),
        ("nno", "nn"),
        ("ger", "de"),
        ("fil", "tl"),
        ("haw", "haw"),
        ("deu_Latn", "de"),
    ],
)
def test_iso639_1_and_639_3_name_the_same_language(code, expected):
    assert canonical(code) == expected


def test_macrolanguages_admit_their_members_and_not_the_reverse():
    assert is_admitted("yue", admitted(["zh"]))
    assert is_admitted("nn", admitted(["no"])) and is_admitted("nb", admitted(["no"]))
    assert not is_admitted("nn", admitted(["nb"]))
    assert not is_admitted("id", admitted(["ms"]))
    assert is_admitted("sh", admitted(["hr"]))  # a family prediction when the model cannot say more
    assert not is_admitted("zh", admitted(["yue"]))
