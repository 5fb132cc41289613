"""Bitwise parity of the C kernels with ``fastinit.reference``.

For uniform and normal, every dtype and every usable kernel table, a 1-D region
``[start, start + n)`` of a fill must equal ``reference.uniform_flat`` /
``reference.normal_flat`` bit for bit.  Starts are chosen to be unaligned
to the 2-, 4-, 8-, 32- and 128-element boundaries of Philox blocks,
Box-Muller pairs and AVX2 batches; lengths cover empty, partial-block,
partial-batch and multi-batch runs; some starts sit on the carry of the
block counter into its high word and near the 2**63 - 1 element limit.
"""

from __future__ import annotations

import pytest

from _util import DISTS, DTYPES, KINDS, assert_bits_equal, fill, reference_bits

U64_MAX = 2**64 - 1

# (seed, stream, p0, p1): p0/p1 are (low, high) for uniform and (mean, std) for normal.
CASES = {
    "uniform": [
        (0, 0, 0.0, 1.0),
        (U64_MAX, U64_MAX, -3.5, 2.25),
        (123456789, 2**40 + 3, -100.0, 1.0e4),
        (7, 1, 0.5, 0.5),                      # low == high: a constant
    ],
    "normal": [
        (0, 0, 0.0, 1.0),
        (U64_MAX, U64_MAX, -2.5, 0.01),
        (123456789, 2**40 + 3, 100.0, 7.5),
        (7, 1, 3.0, 0.0),                      # std == 0: a constant
    ],
}

STARTS = (0, 1, 2, 3, 5, 7, 13, 33, 130, 1001)
LENGTHS = (0, 1, 2, 3, 5, 31, 127, 129, 1000)


def _region_fill(dist, kind, seed, stream, p0, p1, start, n):
    """Elements [start, start + n) of a 1-D fill, through the region argument."""
    return fill(dist, (start + n,), p0, p1, dtype=DTYPES[kind], seed=seed, stream=stream,
                region=(slice(start, start + n),))


def _check(dist, kind, seed, stream, p0, p1, start, n):
    got = _region_fill(dist, kind, seed, stream, p0, p1, start, n)
    assert got.dtype == DTYPES[kind] and got.shape == (n,)
    assert_bits_equal(got, reference_bits(dist, seed, stream, start, n, p0, p1, kind),
                      f"{dist} {kind} seed={seed} stream={stream} params=({p0}, {p1}) start={start} n={n}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", range(4), ids=[f"case{i}" for i in range(4)])
@pytest.mark.parametrize("dist", DISTS)
def test_small_runs_match_reference(simd, dist, case, kind):
    seed, stream, p0, p1 = CASES[dist][case]
    for start in STARTS:
        for n in LENGTHS:
            _check(dist, kind, seed, stream, p0, p1, start, n)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("start", [0, 13])
def test_long_run_matches_reference(simd, dist, kind, start):
    seed, stream, p0, p1 = CASES[dist][2]
    _check(dist, kind, seed, stream, p0, p1, start, 10**5)


# Element indices where the Philox block counter's low word wraps (4 elements per
# block for float32/16/bf16, 2 for float64), and indices near the largest allowed shape.
LARGE_STARTS = (
    2**33 - 37,            # float64 elements 2**33 = block 2**32
    2**34 - 37,            # float32-family elements 2**34 = block 2**32
    2**34 + 4 * 2**32 - 5, # the next wrap for float32 (block 2**33)
    2**62 + 3,
    2**63 - 1 - 1000,      # the last 1000 elements of a (2**63 - 1)-element array
)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
def test_large_indices_match_reference(simd, dist, kind):
    seed, stream, p0, p1 = CASES[dist][1]
    for start in LARGE_STARTS:
        for n in (1, 2, 5, 129, 1000):
            _check(dist, kind, seed, stream, p0, p1, start, n)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
def test_full_fill_equals_reference_from_zero(simd, dist, kind):
    """Without a region, element i of the array is element i of the stream."""
    seed, stream, p0, p1 = CASES[dist][0]
    got = fill(dist, 4099, p0, p1, dtype=DTYPES[kind], seed=seed, stream=stream)
    assert_bits_equal(got, reference_bits(dist, seed, stream, 0, 4099, p0, p1, kind), f"{dist} {kind}")
