"""variance_scaling and the named random schemes (xavier, kaiming, lecun).

* Every scheme draws the intended distribution: exact bounds, standard
  deviation within 1% on about 10**6 samples, and a Kolmogorov-Smirnov test
  against the exact distribution (fixed seeds, p > 1e-3); the torch schemes
  also against torch's own samples (two-sample KS).
* trunc_normal against scipy.stats.truncnorm, including tail intervals.
* The named schemes are exactly the documented variance_scaling specializations.
* A region is bit-identical to the same block of the whole array (fans come
  from the full shape), for every scheme; JAX/Keras layouts give the fans of
  the documented formulas.
* Zero-element arrays are a no-op; bad input raises and writes nothing.
"""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest
from scipy import special, stats

import fastinit as fi
from _util import optional_module, requires

# torch is optional: only the tests comparing with torch need it (see _util).
torch = optional_module("torch")
needs_torch = requires("torch")

P_MIN = 1e-3
TRUNC_STD = 0.87962566103423978   # std of N(0, 1) truncated to [-2, 2]
BF16 = np.dtype(ml_dtypes.bfloat16)

# 2**20 samples of a conv kernel whose fans differ, so every mode is distinguishable.
SHAPE = (256, 64, 8, 8)
FAN_IN, FAN_OUT = 64 * 64, 256 * 64
FANS = {"fan_in": FAN_IN, "fan_out": FAN_OUT, "fan_avg": (FAN_IN + FAN_OUT) / 2,
        "fan_geo_avg": math.sqrt(FAN_IN * FAN_OUT)}


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        np.ascontiguousarray(a).view(uint), np.ascontiguousarray(b).view(uint))


def uniform_case(name, draw, bound):
    return pytest.param(draw, "uniform", bound, id=name)


def normal_case(name, draw, std):
    return pytest.param(draw, "normal", std, id=name)


def truncated_case(name, draw, std):
    """``std``: of the samples (after truncation)."""
    return pytest.param(draw, "truncated_normal", std, id=name)


GAIN_RELU, GAIN_TANH = math.sqrt(2.0), 5.0 / 3


def _leaky(slope):
    return math.sqrt(2.0 / (1 + slope ** 2))


