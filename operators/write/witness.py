"""Which rows show a JSON reader every column's type: the type checks of a record table.

A reader that infers types from the lines it reads (pyarrow's JSON reader, hence ``datasets``' JSON
loader) types a value path ``null`` when every value it saw there is null, a list ``list<null>`` when
every list it saw is empty, and a string ``timestamp`` when every string it saw starts like an ISO date.
``datasets`` then casts every later file to the types of the first lines of the first file, and a null or
timestamp type cannot take strings or numbers.

``type_checks`` names one check per leaf value path of a record table (``quality_score``,
``history[][]``, ``messages[].content``) and says per row whether the row passes it: a value there is
not null, and for strings also (``~text`` checks) that one does not start like a date. A set of rows that
passes every check any row passes carries every type the table has; the release writer puts such rows at
the head of each output's first shard (``sftforge.jobs.release.buckets``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: A string the JSON reader may take for a timestamp starts like this (d: a digit); any other is text.
_DATE_SHAPE = "dddd-dd-dd"
TEXT_SUFFIX = "~text"


def type_checks(records: pa.Table) -> dict[str, np.ndarray]:
    """One boolean per row for every type check of the table, keyed by the check's name (in column order).

    Args:
        records: Record table (the release's columns, any types with a JSON form).

    Returns:
        ``{name: passes}``; ``passes[i]`` is true when row ``i`` shows the check's type.
    """
    checks: dict[str, np.ndarray] = {}
    for name in records.column_names:
        _checks_of(records.column(name).combine_chunks(), name, checks)
    return checks


def _checks_of(array: pa.Array, path: str, out: dict[str, np.ndarray]) -> None:
    type_ = array.type
    if pa.types.is_dictionary(type_):
        array, type_ = array.dictionary_decode(), type_.value_type
    if pa.types.is_null(type_):
        return
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        values = array.flatten()
        parents = np.asarray(pc.list_parent_indices(array).to_numpy(zero_copy_only=False), dtype=np.int64)
        inner: dict[str, np.ndarray] = {}
        _checks_of(values, path + "[]", inner)
        for name, passes in inner.items():
            rows = np.zeros(len(array), dtype=bool)
            rows[parents[passes]] = True
            out[name] = rows
        return
    if pa.types.is_struct(type_):
        for index, field in enumerate(array.flatten()):
            _checks_of(field, f"{path}.{type_.field(index).name}", out)
        return
    valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    out[path] = valid
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        out[path + TEXT_SUFFIX] = valid & ~_date_like(array)


def _date_like(strings: pa.Array) -> np.ndarray:
    """True where a string starts like an ISO date (``dddd-dd-dd``), read from the bytes without a regex."""
    if pa.types.is_string_view(strings.type):
        strings = strings.cast(pa.string())
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    _, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[strings.offset : strings.offset + len(strings) + 1]
    starts = offsets[:-1].astype(np.int64)
    rows = np.flatnonzero((offsets[1:] - starts) >= len(_DATE_SHAPE))
    dated = np.zeros(len(strings), dtype=bool)
    if data_buffer is None or not len(rows):
        return dated
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    starts = starts[rows]
    for position, shape in enumerate(_DATE_SHAPE):
        byte = data[starts + position]
        fits = byte == ord("-") if shape == "-" else (byte >= ord("0")) & (byte <= ord("9"))
        rows, starts = rows[fits], starts[fits]
        if not len(rows):
            return dated
    dated[rows] = True
    return dated


def first_passing(
    keys: pa.Array, hashes: pa.Array, groups: pa.Array, checks: dict[str, np.ndarray]
) -> pa.ListArray:
    """Marks, per group and check, the passing row that comes first by (hash, key).

    Any total order that depends only on the rows would do; the hash (a number) makes the choice cheap,
    and the key breaks the rare ties.

    Args:
        keys: Sort key of every row (``str``).
        hashes: A hash of every row's identity (unsigned integers).
        groups: The group of every row (an output); a check's row is chosen within each group.
        checks: ``type_checks`` of the rows.

    Returns:
        Per row, the names of the checks it was chosen for (null for the rows chosen for none).
    """
    count = len(keys)
    if count == 0:
        return pa.array([], pa.list_(pa.string()))
    numbers = np.asarray(hashes.to_numpy(zero_copy_only=False), dtype=np.int64)
    codes = np.asarray(pc.dictionary_encode(groups).indices.to_numpy(zero_copy_only=False))
    members = [codes == code for code in np.unique(codes)]
    beyond = np.int64(numbers.max()) + 1
    chosen: dict[int, list[str]] = {}
    for name, passes in checks.items():
        for member in members:
            candidates = np.where(passes & member, numbers, beyond)
            smallest = candidates.min()
            if smallest == beyond:
                continue
            tied = np.flatnonzero(candidates == smallest)
            row = tied[0] if len(tied) == 1 else tied[int(np.argmin(keys.take(pa.array(tied)).to_pylist()))]
            chosen.setdefault(int(row), []).append(name)
    lengths = np.zeros(count, dtype=np.int32)
    values: list[str] = []
    for row in sorted(chosen):
        lengths[row] = len(chosen[row])
        values.extend(chosen[row])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values, pa.string()), mask=pa.array(lengths == 0)
    )
