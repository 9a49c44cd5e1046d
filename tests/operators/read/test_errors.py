"""Read errors: InputError survives Ray's pickling."""

from __future__ import annotations

import pickle

from sftforge.operators.read.errors import InputError, describe_row_error


def test_input_error_survives_pickling():
    error = pickle.loads(pickle.dumps(InputError("s3://bucket/x.parquet", "boom")))

    assert (error.path, error.message, str(error)) == (
        "s3://bucket/x.parquet",
        "boom",
        "s3://bucket/x.parquet: boom",
    )


def test_row_errors_are_named_in_one_line():
    assert (
        describe_row_error(RecursionError("maximum recursion depth")) == "nesting too deep (RecursionError)"
    )
    assert describe_row_error(TypeError("bad\n  thing")) == "TypeError: bad thing"
    assert describe_row_error(OverflowError()) == "OverflowError"
