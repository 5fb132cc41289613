"""Every element depends only on (seed, stream, logical index, distribution, params, dtype).

Checked bitwise here:

* thread count (1, 2, 3, 5) and SIMD path (every usable table vs generic, switched in-process);
* ``region`` equals ``full[region]`` for 1-D..4-D shapes, with negative and
  omitted bounds, and a fill stitched together from regions equals the full fill;
* ``out`` of any layout (gaps between rows, steps, negative steps, transposed,
  permuted axes, unaligned addresses) equals the contiguous result, and no
  byte outside the view is touched (guard bytes around and between elements);
* 0-d arrays and shapes with a zero-length axis;
* float16/bfloat16 output is the round-to-nearest-even of the float32 output
  of the same call, including overflow to infinity, subnormals and signed zeros.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import fastinit as fi
from fastinit import reference
from fastinit._config import _select_simd

from _util import DISTS, DTYPES, KINDS, assert_bits_equal, bits, fill, reference_bits, simd_available

PARAMS = {"uniform": (-0.75, 1.25), "normal": (0.5, 2.0)}
LARGE_2D = (601, 1001)   # ~600k elements: well above the 65536-element serial threshold


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------


def _guarded_empty(shape, dtype):
    """An array prefilled with a NaN-like guard pattern, so unwritten elements cannot pass as values."""
    out = np.empty(shape, dtype=dtype)
    out.view(np.uint8)[...] = 0xFF
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
def test_thread_count_does_not_change_values(dist, kind):
    p0, p1 = PARAMS[dist]
    cases = {  # name -> (shape, region, shape of the result)
        "large": (LARGE_2D, None, LARGE_2D),
        "tall-skinny": ((100_003, 3), None, (100_003, 3)),     # many short rows: parallel over rows
        "region": ((1200, 1500), (slice(101, 1001), slice(7, 1499)), (900, 1492)),
    }

    def run(name):
        shape, region, result_shape = cases[name]
        out = _guarded_empty(result_shape, DTYPES[kind])
        return fill(dist, shape, p0, p1, out=out, seed=11, stream=4, region=region)

    fi.set_num_threads(1)
    serial = {name: run(name) for name in cases}
    for threads in (2, 3, 5):
        fi.set_num_threads(threads)
        assert fi.get_num_threads() == threads
        for name in cases:
            assert_bits_equal(run(name), bits(serial[name]), f"{name}, {threads} threads")
    # The serial result itself is the stream (so a fill that skipped work would show).
    assert_bits_equal(serial["tall-skinny"].reshape(-1)[-3000:],
                      reference_bits(dist, 11, 4, 300_009 - 3000, 3000, p0, p1, kind), "serial vs reference")
    region_row = serial["region"][-1]                    # logical row 1000, columns 7..1498
    assert_bits_equal(region_row, reference_bits(dist, 11, 4, 1000 * 1500 + 7, 1492, p0, p1, kind),
                      "serial region vs reference")


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_thread_count_does_not_change_raw_words(threads):
    fi.set_num_threads(threads)
    n = 500_001
    np.testing.assert_array_equal(fi.random_raw(n, seed=8, stream=9, start=3),
                                  reference.raw_words(8, 9, 3, n))


# ---------------------------------------------------------------------------
# SIMD path
# ---------------------------------------------------------------------------


@pytest.mark.skipif(len(simd_available()) < 2, reason="only the generic table is available")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
def test_every_table_agrees_with_generic(dist, kind):
    p0, p1 = PARAMS[dist]
    calls = [
        dict(shape=LARGE_2D),
        dict(shape=(3, 1000, 111), region=(slice(1, 3), slice(5, 997), slice(3, 110))),
    ]
    results = {}
    for path in simd_available():
        _select_simd(path)
        assert fi.build_info()["simd"] == path
        results[path] = [fill(dist, c["shape"], p0, p1, dtype=DTYPES[kind], seed=5, stream=6,
                              region=c.get("region")) for c in calls]
    for path in simd_available()[1:]:
        for generic, other in zip(results["generic"], results[path]):
            assert_bits_equal(other, bits(generic), f"{path} {dist} {kind}")


# ---------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------

SHAPES = [(257,), (9, 131), (5, 6, 37), (3, 4, 5, 17), (2, 1, 3, 70)]


def _random_region(rng, shape):
    region = []
    for n in shape:
        start = int(rng.integers(0, n + 1))
        stop = int(rng.integers(start, n + 1))
        region.append(slice(start, stop))
    return tuple(region)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_region_equals_slice_of_full(simd, shape, dist, kind):
    p0, p1 = PARAMS[dist]
    full = fill(dist, shape, p0, p1, dtype=DTYPES[kind], seed=21, stream=2)
    rng = np.random.default_rng(zlib.crc32(f"{shape}{dist}{kind}".encode()))
    for _ in range(25):
        region = _random_region(rng, shape)
        got = fill(dist, shape, p0, p1, dtype=DTYPES[kind], seed=21, stream=2, region=region)
        assert got.shape == full[region].shape
        assert_bits_equal(got, bits(full[region]), f"region {region}")


@pytest.mark.parametrize("region", [
    (slice(-3, None),),                         # negative start counts from the end
    (slice(None, -2), slice(-40, -1)),          # negative stops
    (slice(-9, 9), slice(None), slice(-1, None)),
    (slice(2, 5),),                             # trailing axes omitted: whole axes
    slice(2, 5),                                # a bare slice means its 1-tuple
    (slice(None), slice(None), slice(None)),
    (slice(4, 4), slice(0, 10)),                # empty along one axis
], ids=str)
def test_region_bounds_follow_python_slicing(region, simd):
    shape = (9, 41, 3)
    full = fi.normal(shape, seed=3)
    got = fi.normal(shape, seed=3, region=region)
    assert got.shape == full[region].shape
    assert_bits_equal(got, bits(full[region]), f"region {region}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
def test_regions_stitch_into_the_full_array(simd, dist, kind):
    """Filling disjoint boxes (into views of one array, via out=) gives the full fill."""
    shape = (37, 129, 5)
    p0, p1 = PARAMS[dist]
    full = fill(dist, shape, p0, p1, dtype=DTYPES[kind], seed=99, stream=1)
    stitched = np.zeros(shape, dtype=DTYPES[kind])
    cuts0, cuts1 = (0, 1, 17, 20, 37), (0, 63, 64, 100, 129)
    for a0, b0 in zip(cuts0, cuts0[1:]):
        for a1, b1 in zip(cuts1, cuts1[1:]):
            box = (slice(a0, b0), slice(a1, b1))
            view = stitched[box]
            assert fill(dist, shape, p0, p1, out=view, seed=99, stream=1, region=box) is view
    assert_bits_equal(stitched, bits(full), "stitched")


def test_large_region_in_parallel_equals_slice_of_full():
    shape = (40, 200, 150)
    region = (slice(3, 37), slice(1, 199), slice(2, 149))
    full = fi.uniform(shape, dtype="bfloat16", seed=1)
    for threads in (1, 2, 3):
        fi.set_num_threads(threads)
        got = fi.uniform(shape, dtype="bfloat16", seed=1, region=region)
        assert_bits_equal(got, bits(full[region]), f"{threads} threads")


# ---------------------------------------------------------------------------
# Output layouts and guard bytes
# ---------------------------------------------------------------------------

GUARD = 0xA5

# name -> (base shape from view shape, view of the base, byte offset of the base in the buffer)
LAYOUTS_2D = {
    "contiguous": (lambda m, k: (m, k), lambda b, m, k: b, 0),
    "row-gaps": (lambda m, k: (m, k + 5), lambda b, m, k: b[:, 3:3 + k], 0),
    "steps": (lambda m, k: (2 * m + 1, 3 * k + 2), lambda b, m, k: b[1::2, 2::3][:m, :k], 0),
    "reversed": (lambda m, k: (m + 2, k + 3), lambda b, m, k: b[::-1, ::-1][1:m + 1, 2:k + 2], 0),
    "reversed-steps": (lambda m, k: (2 * m + 1, 2 * k + 1), lambda b, m, k: b[::-2, ::-2][:m, :k], 0),
    "transposed": (lambda m, k: (k + 1, m + 2), lambda b, m, k: b.T[1:m + 1, :k], 0),
    "fortran-reversed-rows": (lambda m, k: (k, m), lambda b, m, k: b.T[::-1], 0),
    "unaligned": (lambda m, k: (m, k), lambda b, m, k: b, 1),
    "unaligned-steps": (lambda m, k: (m, 2 * k), lambda b, m, k: b[:, ::-2], 1),
}
LAYOUTS_3D = {
    "permuted": (lambda a, b, c: (c, a, b), lambda x, a, b, c: x.transpose(1, 2, 0), 0),
    "mixed": (lambda a, b, c: (a, 2 * b, c + 3), lambda x, a, b, c: x[::-1, ::2, 1:c + 1], 0),
    "swapped-unaligned": (lambda a, b, c: (b, a, c), lambda x, a, b, c: x.swapaxes(0, 1), 3),
}


def _layout_view(layout, shape, dtype):
    """(buffer of uint8 filled with GUARD, view of `shape` and `dtype` into it, buffer mask of the view's bytes)."""
    base_shape_fn, view_fn, offset = layout
    base_shape = base_shape_fn(*shape)
    itemsize = np.dtype(dtype).itemsize
    nbytes = offset + math.prod(base_shape) * itemsize + 8          # guard bytes after the base too

    def make(buffer, dt):
        base = buffer[offset:offset + math.prod(base_shape) * itemsize].view(dt).reshape(base_shape)
        view = view_fn(base, *shape)
        assert view.shape == tuple(shape)
        return view

    buffer = np.full(nbytes, GUARD, dtype=np.uint8)
    view = make(buffer, dtype)
    mask_buffer = np.zeros(nbytes, dtype=np.uint8)
    make(mask_buffer, f"u{itemsize}")[...] = np.iinfo(f"u{itemsize}").max
    return buffer, view, mask_buffer != 0


def _check_layout(layout, shape, dist, kind):
    p0, p1 = PARAMS[dist]
    dtype = DTYPES[kind]
    buffer, view, covered = _layout_view(layout, shape, dtype)
    assert covered.sum() == math.prod(shape) * dtype.itemsize
    expected = fill(dist, shape, p0, p1, dtype=dtype, seed=77, stream=3)
    returned = fill(dist, None, p0, p1, out=view, seed=77, stream=3)
    assert returned is view
    assert_bits_equal(view, bits(expected), "view contents")
    touched = np.flatnonzero(buffer[~covered] != GUARD)
    assert touched.size == 0, f"{touched.size} bytes outside the view were written"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("layout", LAYOUTS_2D, ids=str)
def test_out_layouts_2d(simd, layout, dist, kind):
    _check_layout(LAYOUTS_2D[layout], (7, 13), dist, kind)
    _check_layout(LAYOUTS_2D[layout], (3, 2051), dist, kind)   # long rows: batched body + staging chunks


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("layout", LAYOUTS_3D, ids=str)
def test_out_layouts_3d(simd, layout, dist, kind):
    _check_layout(LAYOUTS_3D[layout], (3, 5, 67), dist, kind)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("layout", ["row-gaps", "reversed-steps", "transposed", "unaligned"])
@pytest.mark.parametrize("kind", ["float32", "float16", "float64"])
def test_out_layouts_in_parallel(layout, kind, threads):
    """Large strided outputs: every thread stages its own pieces."""
    fi.set_num_threads(threads)
    _check_layout(LAYOUTS_2D[layout], (301, 1003), "normal", kind)


def test_out_with_region_and_layout_together(simd):
    shape, region = (50, 60), (slice(10, 40), slice(-25, None))
    full = fi.uniform(shape, seed=4, dtype=np.float64)
    buffer, view, covered = _layout_view(LAYOUTS_2D["reversed-steps"], (30, 25), np.float64)
    fi.uniform(shape, out=view, seed=4, region=region)
    assert_bits_equal(view, bits(full[region]), "region into strided out")
    assert np.all(buffer[~covered] == GUARD)


def test_out_with_unit_and_broadcast_like_axes():
    """Length-1 axes (whatever their stride, even 0) are legal and filled like the contiguous array."""
    base = np.zeros((5, 1, 7), dtype=np.float32)
    view = np.lib.stride_tricks.as_strided(base, shape=(5, 1, 7), strides=(28, 0, 4))
    fi.normal(out=view, seed=2)
    assert_bits_equal(view, bits(fi.normal((5, 1, 7), seed=2)), "unit axis with stride 0")


# ---------------------------------------------------------------------------
# 0-d and empty arrays
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
def test_zero_dimensional(simd, dist, kind):
    p0, p1 = PARAMS[dist]
    expected = reference_bits(dist, 6, 1, 0, 1, p0, p1, kind)
    got = fill(dist, (), p0, p1, dtype=DTYPES[kind], seed=6, stream=1)
    assert got.shape == () and got.dtype == DTYPES[kind]
    assert_bits_equal(got, expected, "shape ()")
    out = np.zeros((), dtype=DTYPES[kind])
    assert fill(dist, None, p0, p1, out=out, seed=6, stream=1) is out
    assert_bits_equal(out, expected, "0-d out")
    assert_bits_equal(fill(dist, (), p0, p1, dtype=DTYPES[kind], seed=6, stream=1, region=()),
                      expected, "0-d region")


@pytest.mark.parametrize("shape", [(0,), (3, 0, 4), (0, 0), (0, 3), (2, 5, 0)], ids=str)
@pytest.mark.parametrize("dist", DISTS)
def test_zero_length_axis(dist, shape):
    got = fill(dist, shape, seed=1)
    assert got.shape == shape and got.dtype == np.float32 and got.size == 0
    out = np.empty(shape, dtype=np.float16)
    assert fill(dist, None, out=out, seed=1) is out


def test_empty_region_of_nonempty_array_and_random_raw_zero():
    got = fi.uniform((10, 10), seed=1, region=(slice(3, 3), slice(0, 10)))
    assert got.shape == (0, 10)
    assert fi.random_raw(0, seed=1).shape == (0,)
    assert fi.random_raw(0, seed=1, start=2**64).shape == (0,)


def test_region_layout_shape_one_axes_do_not_shift_indices(simd):
    """Unit axes anywhere in the shape (dropped when coalescing) keep the index arithmetic right."""
    shape = (1, 4, 1, 9, 1)
    full = fi.normal(shape, seed=12, dtype=np.float64)
    np.testing.assert_array_equal(bits(full).ravel(), reference_bits("normal", 12, 0, 0, 36, 0.0, 1.0, "float64"))
    region = (slice(None), slice(1, 3), slice(None), slice(2, 9))
    assert_bits_equal(fi.normal(shape, seed=12, dtype=np.float64, region=region), bits(full[region]), "unit axes")


# ---------------------------------------------------------------------------
# Half precision is the rounded float32 result
# ---------------------------------------------------------------------------

HALF_CASES = {
    "float16": [
        ("uniform", 0.0, 1.0),
        ("uniform", -65504.0, 65504.0),       # the full float16 range
        ("uniform", 1e-7, 3e-5),              # subnormal float16 results
        ("normal", 0.0, 1.0),
        ("normal", 0.0, 2.0e4),               # |z| > 3.3 overflows float16 to +-inf
        ("normal", 0.0, 1.0e-6),              # subnormals and signed zeros
        ("normal", -1.0e-9, 1.0e-9),          # everything rounds to +-0
    ],
    "bfloat16": [
        ("uniform", 0.0, 1.0),
        ("uniform", -1.5e38, 1.5e38),       # scale 3e38 still finite in float32
        ("normal", 0.0, 1.0),
        ("normal", 3.38e38, 1.0e37),          # past bfloat16's max (and float32's): +-inf
        ("normal", 0.0, 1.0e-40),             # float32 subnormals
        ("normal", -5.0, 0.01),
    ],
}
ROUND = {"float16": reference.round_to_float16_bits, "bfloat16": reference.round_to_bfloat16_bits}


@pytest.mark.parametrize("kind, case", [(k, c) for k, cs in HALF_CASES.items() for c in cs], ids=str)
def test_half_precision_is_rounded_float32(simd, kind, case):
    dist, p0, p1 = case
    shape = (3, 100_003)   # parallel, with a partial batch at the end of each row
    f32 = fill(dist, shape, p0, p1, dtype=np.float32, seed=31, stream=7)
    half = fill(dist, shape, p0, p1, dtype=DTYPES[kind], seed=31, stream=7)
    assert half.dtype == DTYPES[kind]
    with np.errstate(over="ignore"):      # NumPy warns when a cast overflows to inf
        expected = ROUND[kind](f32)
    assert_bits_equal(half, expected, f"{kind} {case}")


def test_half_cases_reach_the_special_values():
    """The cases above really produce infinities, subnormals and both zeros."""
    big = fi.normal(100_000, 0.0, 2.0e4, dtype=np.float16, seed=31)
    assert np.isposinf(big).any() and np.isneginf(big).any()
    tiny = fi.normal(100_000, 0.0, 1.0e-6, dtype=np.float16, seed=31)
    tiny_bits = bits(tiny)
    assert (tiny_bits == 0x0000).any() and (tiny_bits == 0x8000).any()
    magnitude = tiny_bits & 0x7FFF
    assert ((magnitude > 0) & (magnitude < 0x0400)).any()          # float16 subnormals
    huge = fi.normal(100_000, 3.38e38, 1.0e37, dtype="bfloat16", seed=31)
    assert np.isposinf(huge.astype(np.float32)).any()
