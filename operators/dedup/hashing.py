"""Vectorised integer hash mixing shared by the dedup stages.

Every function here is a fixed bijection or a keyed digest, so the same input gives the same value in
every process, on every worker and in every run (unlike Python's salted ``hash``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

_M64_1 = np.uint64(0xFF51AFD7ED558CCD)
_M64_2 = np.uint64(0xC4CEB9FE1A85EC53)
_M32_1 = np.uint32(0x85EBCA6B)
_M32_2 = np.uint32(0xC2B2AE35)
_S33 = np.uint64(33)
_S16 = np.uint32(16)
_S13 = np.uint32(13)


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: an avalanching bijection on uint64 (wrapping arithmetic)."""
    values = values ^ (values >> _S33)
    values = values * _M64_1
    values ^= values >> _S33
    values *= _M64_2
    values ^= values >> _S33
    return values


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, the pre-mix datasketch's ``affine32`` scheme applies."""
    values = values ^ (values >> _S16)
    values = values * _M32_1
    values ^= values >> _S13
    values *= _M32_2
    values ^= values >> _S16
    return values


def digest128(parts: list[bytes]) -> bytes:
    """A 16-byte BLAKE2b digest of ``parts`` joined unambiguously (length-prefixed)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


def digests_array(digests: list[bytes]) -> pa.FixedSizeBinaryArray:
    """Packs 16-byte digests into an Arrow ``fixed_size_binary(16)`` array without a Python round trip."""
    buffer = pa.py_buffer(b"".join(digests))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(digests), [None, buffer])


def fixed_binary_view(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Returns a ``fixed_size_binary(16)`` Arrow array as a numpy ``S16`` array (memcmp order)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if array.null_count:
        raise ValueError("fixed-size digests must not be null")
    width = array.type.byte_width
    data = array.buffers()[1]
    return np.frombuffer(data, dtype=f"S{width}", count=len(array), offset=array.offset * width)


def fixed_binary_array(values: np.ndarray) -> pa.FixedSizeBinaryArray:
    """Inverse of ``fixed_binary_view``: numpy ``S16`` values back to Arrow ``fixed_size_binary(16)``."""
    values = np.ascontiguousarray(values)
    width = values.dtype.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(values.tobytes())]
    )


def partition_of(values: np.ndarray, num_partitions: int) -> np.ndarray:
    """Maps keys (integers, ``S16`` digests, or strings) to partitions ``0 .. num_partitions - 1``."""
    if values.dtype.kind in "OU":
        values = np.array(
            [
                int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "little")
                for v in values
            ],
            dtype=np.uint64,
        )
    if values.dtype.kind == "S":
        head = np.frombuffer(np.ascontiguousarray(values).tobytes(), dtype="<u8")[
            :: values.dtype.itemsize // 8
        ]
        values = head.copy()
    mixed = fmix64(values.astype(np.uint64, copy=False))
    return (mixed % np.uint64(num_partitions)).astype(np.int64)
