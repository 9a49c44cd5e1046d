"""Starting Ray quietly: what native code writes during start-up is held, and shown only on failure."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import pytest
from sftforge.jobs.ray_start import silence_ray_warnings

SCRIPT = textwrap.dedent("""
    import os, sys
    from sftforge.jobs.ray_start import native_stderr_held
    try:
        with native_stderr_held():
            os.write(2, b"held line\\n")
            if sys.argv[1] == "fail":
                raise RuntimeError("start failed")
    except RuntimeError:
        pass
    os.write(2, b"after\\n")
""")


@pytest.mark.parametrize("outcome", ["ok", "fail"])
def test_native_stderr_is_dropped_on_success_and_replayed_on_failure(outcome):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, outcome], capture_output=True, text=True, check=True)
    expected = "after\n" if outcome == "ok" else "held line\nafter\n"
    assert proc.stderr == expected


def test_ray_api_warnings_are_ignored_and_others_are_not():
    from ray.util.annotations import RayDeprecationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_ray_warnings()
        warnings.warn("ray says", RayDeprecationWarning, stacklevel=1)
        warnings.warn("ours", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["ours"]  # catch_warnings restores the filters afterwards
