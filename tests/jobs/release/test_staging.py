from __future__ import annotations

import os

import pytest
from sftforge.jobs.release.staging import (
    exchange_paths,
    lock_is_held,
    remove_stale_staging,
    take_staging_lock,
)


def test_a_release_moved_aside_by_an_interrupted_publish_is_restored(tmp_path):
    root = tmp_path / "out"
    aside = root / f".replaced-r1-{'0' * 32}"
    aside.mkdir(parents=True)
    (aside / "_SUCCESS").write_bytes(b"")
    remove_stale_staging(root)
    assert (root / "r1" / "_SUCCESS").exists() and not aside.exists()

    aside.mkdir()
    remove_stale_staging(root)
    assert not aside.exists() and (root / "r1" / "_SUCCESS").exists()


def test_exchange_swaps_two_folders_or_says_it_cannot(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    (first / "a").write_text("first")
    (second / "b").write_text("second")
    if not exchange_paths(first, second):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this filesystem")
    assert (first / "b").read_text() == "second"
    assert (second / "a").read_text() == "first"
    with pytest.raises(OSError):
        exchange_paths(first, tmp_path / "missing")


def test_a_lock_is_held_until_its_owner_lets_go(tmp_path):
    token, path, fd = take_staging_lock(tmp_path, "r1")
    assert token.startswith("r1-") and path.exists()
    assert lock_is_held(path)
    os.close(fd)
    assert not lock_is_held(path)
    assert not lock_is_held(tmp_path / "never-created.lock")
