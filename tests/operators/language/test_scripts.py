"""Scripts that settle a language for free."""

from __future__ import annotations

from sftforge.operators.language.scripts import language_by_script


def test_scripts_settle_kana_hangul_and_han():
    assert language_by_script("東京に行きます")[0] == "ja"
    assert language_by_script("서울대학교")[0] == "ko"
    assert language_by_script("中国人民银行")[0] == "zh"
    assert language_by_script("粵語", suggested="yue")[0] == "yue"
    assert language_by_script("Привет") is None  # Cyrillic is shared: the models decide
