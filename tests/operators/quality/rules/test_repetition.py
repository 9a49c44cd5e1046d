"""One word or phrase repeated back to back, in English and Chinese; parallel sentences are not."""

from __future__ import annotations

from sftforge.operators.quality.rules import repeated_runs, repetition_requested, tokenize


def test_a_word_repeated_twenty_times_counts_twenty():
    texts = ["The ocean is " + "very " * 20 + "big.", "好" * 20, "大海非常" + "非常" * 20 + "大。", "哈哈" * 20]
    runs, evidence = repeated_runs(tokenize(texts))
    assert runs.tolist() == [20, 20, 21, 40]  # 哈哈 x20 is 哈 x40
    assert evidence[0] == "very x20"
    assert evidence[1] == "好 x20"


def test_a_looping_list_is_one_unit_repeated():
    runs, evidence = repeated_runs(tokenize([" ".join(["China, US, Brazil, Japan, Canada, Australia."] * 8)]))
    assert runs[0] == 8
    assert evidence[0].startswith("china, us, brazil")


def test_parallel_sentences_and_refrains_are_not_runs():
    texts = [
        "“男同”是“男性同性恋”的简称，指男性对男性产生情感和性吸引的性取向；“女同”是“女性同性恋”的简称，指女性对女性产生情感和性吸引的性取向。",
        "Make a little space\nMake a better place\nHeal the world\nMake it a better place",
        "",
    ]
    runs, evidence = repeated_runs(tokenize(texts))
    assert runs.tolist() == [1, 1, 0]
    assert evidence[2] is None


def test_songs_and_chants_are_asked_to_repeat():
    assert repetition_requested(["Complete the lyrics.", "写一段儿歌。", "Explain gravity."]).tolist() == [True, True, False]
