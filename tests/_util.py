"""Helpers shared by the test modules (imported as ``from _util import ...``).

Every value comparison in this suite is bitwise: arrays are viewed as
unsigned integers of the same width, so -0.0 != +0.0 and no tolerance can
hide a last-bit difference between the C kernels and ``fastinit.reference``.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

import fastinit as fi
from fastinit import reference

# Name (as reference.py spells the kind) -> NumPy dtype.
DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}
KINDS = tuple(DTYPES)
DISTS = ("uniform", "normal")

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def bits(a) -> np.ndarray:
    """The bit patterns of a float array (a C-contiguous copy, as unsigned ints)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a).view(_UINT[a.dtype.itemsize])


def reference_bits(dist, seed, stream, start, n, p0, p1, kind) -> np.ndarray:
    """Bit patterns of flat elements ``start .. start+n-1`` per fastinit.reference."""
    flat = getattr(reference, f"{dist}_flat")(seed, stream, start, n, p0, p1, kind)
    # bfloat16 comes back as uint16 bit patterns already.
    return flat if kind == "bfloat16" else bits(flat)


def fill(dist, *args, **kwargs) -> np.ndarray:
    """fi.uniform / fi.normal by name."""
    return getattr(fi, dist)(*args, **kwargs)


def simd_available() -> list:
    return list(fi.build_info()["simd_available"])


def assert_bits_equal(got, expected_bits, what=""):
    """Bitwise equality with a short report of the first differing elements."""
    got_bits = bits(got).reshape(-1)
    expected_bits = np.asarray(expected_bits).reshape(-1)
    assert got_bits.shape == expected_bits.shape, f"{what}: size {got_bits.shape} != {expected_bits.shape}"
    diff = np.flatnonzero(got_bits != expected_bits)
    assert diff.size == 0, (
        f"{what}: {diff.size} of {got_bits.size} elements differ; first at flat positions "
        f"{diff[:5].tolist()}: got {[hex(int(v)) for v in got_bits[diff[:5]]]}, "
        f"expected {[hex(int(v)) for v in expected_bits[diff[:5]]]}"
    )
