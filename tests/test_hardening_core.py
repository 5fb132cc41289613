"""Hardening of the core samplers (issue #11): one section per item.

* uniform whose width ``high - low`` overflows the compute precision;
* trunc_normal on intervals narrow compared with ``std`` (the narrow regime
  of docs/stream.md): statistics, parity with the reference on every SIMD
  table, invariance to threads and regions;
* ``out`` arrays whose elements overlap in memory;
* float parameters: ints beyond float64, 0-d arrays and NumPy scalars.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from scipy import stats

import fastinit as fi
from _util import DTYPES, KINDS, assert_bits_equal, bits, requires
from fastinit import reference

BF16 = np.dtype(ml_dtypes.bfloat16)
P_MIN = 1e-3


def _guarded(shape, dtype):
    out = np.empty(shape, dtype=dtype)
    out.view(np.uint8)[...] = 0x5A
    return out


def _untouched(out):
    return bool(np.all(out.view(np.uint8) == 0x5A))


# --------------------------------------------------------------------------- uniform width


@pytest.mark.parametrize("dtype, low, high, compute", [
    (np.float64, -1e308, 1e308, "float64"),
    (np.float64, -np.finfo(np.float64).max, np.finfo(np.float64).max, "float64"),
    (np.float32, -3e38, 3e38, "float32"),
    (BF16, -3e38, 3e38, "float32"),
])
def test_uniform_width_that_overflows_is_refused(dtype, low, high, compute):
    out = _guarded(5, dtype)
    with pytest.raises(ValueError, match=rf"high - low = inf overflows {compute}|high - low = .* overflows {compute}"):
        fi.uniform(out=out, low=low, high=high, seed=0)
    assert _untouched(out)
    with pytest.raises(ValueError, match=r"low=.*high="):
        fi.uniform(4, low, high, dtype=dtype, seed=0)


@requires("dask")
def test_uniform_width_overflow_is_refused_by_dask_too():
    import fastinit.dask as fid   # here: fastinit.dask needs the dask extra

    with pytest.raises(ValueError, match="overflows float64"):
        fid.uniform((4, 4), -1e308, 1e308, dtype=np.float64, seed=0)


@pytest.mark.parametrize("low, high", [(-6e4, 6e4), (-65504.0, 65504.0)])
def test_float16_range_wider_than_float16_is_exact(low, high):
    # The width exceeds float16's maximum but float16 samples are computed in float32,
    # where it is finite: the values are right, not refused.
    w = fi.uniform(4096, low, high, dtype=np.float16, seed=3)
    assert_bits_equal(w, bits(reference.uniform_flat(3, 0, 0, 4096, low, high, "float16")), "float16")
    w64 = w.astype(np.float64)
    assert np.isfinite(w64).all() and w64.min() >= low and w64.max() <= high
    assert abs(w64.mean()) < 0.05 * high and w64.std() == pytest.approx(high / 3**0.5, rel=0.05)


def test_float64_widest_finite_range_is_accepted():
    w = fi.uniform(1000, -8e307, 8e307, dtype=np.float64, seed=1)
    assert_bits_equal(w, bits(reference.uniform_flat(1, 0, 0, 1000, -8e307, 8e307, "float64")))
    assert np.isfinite(w).all() and w.min() < -1e307 and w.max() > 1e307


# --------------------------------------------------------------------------- trunc_normal, narrow

# (mean, std, a, b) in the narrow regime; the first two are the reproducers.
NARROW = [
    (0.0, 1e6, -1.0, 1.0),
    (0.0, 1.0, -1e-4, 1e-4),
    (0.0, 1e12, -1.0, 1.0),          # collapses in float64 with the ordinary transform
    (0.0, 1.0, 0.5, 1.0),            # upper side, mirrored
    (0.0, 1.0, 2.8, 3.0),            # upper tail
    (0.0, 1.0, -3.0, -2.8),          # lower tail
    (5.0, 2.0, 7.0, 7.001),          # off zero
    (0.0, 1.0, -10.05, -10.0),       # deep tail
    (0.0, 1.0, -0.3, 0.3),           # just inside the regime
]


def _truncnorm(mean, std, a, b):
    return stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)


def test_regime_condition():
    for params in NARROW:
        assert reference.trunc_normal_kernel(*params)[0] == "narrow", params
    for params in [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (0.0, 1.0, -1.0, 1.0),
                   (0.0, 1.0, 1.0, 3.0), (0.0, 1.0, -0.5, 0.5), (0.0, 1.0, 3.0, 6.0)]:
        assert reference.trunc_normal_kernel(*params)[0] == "ordinary", params
    # The boundary itself: 2 w < min(Phi(alpha) + w, 1/2), with w the interval's mass.
    for c in (0.31, 0.3186, 0.319, 0.33):
        p = reference.trunc_normal_parameters(0.0, 1.0, -c, c)
        narrow = 2 * p[3] < min(p[2] + p[3], 0.5)
        assert reference.trunc_normal_kernel(0.0, 1.0, -c, c)[0] == ("narrow" if narrow else "ordinary")
    assert reference.trunc_normal_kernel(0.0, 1.0, -0.31, 0.31)[0] == "narrow"
    assert reference.trunc_normal_kernel(0.0, 1.0, -0.33, 0.33)[0] == "ordinary"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mean, std, a, b", NARROW, ids=str)
def test_narrow_interval_matches_scipy(mean, std, a, b, dtype):
    n, dist = 200_000, _truncnorm(mean, std, a, b)
    w = fi.trunc_normal(n, mean, std, a, b, dtype=dtype, seed=2024).astype(np.float64)
    p = stats.kstest(w, dist.cdf).pvalue
    assert p > P_MIN, f"KS p = {p:.2e}"
    # The ends are reached: no gap, and no more samples on a bound than its rounding cell holds.
    width = b - a
    assert w.min() - a < 1e-4 * width and b - w.max() < 1e-4 * width
    for bound, side in ((a, 1), (b, -1)):
        half_cell = abs(float(np.spacing(np.asarray(bound, dtype)))) / 2
        expected = n * abs(dist.cdf(bound + side * half_cell) - dist.cdf(bound))
        assert np.count_nonzero(w == bound) <= expected + 5 * expected**0.5 + 2, bound
    # No clump at zero (the old transform put 13,371 of 200,000 there for the first case).
    tiny = float(np.finfo(dtype).smallest_subnormal)
    expected = max(n * (dist.cdf(tiny) - dist.cdf(-tiny)), 0.0)
    assert np.count_nonzero(w == 0.0) <= expected + 5 * expected**0.5 + 2
    # Distinct values: as many as the output type can hold (the float32 grid of an
    # interval far from zero has fewer points than 2**23).
    grid = width / np.spacing(np.float32(max(abs(a), abs(b)))) if dtype == np.float32 else np.inf
    expected = n if grid > 1e9 else grid * (1 - np.exp(-n / grid))
    assert len(np.unique(w)) > 0.98 * expected


def _half_cells(values, dtype, dist, a, b):
    """Chi-square p of 16-bit float samples against the cells their rounding defines."""
    codes = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)
    codes = codes[np.isfinite(codes.astype(np.float32))].astype(np.float64)   # NaNs out before the cast
    grid = np.unique(codes)
    lo, hi = np.searchsorted(grid, a) - 1, np.searchsorted(grid, b, side="right") + 1
    grid = grid[max(lo, 0):hi]
    edges = np.concatenate([[-np.inf], (grid[1:] + grid[:-1]) / 2, [np.inf]])
    expected = np.diff(dist.cdf(np.clip(edges, a, b)))
    observed = np.bincount(np.searchsorted(grid, values.astype(np.float64)), minlength=grid.size)
    assert np.isin(values.astype(np.float64), grid).all()
    # Pool neighbouring cells until each expects at least 20 samples.
    n, pooled_o, pooled_e, acc_o, acc_e = values.size, [], [], 0, 0.0
    for o, e in zip(observed, expected * n):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 20:
            pooled_o.append(acc_o), pooled_e.append(acc_e)
            acc_o, acc_e = 0, 0.0
    pooled_o[-1] += acc_o
    pooled_e[-1] += acc_e
    o, e = np.array(pooled_o), np.array(pooled_e)
    return stats.chi2.sf(((o - e) ** 2 / e).sum(), len(o) - 1), len(o)


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("mean, std, a, b", [
    (0.0, 1.0, -1e-4, 1e-4), (0.0, 100.0, -1.0, 1.0), (0.0, 1.0, 2.8, 3.0), (0.0, 1.0, -3.0, -2.8),
], ids=str)
def test_narrow_interval_half_types_fit_their_cells(mean, std, a, b, dtype):
    w = fi.trunc_normal(200_000, mean, std, a, b, dtype=dtype, seed=7)
    p, cells = _half_cells(w, np.dtype(dtype), _truncnorm(mean, std, a, b), a, b)
    assert cells >= 10 and p > P_MIN, f"chi-square p = {p:.2e} over {cells} cells"


# Starts unaligned to Philox blocks (4 or 2 elements) and to the kernels' groups of 4.
PARITY_STARTS = (0, 1, 2, 3, 5, 7, 13, 130, 1001, 2**34 - 3, 2**63 - 1 - 1000)
PARITY_LENGTHS = (0, 1, 2, 3, 5, 9, 129, 1000)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mean, std, a, b", [
    (0.0, 1e4, -1.0, 1.0), (5.0, 2.0, 7.0, 7.001), (0.0, 1.0, -3.0, -2.8), (0.0, 1.0, 0.25, 0.25),
], ids=str)
def test_narrow_kernels_match_reference(simd, mean, std, a, b, kind):
    assert reference.trunc_normal_kernel(mean, std, a, b)[0] == "narrow"
    for start in PARITY_STARTS:
        for n in PARITY_LENGTHS:
            got = fi.trunc_normal((start + n,), mean, std, a, b, dtype=DTYPES[kind], seed=2**64 - 1,
                                  stream=9, region=(slice(start, None),))
            want = reference.trunc_normal_flat(2**64 - 1, 9, start, n, mean, std, a, b, kind)
            assert_bits_equal(got, want if kind == "bfloat16" else bits(want),
                              f"{kind} start={start} n={n}")


@pytest.mark.parametrize("kind", KINDS)
def test_narrow_is_invariant_to_threads_regions_and_layout(kind):
    dtype, shape, params = DTYPES[kind], (600, 257), (0.0, 1e4, -1.0, 1.0)
    fi.set_num_threads(1)
    full = fi.trunc_normal(shape, *params, dtype=dtype, seed=4, stream=2)
    want = reference.trunc_normal_flat(4, 2, 0, full.size, *params, kind)
    assert_bits_equal(full, want if kind == "bfloat16" else bits(want))
    for threads in (2, 3, 8):
        fi.set_num_threads(threads)
        assert_bits_equal(fi.trunc_normal(shape, *params, dtype=dtype, seed=4, stream=2), bits(full),
                          f"{threads} threads")
        region = (slice(17, 590), slice(3, 250))
        assert_bits_equal(fi.trunc_normal(shape, *params, dtype=dtype, seed=4, stream=2, region=region),
                          bits(full[region]), f"region, {threads} threads")
        out = np.empty(shape[::-1], dtype=dtype).T[::-1]
        fi.trunc_normal(out=out, mean=params[0], std=params[1], a=params[2], b=params[3], seed=4, stream=2)
        assert_bits_equal(out, bits(full), f"strided out, {threads} threads")


# --------------------------------------------------------------------------- overlapping out


def _overlapping():
    buf = np.zeros(4000 * 8 + 4096, dtype=np.float32)
    return buf, np.lib.stride_tricks.as_strided(buf, (4000, 4096), (32, 4), writeable=True)


FILLS = [
    ("uniform", lambda out: fi.uniform(out=out, seed=1)),
    ("normal", lambda out: fi.normal(out=out, seed=1)),
    ("trunc_normal", lambda out: fi.trunc_normal(out=out, seed=1)),
    ("trunc_normal-narrow", lambda out: fi.trunc_normal(out=out, std=1e4, a=-1, b=1, seed=1)),
    ("constant", lambda out: fi.constant(out=out, value=2.0)),
    ("zeros", lambda out: fi.zeros(out=out)),
    ("kaiming_normal", lambda out: fi.kaiming_normal(out=out, seed=1)),
    ("orthogonal", lambda out: fi.orthogonal(out=out, seed=1)),
]


@pytest.mark.parametrize("fill", [f for _, f in FILLS], ids=[name for name, _ in FILLS])
def test_self_overlapping_out_is_refused_before_writing(fill):
    buf, out = _overlapping()
    buf.view(np.uint8)[...] = 0x5A
    with pytest.raises(ValueError, match="more than one element can refer to a single memory location"):
        fill(out)
    assert _untouched(buf)


@pytest.mark.parametrize("shape, strides", [
    ((3, 4), (8, 4)),          # rows overlap by half
    ((4, 3), (4, 8)),          # the same, axes swapped
    ((2, 3, 4), (16, 24, 4)),  # last axis's stride below the span of the other two
    ((5,), (2,)),              # elements overlap within one axis (itemsize 4)
    ((6, 2), (-4, 4)),         # negative strides overlapping
])
def test_overlap_is_found_for_every_axis_order(shape, strides):
    buf = np.zeros(256, dtype=np.float32)
    base = buf[128:]
    out = np.lib.stride_tricks.as_strided(base, shape, strides, writeable=True)
    with pytest.raises(ValueError, match="may overlap in memory"):
        fi.normal(out=out, seed=1)
    assert np.all(buf == 0)


def _legitimate_layouts(dtype):
    c = np.empty((6, 10), dtype=dtype)
    yield "c-order", c
    yield "fortran", np.empty((6, 10), dtype=dtype, order="F")
    yield "transpose", np.empty((10, 6), dtype=dtype).T
    yield "negative", np.empty((6, 10), dtype=dtype)[::-1, ::-1]
    yield "step-slices", np.empty((12, 30), dtype=dtype)[::2, 1::3]
    yield "gapped", np.lib.stride_tricks.as_strided(np.empty(200, dtype=dtype), (6, 10),
                                                    (32 * np.dtype(dtype).itemsize, np.dtype(dtype).itemsize),
                                                    writeable=True)
    yield "interleaved-axes", np.empty((10, 2, 3), dtype=dtype).transpose(1, 2, 0)[:, :, :10]
    yield "unit-axis-zero-stride", np.lib.stride_tricks.as_strided(c, (1, 6, 10), (0,) + c.strides,
                                                                   writeable=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, BF16], ids=["float32", "float64", "bfloat16"])
def test_legitimate_layouts_still_work(dtype):
    for name, out in _legitimate_layouts(dtype):
        expected = fi.normal(out.shape, 0.5, 2.0, dtype=dtype, seed=3)
        assert fi.normal(out=out, mean=0.5, std=2.0, seed=3) is out, name
        assert_bits_equal(out, bits(expected), name)


def test_zero_size_and_0d_outs_still_work():
    empty = np.lib.stride_tricks.as_strided(np.empty(4, np.float32), (0, 5), (0, 0), writeable=True)
    assert fi.uniform(out=empty, seed=1).shape == (0, 5)
    zero_d = np.empty((), np.float32)
    fi.normal(out=zero_d, seed=1)
    assert_bits_equal(zero_d.reshape(1), bits(fi.normal(1, seed=1)))


# --------------------------------------------------------------------------- float parameters

S = (6, 5)
# (function, parameter, a valid value, extra arguments)
FLOAT_PARAMETERS = [
    (fi.uniform, "low", -0.5, {}), (fi.uniform, "high", 2.0, {}),
    (fi.normal, "mean", 0.25, {}), (fi.normal, "std", 1.5, {}),
    (fi.trunc_normal, "mean", 0.25, {}), (fi.trunc_normal, "std", 0.75, {}),
    (fi.trunc_normal, "a", -1.0, {}), (fi.trunc_normal, "b", 1.5, {}),
    (fi.constant, "value", 0.75, None),
    (fi.variance_scaling, "scale", 2.0, {}),
    (fi.xavier_uniform, "gain", 1.5, {}), (fi.xavier_normal, "gain", 1.5, {}),
    (fi.kaiming_uniform, "a", 0.25, {}), (fi.kaiming_normal, "a", 0.25, {}),
    (fi.orthogonal, "gain", 1.5, {}),
    (fi.sparse, "sparsity", 0.5, {}), (fi.sparse, "std", 0.125, {"sparsity": 0.5}),
    (fi.init_for, "param", 0.25, {"activation": "leaky_relu"}),
]
PARAM_IDS = [f"{f.__name__}-{name}" for f, name, _, _ in FLOAT_PARAMETERS]


def _call(function, name, value, extra, **kwargs):
    """``function(S, name=value)``; ``extra`` None marks a function without a seed."""
    kw = {} if extra is None else {"seed": 3, **extra}
    return function(shape=S, **{name: value}, **kw, **kwargs)


@pytest.mark.parametrize("function, name, value, extra", FLOAT_PARAMETERS, ids=PARAM_IDS)
@pytest.mark.parametrize("huge", [10**400, -(10**400), 2**1024])
def test_int_beyond_float64_is_a_value_error(function, name, value, extra, huge):
    with pytest.raises(ValueError, match=rf"^{name}\b.*within float64's range.*got int value of about"):
        _call(function, name, huge, extra)


@pytest.mark.parametrize("function, name, value, extra", FLOAT_PARAMETERS, ids=PARAM_IDS)
def test_0d_arrays_and_numpy_scalars_are_accepted(function, name, value, extra):
    want = _call(function, name, value, extra, dtype="bfloat16")
    for given in (np.array(value, np.float32), np.array(value), np.float32(value), np.float64(value),
                  np.array(value, np.float16), np.array(value, BF16), ml_dtypes.bfloat16(value),
                  np.array(np.float32(value), dtype=object)):
        got = _call(function, name, given, extra, dtype="bfloat16")
        assert_bits_equal(got, bits(want), f"{type(given).__name__} {given!r}")


@pytest.mark.parametrize("function, name, value, extra", FLOAT_PARAMETERS, ids=PARAM_IDS)
@pytest.mark.parametrize("bad, pattern", [
    (np.ones(2), r"got ndarray of shape \(2,\) \(only 0-d arrays are accepted\)"),
    (np.ones((1, 1)), r"got ndarray of shape \(1, 1\)"),
    (np.array(True), "must be a real number; got bool"),
    (np.array(1 + 1j), "must be a real number; got complex128"),
    (np.timedelta64(5), "must be a real number; got timedelta64"),
    (np.str_("1"), "must be a real number; got str_"),
])
def test_other_arrays_are_a_type_error(function, name, value, extra, bad, pattern):
    with pytest.raises(TypeError, match=rf"{name}\b.*{pattern}"):
        _call(function, name, bad, extra)


def test_jax_accidental_upcasting_call():
    # jax's initializer tests pass 0-d arrays of the fill's dtype (or float32) as the scale.
    want = fi.normal((4, 4), 0.0, 1.0, dtype="bfloat16", seed=0)
    for scale in (np.array(1.0, np.float32), np.array(1.0, BF16), np.array(1.0, np.float16)):
        w = fi.normal((4, 4), 0.0, scale, dtype="bfloat16", seed=0)
        assert w.dtype == BF16
        assert_bits_equal(w, bits(want), repr(scale))
    with pytest.raises(ValueError, match="std must be finite; got nan"):
        fi.normal((4, 4), 0.0, np.array(np.nan, BF16), dtype="bfloat16", seed=0)