# (draw(seed) -> array, kind, parameter): bound for uniform, std of the samples otherwise.
DISTRIBUTION_CASES = [
    uniform_case("xavier_uniform", lambda s: fi.xavier_uniform(SHAPE, seed=s),
                 math.sqrt(6 / (FAN_IN + FAN_OUT))),
    uniform_case("xavier_uniform-tanh", lambda s: fi.xavier_uniform(SHAPE, GAIN_TANH, seed=s),
                 GAIN_TANH * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    normal_case("xavier_normal", lambda s: fi.xavier_normal(SHAPE, seed=s),
                math.sqrt(2 / (FAN_IN + FAN_OUT))),
    normal_case("xavier_normal-relu", lambda s: fi.xavier_normal(SHAPE, gain=GAIN_RELU, seed=s),
                GAIN_RELU * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    uniform_case("kaiming_uniform-default", lambda s: fi.kaiming_uniform(SHAPE, seed=s),
                 GAIN_RELU * math.sqrt(3 / FAN_IN)),
    uniform_case("kaiming_uniform-leaky0.2-fan_out",
                 lambda s: fi.kaiming_uniform(SHAPE, a=0.2, mode="fan_out", seed=s),
                 _leaky(0.2) * math.sqrt(3 / FAN_OUT)),
    uniform_case("kaiming_uniform-torch-linear-default",    # nn.Linear/nn.Conv's own init
                 lambda s: fi.kaiming_uniform(SHAPE, a=math.sqrt(5), seed=s),
                 _leaky(math.sqrt(5)) * math.sqrt(3 / FAN_IN)),
    normal_case("kaiming_normal-relu", lambda s: fi.kaiming_normal(SHAPE, nonlinearity="relu", seed=s),
                GAIN_RELU / math.sqrt(FAN_IN)),
    normal_case("kaiming_normal-tanh-fan_out",
                lambda s: fi.kaiming_normal(SHAPE, mode="fan_out", nonlinearity="tanh", seed=s),
                GAIN_TANH / math.sqrt(FAN_OUT)),
    normal_case("kaiming_normal-selu", lambda s: fi.kaiming_normal(SHAPE, nonlinearity="selu", seed=s),
                0.75 / math.sqrt(FAN_IN)),
    uniform_case("lecun_uniform", lambda s: fi.lecun_uniform(SHAPE, seed=s), math.sqrt(3 / FAN_IN)),
    truncated_case("lecun_normal", lambda s: fi.lecun_normal(SHAPE, seed=s), 1 / math.sqrt(FAN_IN)),
] + [
    case
    for mode, scale in [("fan_in", 2.0), ("fan_out", 0.5), ("fan_avg", 1.0), ("fan_geo_avg", 3.0)]
    for case in (
        uniform_case(f"variance_scaling-{mode}-uniform",
                     lambda s, m=mode, c=scale: fi.variance_scaling(SHAPE, c, m, "uniform", seed=s),
                     math.sqrt(3 * scale / FANS[mode])),
        normal_case(f"variance_scaling-{mode}-normal",
                    lambda s, m=mode, c=scale: fi.variance_scaling(SHAPE, c, m, "normal", seed=s),
                    math.sqrt(scale / FANS[mode])),
        truncated_case(f"variance_scaling-{mode}-truncated_normal",
                       lambda s, m=mode, c=scale: fi.variance_scaling(SHAPE, c, m, seed=s),
                       math.sqrt(scale / FANS[mode])),
    )
]


def _intended(kind, parameter):
    """(CDF, bound or None, intended std) of the intended distribution.

    The CDFs are written with scipy.special.ndtr rather than taken from
    scipy.stats.truncnorm: the same function, five times faster on 10**6 points.
    """
    if kind == "uniform":
        return (lambda x: np.clip((x + parameter) / (2 * parameter), 0, 1)), parameter, parameter / math.sqrt(3)
    if kind == "normal":
        return (lambda x: special.ndtr(x / parameter)), None, parameter
    sigma = parameter / TRUNC_STD     # of the untruncated normal
    below, mass = special.ndtr(-2.0), special.ndtr(2.0) - special.ndtr(-2.0)
    return (lambda x: np.clip((special.ndtr(x / sigma) - below) / mass, 0, 1)), 2 * sigma, parameter


def test_truncated_cdf_helper_is_scipys_truncnorm():
    cdf, _, _ = _intended("truncated_normal", 0.3)
    x = np.linspace(-0.8, 0.8, 101)
    np.testing.assert_allclose(cdf(x), stats.truncnorm(-2, 2, scale=0.3 / TRUNC_STD).cdf(x), atol=1e-12)


@pytest.mark.parametrize("draw, kind, parameter", DISTRIBUTION_CASES)
def test_scheme_draws_the_intended_distribution(draw, kind, parameter):
    w = draw(12345)
    assert w.shape == SHAPE and w.dtype == np.float32 and w.size >= 10 ** 6
    cdf, bound, std = _intended(kind, parameter)
    if bound is not None:
        largest = float(np.abs(w).max())
        assert largest <= np.float32(bound), f"max |x| = {largest} exceeds the bound {bound}"
        assert largest >= bound * (1 - 1e-3), f"max |x| = {largest} is not close to the bound {bound}"
    assert abs(float(w.mean())) < 5 * std / math.sqrt(w.size)
    assert float(w.std()) == pytest.approx(std, rel=0.01)
    p = stats.kstest(w.ravel().astype(np.float64), cdf).pvalue
    assert p > P_MIN, f"KS p = {p:.2e} against {kind} with parameter {parameter}"


# The torch schemes against torch's own samples (same shape, so the same fans).
# torch.nn.init's functions by name, so that importing this module needs no torch.
TORCH_CASES = [
    ("xavier_uniform", {}, "xavier_uniform_"),
    ("xavier_normal", dict(gain=GAIN_TANH), "xavier_normal_"),
    ("kaiming_uniform", dict(a=0.1, mode="fan_out"), "kaiming_uniform_"),
    ("kaiming_normal", dict(nonlinearity="relu"), "kaiming_normal_"),
]


@needs_torch
@pytest.mark.parametrize("name, kwargs, torch_init_name", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_scheme_matches_torch_distribution(name, kwargs, torch_init_name):
    torch_init = getattr(torch.nn.init, torch_init_name)
    shape = (512, 32, 8, 8)
    ours = getattr(fi, name)(shape, **kwargs, seed=7)
    generator = torch.Generator().manual_seed(7)
    theirs = torch_init(torch.empty(shape), **kwargs, generator=generator).numpy()
    assert float(ours.std()) == pytest.approx(float(theirs.std()), rel=0.01)
    p = stats.ks_2samp(ours.ravel(), theirs.ravel()).pvalue
    assert p > P_MIN, f"two-sample KS p = {p:.2e} against torch.nn.init.{torch_init.__name__}"


def test_aliases_are_the_same_functions():
    assert fi.glorot_uniform is fi.xavier_uniform
    assert fi.glorot_normal is fi.xavier_normal
    assert fi.he_uniform is fi.kaiming_uniform
    assert fi.he_normal is fi.kaiming_normal


# Each named scheme is exactly its documented specialization (same numbers, bit for bit).
SPECIALIZATIONS = [
    ("xavier_uniform", lambda s, **k: fi.xavier_uniform(s, 1.5, **k),
     lambda s, **k: fi.variance_scaling(s, 1.5 ** 2, "fan_avg", "uniform", **k)),
    ("xavier_normal", lambda s, **k: fi.xavier_normal(s, 0.5, **k),
     lambda s, **k: fi.variance_scaling(s, 0.5 ** 2, "fan_avg", "normal", **k)),
    ("kaiming_uniform", lambda s, **k: fi.kaiming_uniform(s, 0.3, "fan_out", **k),
     lambda s, **k: fi.variance_scaling(s, fi.calculate_gain("leaky_relu", 0.3) ** 2, "fan_out",
                                        "uniform", **k)),
    ("kaiming_normal", lambda s, **k: fi.kaiming_normal(s, nonlinearity="relu", **k),
     lambda s, **k: fi.variance_scaling(s, fi.calculate_gain("relu") ** 2, "fan_in", "normal", **k)),
    ("lecun_uniform", lambda s, **k: fi.lecun_uniform(s, **k),
     lambda s, **k: fi.variance_scaling(s, 1.0, "fan_in", "uniform", **k)),
    ("lecun_normal", lambda s, **k: fi.lecun_normal(s, **k),
     lambda s, **k: fi.variance_scaling(s, 1.0, "fan_in", "truncated_normal", **k)),
    ("normal-is-untruncated_normal", lambda s, **k: fi.variance_scaling(s, 2.0, "fan_in", "normal", **k),
     lambda s, **k: fi.variance_scaling(s, 2.0, "fan_in", "untruncated_normal", **k)),
]


@pytest.mark.parametrize("named, general", [c[1:] for c in SPECIALIZATIONS],
                         ids=[c[0] for c in SPECIALIZATIONS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_named_scheme_is_its_variance_scaling_specialization(named, general, dtype):
    assert same_bits(named((96, 40, 3), seed=3, stream=2, dtype=dtype),
                     general((96, 40, 3), seed=3, stream=2, dtype=dtype))


def test_truncated_normal_is_trunc_normal_at_two_sigma():
    w = fi.variance_scaling((300, 200), 2.0, "fan_in", seed=5)
    sigma = math.sqrt(2.0 / 200) / TRUNC_STD
    assert same_bits(w, fi.trunc_normal((300, 200), 0.0, sigma, -2 * sigma, 2 * sigma, seed=5))


# ---------------------------------------------------------------------- trunc_normal vs scipy

TRUNC_NORMAL_PARAMS = [
    (0.0, 1.0, -2.0, 2.0),
    (0.0, 1.0, 3.0, 6.0),          # upper tail only
    (0.0, 1.0, -8.0, -7.0),        # far in the lower tail: mass ~1e-12
    (1.0, 0.5, 1.0, 1e3),          # one-sided: from the mean up
    (0.0, 2.0, -1.0, 100.0),       # one-sided-ish
    (-3.0, 0.1, -3.05, -2.9),      # narrow, off zero
    (50.0, 10.0, 80.0, 90.0),      # far from zero and in the tail
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mean, std, a, b", TRUNC_NORMAL_PARAMS, ids=str)
def test_trunc_normal_matches_scipy_truncnorm(mean, std, a, b, dtype):
    w = fi.trunc_normal(200_000, mean, std, a, b, dtype=dtype, seed=2024)
    assert w.min() >= a and w.max() <= b
    reference = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    p = stats.kstest(w.astype(np.float64), reference.cdf).pvalue
    assert p > P_MIN, f"KS p = {p:.2e} for mean={mean}, std={std}, [{a}, {b}], {np.dtype(dtype).name}"
    assert float(w.std()) == pytest.approx(reference.std(), rel=0.02)


# ------------------------------------------------------------ regions, out and layouts

ALL_SCHEMES = [
    ("variance_scaling-fan_avg-truncated", lambda **k: fi.variance_scaling(scale=0.7, mode="fan_avg", **k)),
    ("variance_scaling-fan_geo_avg-uniform",
     lambda **k: fi.variance_scaling(scale=2.0, mode="fan_geo_avg", distribution="uniform", **k)),
    ("variance_scaling-fan_out-normal",
     lambda **k: fi.variance_scaling(scale=1.0, mode="fan_out", distribution="normal", **k)),
    ("xavier_uniform", lambda **k: fi.xavier_uniform(gain=2.0, **k)),
    ("xavier_normal", lambda **k: fi.xavier_normal(**k)),
    ("kaiming_uniform", lambda **k: fi.kaiming_uniform(a=0.1, **k)),
    ("kaiming_normal", lambda **k: fi.kaiming_normal(mode="fan_out", nonlinearity="relu", **k)),
    ("lecun_uniform", lambda **k: fi.lecun_uniform(**k)),
    ("lecun_normal", lambda **k: fi.lecun_normal(**k)),
]
SCHEME_IDS = [c[0] for c in ALL_SCHEMES]
SCHEME_FUNCS = [c[1] for c in ALL_SCHEMES]

REGION_SHAPE = (48, 40, 3, 3)
REGIONS = [
    (slice(5, 30), slice(7, 33), slice(1, 3)),
    (slice(47, 48),),
    (slice(None), slice(0, 1), slice(2, 3), slice(0, 2)),
    (slice(-10, None), slice(-40, -1)),
]


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.float64])
@pytest.mark.parametrize("scheme", SCHEME_FUNCS, ids=SCHEME_IDS)
def test_region_is_the_block_of_the_full_array(scheme, dtype):
    full = scheme(shape=REGION_SHAPE, dtype=dtype, seed=11, stream=4)
    for region in REGIONS:
        block = scheme(shape=REGION_SHAPE, dtype=dtype, seed=11, stream=4, region=region)
        assert same_bits(block, full[region]), f"region {region}"
        # into a non-contiguous out, too
        out = np.empty(full[region].shape[::-1], dtype=dtype).T
        result = scheme(shape=REGION_SHAPE, out=out, seed=11, stream=4, region=region)
        assert result is out and same_bits(out, full[region])


@pytest.mark.parametrize("scheme", SCHEME_FUNCS, ids=SCHEME_IDS)
def test_out_without_shape_takes_its_shape(scheme):
    expected = scheme(shape=(30, 20, 5), dtype=np.float16, seed=1)
    out = np.empty((30, 20, 5), dtype=np.float16)
    assert scheme(out=out, seed=1) is out
    assert same_bits(out, expected)
    view = np.empty((20, 30, 5), dtype=np.float16).transpose(1, 0, 2)
    assert same_bits(scheme(out=view, seed=1), expected)


@pytest.mark.parametrize("scheme", SCHEME_FUNCS, ids=SCHEME_IDS)
def test_jax_layout_gives_the_numbers_of_the_torch_layout_with_the_same_fans(scheme):
    # Values depend on the flat index and the parameters only: an (in, out) Dense
    # kernel with in_axis=-2, out_axis=-1 has the fans of the torch (out, in) weight,
    # hence the same flat numbers.
    dense = scheme(shape=(60, 24), in_axis=-2, out_axis=-1, seed=9)
    linear = scheme(shape=(24, 60), seed=9)
    assert same_bits(dense.ravel(), linear.ravel())
    hwio = scheme(shape=(3, 5, 16, 32), in_axis=-2, out_axis=-1, seed=9)
    oihw = scheme(shape=(32, 16, 3, 5), seed=9)
    assert same_bits(hwio.ravel(), oihw.ravel())
    assert same_bits(hwio, scheme(shape=(3, 5, 16, 32), in_axis=2, out_axis=3, seed=9))


@pytest.mark.parametrize("in_axis, out_axis", [(-2, -1), (0, 2), (2, 1)])
def test_variance_scaling_std_uses_the_axes_fans(in_axis, out_axis):
    shape = (16, 96, 64, 2)
    fan_in, fan_out = fi.compute_fans(shape, in_axis=in_axis, out_axis=out_axis)
    for mode, n in [("fan_in", fan_in), ("fan_out", fan_out)]:
        w = fi.variance_scaling(shape, 2.0, mode, "normal", in_axis=in_axis, out_axis=out_axis, seed=0)
        assert float(w.std()) == pytest.approx(math.sqrt(2.0 / n), rel=0.01)


@pytest.mark.parametrize("dtype", [np.float16, BF16, np.float64])
@pytest.mark.parametrize("name, bound", [
    ("xavier_uniform", math.sqrt(6 / (200 + 300))),
    ("kaiming_uniform", math.sqrt(2) * math.sqrt(3 / 300)),
    ("lecun_uniform", math.sqrt(3 / 300)),
])
def test_uniform_bounds_hold_in_every_dtype(name, bound, dtype):
    w = getattr(fi, name)((200, 300), dtype=dtype, seed=1)
    assert w.dtype == np.dtype(dtype)
    assert float(np.abs(w.astype(np.float64)).max()) <= float(np.asarray(bound).astype(dtype))


def test_seed_and_stream_select_the_numbers():
    a = fi.kaiming_normal((64, 64), seed=1)
    assert same_bits(a, fi.kaiming_normal((64, 64), seed=1))
    assert not np.array_equal(a, fi.kaiming_normal((64, 64), seed=2))
    assert not np.array_equal(a, fi.kaiming_normal((64, 64), seed=1, stream=1))
    assert not np.array_equal(fi.kaiming_normal((64, 64)), fi.kaiming_normal((64, 64)))  # fresh seeds


@pytest.mark.parametrize("scheme", SCHEME_FUNCS, ids=SCHEME_IDS)
def test_named_stream_is_its_stream_id(scheme):
    from fastinit._validate import stream_id
    assert same_bits(scheme(shape=(20, 30), seed=3, stream="layer.0.weight"),
                     scheme(shape=(20, 30), seed=3, stream=stream_id("layer.0.weight")))


def test_gain_zero_gives_zeros():
    assert not fi.xavier_uniform((8, 8), gain=0.0, seed=1).any()
    assert not fi.xavier_normal((8, 8), gain=0, seed=1).any()


# ------------------------------------------------------------------ zero-element arrays

@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (4, 0, 3), (0, 0)], ids=str)
@pytest.mark.parametrize("scheme", SCHEME_FUNCS, ids=SCHEME_IDS)
def test_zero_element_array_is_a_no_op_with_a_warning(scheme, shape):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        w = scheme(shape=shape, seed=1)
    assert w.shape == shape and w.dtype == np.float32
    out = np.empty(shape, dtype=np.float16)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert scheme(out=out, seed=1) is out


@pytest.mark.parametrize("scheme", SCHEME_FUNCS, ids=SCHEME_IDS)
def test_empty_region_of_a_non_empty_array_is_silent(scheme):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = scheme(shape=(6, 5), seed=1, region=(slice(2, 2),))
    assert w.shape == (0, 5)


# ---------------------------------------------------------------------------- bad input

OUT = object()   # placeholder: a guard-filled float32 array of shape (4, 6)


def _guarded_out():
    out = np.empty((4, 6), dtype=np.float32)
    out.view(np.uint32)[...] = 0x5A5A5A5A
    return out


NAN, INF = float("nan"), float("inf")

# (id, function, kwargs, exception, message pattern)
BAD_INPUT = [
    # variance_scaling parameters
    ("scale-zero", fi.variance_scaling, dict(scale=0.0), ValueError, "scale must be > 0; got 0.0"),
    ("scale-negative", fi.variance_scaling, dict(scale=-1), ValueError, r"scale must be > 0; got -1\.0"),
    ("scale-nan", fi.variance_scaling, dict(scale=NAN), ValueError, "scale must be finite; got nan"),
    ("scale-inf", fi.variance_scaling, dict(scale=INF), ValueError, "scale must be finite; got inf"),
    ("scale-str", fi.variance_scaling, dict(scale="1"), TypeError, "scale must be a real number; got str '1'"),
    ("scale-bool", fi.variance_scaling, dict(scale=True), TypeError, "scale must be a real number; got bool"),
    ("mode-unknown", fi.variance_scaling, dict(mode="fan_sum"), ValueError,
     "mode must be one of 'fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'; got 'fan_sum'"),
    ("mode-upper", fi.variance_scaling, dict(mode="FAN_IN"), ValueError, "mode must be one of .*got 'FAN_IN'"),
    ("mode-int", fi.variance_scaling, dict(mode=1), TypeError, "mode must be a string, one of 'fan_in'.*got int 1"),
    ("distribution-unknown", fi.variance_scaling, dict(distribution="gaussian"), ValueError,
     "distribution must be one of 'truncated_normal', 'normal', 'untruncated_normal', 'uniform'; "
     "got 'gaussian'"),
    ("distribution-none", fi.variance_scaling, dict(distribution=None), TypeError,
     "distribution must be a string, one of .*got NoneType None"),
    # fans
    ("shape-1d", fi.variance_scaling, dict(shape=(24,), out=None), ValueError,
     r"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions; got shape \(24,\)"),
    ("shape-0d", fi.xavier_uniform, dict(shape=(), out=None), ValueError, "fewer than 2 dimensions"),
    ("out-1d", fi.lecun_normal, dict(shape=None, out=np.zeros(3, np.float32)), ValueError,
     "fewer than 2 dimensions"),
    ("in_axis-out-of-range", fi.kaiming_normal, dict(in_axis=2), ValueError,
     r"in_axis must be in \[-2, 2\) for shape \(4, 6\); got 2"),
    ("axes-equal", fi.lecun_uniform, dict(in_axis=0), ValueError, "in_axis and out_axis must name different"),
    ("in_axis-float", fi.xavier_normal, dict(in_axis=1.0), TypeError, "in_axis must be an integer; got float"),
    # xavier gain
    ("gain-negative", fi.xavier_uniform, dict(gain=-1.0), ValueError, r"gain must be >= 0; got -1\.0"),
    ("gain-nan", fi.xavier_normal, dict(gain=NAN), ValueError, "gain must be finite; got nan"),
    ("gain-str", fi.xavier_uniform, dict(gain="1"), TypeError, "gain must be a real number; got str"),
    ("gain-none", fi.glorot_normal, dict(gain=None), TypeError, "gain must be a real number; got NoneType"),
    # kaiming
    ("kaiming-mode-fan_avg", fi.kaiming_uniform, dict(mode="fan_avg"), ValueError,
     "mode must be one of 'fan_in', 'fan_out'; got 'fan_avg'"),
    ("kaiming-mode-none", fi.kaiming_normal, dict(mode=None), TypeError, "mode must be a string"),
    ("kaiming-nonlinearity", fi.kaiming_normal, dict(nonlinearity="softplus"), ValueError,
     "nonlinearity must be one of 'linear', .*got 'softplus'"),
    ("kaiming-nonlinearity-type", fi.he_uniform, dict(nonlinearity=None), TypeError,
     "nonlinearity must be a string"),
    ("kaiming-a-bool", fi.kaiming_uniform, dict(a=True), TypeError,
     r"a \(the leaky_relu negative slope\) must be a real number; got bool True"),
    ("kaiming-a-str", fi.he_normal, dict(a="0.1"), TypeError, r"a \(the leaky_relu negative slope\)"),
    ("kaiming-a-nan", fi.kaiming_normal, dict(a=NAN), ValueError,
     r"a \(the leaky_relu negative slope\) must be finite; got nan"),
    # values the output type cannot hold
    ("bound-outside-f16", fi.xavier_uniform, dict(gain=1e6, out=np.zeros((4, 6), np.float16)), ValueError,
     "outside the finite range of float16"),
    # output, seed, stream, region (the core's checks, reached through a scheme)
    ("out-list", fi.xavier_uniform, dict(shape=None, out=[[0.0]]), TypeError, "out must be a numpy.ndarray"),
    ("out-int", fi.lecun_uniform, dict(shape=None, out=np.zeros((4, 6), np.int32)), TypeError,
     "dtype must be one of"),
    ("no-shape-no-out", fi.kaiming_normal, dict(shape=None, out=None), TypeError, "give shape or out"),
    ("shape-mismatch", fi.xavier_normal, dict(shape=(6, 4)), ValueError, r"out has shape \(4, 6\)"),
    ("dtype-int", fi.variance_scaling, dict(out=None, dtype=np.int8), TypeError, "dtype must be one of"),
    ("seed-float", fi.kaiming_uniform, dict(seed=1.5), TypeError, "seed must be an integer; got float 1.5"),
    ("seed-negative", fi.lecun_normal, dict(seed=-1), ValueError, r"seed must be in \[0, 2\*\*64\); got -1"),
    ("stream-big", fi.xavier_uniform, dict(stream=2 ** 64), ValueError, r"stream must be in \[0, 2\*\*64\)"),
    ("region-out-of-bounds", fi.kaiming_normal, dict(shape=(4, 6), out=None, region=(slice(0, 5),)),
     ValueError, r"region\[0\] = slice\(0, 5, None\) is out of bounds"),
    ("region-without-shape", fi.lecun_uniform, dict(shape=None, region=(slice(0, 2),)), ValueError,
     "region needs shape"),
]


@pytest.mark.parametrize("func, kwargs, exc, pattern", [c[1:] for c in BAD_INPUT],
                         ids=[c[0] for c in BAD_INPUT])
def test_bad_input_raises_and_writes_nothing(func, kwargs, exc, pattern):
    kwargs = {"shape": (4, 6), "out": OUT, "seed": 1, **kwargs}
    if kwargs["out"] is OUT:
        kwargs["out"] = _guarded_out()
    out = kwargs["out"]
    before = out.copy() if isinstance(out, np.ndarray) else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # validation itself must not warn
        with pytest.raises(exc, match=pattern):
            func(**kwargs)
    if before is not None:
        assert same_bits(out, before), "out was written although the call failed"


@pytest.mark.parametrize("scheme", [fi.xavier_uniform, fi.kaiming_normal, fi.lecun_uniform,
                                    fi.variance_scaling])
def test_fan_layout_and_output_arguments_are_keyword_only(scheme):
    with pytest.raises(TypeError):
        scheme((4, 6), 1.0, "fan_in", "normal", 1, 0)
