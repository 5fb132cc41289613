"""Statistical quality of the fills (seeded, so every run sees the same numbers).

* Kolmogorov-Smirnov against the exact distribution for float32 and float64.
* float16/bfloat16: a chi-square test against the distribution *after*
  round-to-nearest (bin edges are representable, and each bin's probability
  is taken between the rounding midpoints), plus moments.
* Mean, standard deviation, skewness and kurtosis within a few standard errors.
* Independence: the two members of a Box-Muller pair, neighbours, and
  different seeds/streams are uncorrelated.
* Normal tails: P(|z| > 4) and P(|z| > 5) match 2*norm.sf within Poisson
  error, |z| > 5.5 is reached, and the largest reachable radius
  (radius word 0) is ~6.66 for float32 and ~8.57 for float64.
* Uniform bounds and resolution: values lie in [low, high], float32/float64
  on [0, 1) never reach 1, and float32 uses 24 bits, float64 53 bits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import fastinit as fi
from fastinit import reference

from _util import DTYPES, KINDS

P_MIN = 1e-4          # reject only overwhelming evidence: seeded tests must not flake across platforms
N_KS = 300_000
N_MOMENTS = 1_000_000

UNIFORM_PARAMS = [(0.0, 1.0), (-3.5, 2.25), (10.0, 10.5)]
# For moments of half types the grid must be fine relative to the width, or rounding adds
# variance (Sheppard's correction): bfloat16 has only 9 values in [10, 10.5].
UNIFORM_MOMENT_PARAMS = [(0.0, 1.0), (-3.5, 2.25), (10.0, 20.0)]
NORMAL_PARAMS = [(0.0, 1.0), (-2.0, 0.5), (100.0, 15.0)]


def _as_f64(a):
    return np.asarray(a).astype(np.float64)


# ---------------------------------------------------------------------------
# Goodness of fit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["float32", "float64"])
@pytest.mark.parametrize("low, high", UNIFORM_PARAMS)
def test_uniform_ks(kind, low, high):
    x = _as_f64(fi.uniform(N_KS, low, high, dtype=DTYPES[kind], seed=2024, stream=1))
    result = stats.kstest(x, "uniform", args=(low, high - low))
    assert result.pvalue > P_MIN, result


@pytest.mark.parametrize("kind", ["float32", "float64"])
@pytest.mark.parametrize("mean, std", NORMAL_PARAMS)
def test_normal_ks(kind, mean, std):
    x = _as_f64(fi.normal(N_KS, mean, std, dtype=DTYPES[kind], seed=2024, stream=2))
    result = stats.kstest(x, "norm", args=(mean, std))
    assert result.pvalue > P_MIN, result


@pytest.mark.parametrize("seed", [0, 1, 2**64 - 1])
def test_normal_ks_across_seeds_and_offsets(seed):
    """Not just one lucky seed; and a window far into the stream."""
    x = _as_f64(fi.normal(2**40 + N_KS, seed=seed, region=(slice(2**40, None),)))
    assert stats.kstest(x, "norm").pvalue > P_MIN


def _rounded_bin_probabilities(edges, dtype, cdf):
    """P(value rounded to `dtype` lands in each bin (-inf, e0), [e0, e1), ..., [e_last, inf)).

    A continuous x rounds to a value >= e (e representable) iff x lies above
    the midpoint between e and its predecessor in `dtype`.
    """
    e = np.asarray(edges, dtype=dtype)
    below = np.nextafter(e, np.asarray(-np.inf, dtype=dtype))
    thresholds = (e.astype(np.float64) + below.astype(np.float64)) / 2
    cumulative = np.concatenate([[0.0], cdf(thresholds), [1.0]])
    return np.diff(cumulative)


@pytest.mark.parametrize("kind", ["float16", "bfloat16"])
@pytest.mark.parametrize("dist", ["uniform", "normal"])
def test_half_precision_chi_square(dist, kind):
    dtype = DTYPES[kind]
    n = N_KS
    if dist == "uniform":
        edges = np.arange(0, 33) / 32.0                   # 0, 1/32, ..., 1: representable in both types
        cdf = stats.uniform(0.0, 1.0).cdf
        x = fi.uniform(n, dtype=dtype, seed=77)
    else:
        edges = np.arange(-56, 57) / 16.0                 # -3.5 .. 3.5 in steps of 1/16
        cdf = stats.norm.cdf
        x = fi.normal(n, dtype=dtype, seed=77)
    assert np.array_equal(np.asarray(edges, dtype=dtype).astype(np.float64), edges)
    probabilities = _rounded_bin_probabilities(edges, dtype, cdf)
    observed = np.bincount(np.searchsorted(edges, _as_f64(x), side="right"), minlength=len(edges) + 1)
    expected = n * probabilities
    keep = expected > 0                                    # the uniform's (-inf, 0) bin is empty
    assert observed[~keep].sum() == 0
    assert expected[keep].min() > 5
    result = stats.chisquare(observed[keep], expected[keep] * observed.sum() / expected[keep].sum())
    assert result.pvalue > P_MIN, result


# ---------------------------------------------------------------------------
# Moments
# ---------------------------------------------------------------------------


def _assert_moments(x, mean, std, kurtosis, label):
    """Sample mean and std within 5 standard errors (std's error depends on the kurtosis)."""
    n = x.size
    assert np.isfinite(x).all(), f"{label}: non-finite values"
    se_mean = std / math.sqrt(n)
    se_std = std * math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(x.mean() - mean) < 5 * se_mean + 1e-12 * abs(mean), f"{label}: mean {x.mean()} vs {mean}"
    assert abs(x.std() - std) < 5 * se_std, f"{label}: std {x.std()} vs {std}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("low, high", UNIFORM_MOMENT_PARAMS)
def test_uniform_moments(kind, low, high):
    x = _as_f64(fi.uniform(N_MOMENTS, low, high, dtype=DTYPES[kind], seed=5, stream=KINDS.index(kind)))
    _assert_moments(x, (low + high) / 2, (high - low) / math.sqrt(12), 1.8, f"uniform {kind}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mean, std", NORMAL_PARAMS)
def test_normal_moments(kind, mean, std):
    x = _as_f64(fi.normal(N_MOMENTS, mean, std, dtype=DTYPES[kind], seed=6))
    _assert_moments(x, mean, std, 3.0, f"normal {kind}")
    z = (x - mean) / std
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / z.size)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / z.size)


def test_normal_std_zero_is_the_mean():
    for kind in KINDS:
        x = _as_f64(fi.normal(1000, 1.5, 0.0, dtype=DTYPES[kind], seed=1))
        assert np.all(x == 1.5), kind


# ---------------------------------------------------------------------------
# Independence
# ---------------------------------------------------------------------------


def _max_abs_corr_allowed(n):
    return 5 / math.sqrt(n)


@pytest.mark.parametrize("kind", ["float32", "float64"])
def test_box_muller_pair_members_are_uncorrelated(kind):
    """Both members of a pair share the radius: z0, z1 and z0**2, z1**2 must still be uncorrelated."""
    z = _as_f64(fi.normal(2 * N_MOMENTS, dtype=DTYPES[kind], seed=9))
    z0, z1 = z[0::2], z[1::2]
    limit = _max_abs_corr_allowed(z0.size)
    assert abs(np.corrcoef(z0, z1)[0, 1]) < limit
    assert abs(np.corrcoef(z0**2, z1**2)[0, 1]) < limit
    # The angle is uniform: the sign pattern of (z0, z1) is uniform over the four quadrants.
    quadrant = (z0 > 0).astype(int) * 2 + (z1 > 0)
    counts = np.bincount(quadrant, minlength=4)
    assert stats.chisquare(counts).pvalue > P_MIN


@pytest.mark.parametrize("dist", ["uniform", "normal"])
def test_neighbours_are_uncorrelated(dist):
    x = _as_f64(getattr(fi, dist)(N_MOMENTS, seed=10))
    limit = _max_abs_corr_allowed(x.size)
    for lag in (1, 2, 3, 4, 5, 8):
        assert abs(np.corrcoef(x[:-lag], x[lag:])[0, 1]) < limit, f"lag {lag}"


@pytest.mark.parametrize("other", [dict(seed=12, stream=0), dict(seed=11, stream=1),
                                   dict(seed=11 + 2**32, stream=0), dict(seed=11, stream=2**32)])
def test_different_seeds_and_streams_are_uncorrelated(other):
    a = _as_f64(fi.normal(N_MOMENTS, seed=11, stream=0))
    b = _as_f64(fi.normal(N_MOMENTS, **other))
    assert abs(np.corrcoef(a, b)[0, 1]) < _max_abs_corr_allowed(a.size)


# ---------------------------------------------------------------------------
# Normal tails
# ---------------------------------------------------------------------------


def _poisson_ok(count, expected, sigmas=5.0):
    return abs(count - expected) < sigmas * math.sqrt(expected)


def test_normal_tail_frequencies_float32():
    """4e8 float32 samples, drawn in regions: P(|z|>4), P(|z|>5) and reaching |z| > 5.5."""
    n, chunk = 400_000_000, 1 << 22
    buffer = np.empty(chunk, dtype=np.float32)
    tails = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        z = fi.normal(n, seed=0, region=(slice(start, stop),), out=buffer[:stop - start])
        np.abs(z, out=z)
        tails.append(z[z > 4].copy())
    tail = np.concatenate(tails)
    for threshold in (4.0, 5.0):
        count = int(np.count_nonzero(tail > threshold))
        expected = n * 2 * stats.norm.sf(threshold)
        assert _poisson_ok(count, expected), f"|z| > {threshold}: {count} vs {expected:.1f}"
    # Expected ~15 values beyond 5.5: a stream whose radius were cut short would have none.
    assert tail.max() > 5.5
    assert _poisson_ok(int(np.count_nonzero(tail > 5.5)), n * 2 * stats.norm.sf(5.5))


def test_normal_tail_frequencies_float64():
    n = 20_000_000
    z = np.abs(fi.normal(n, dtype=np.float64, seed=1))
    for threshold in (3.0, 4.0):
        count = int(np.count_nonzero(z > threshold))
        assert _poisson_ok(count, n * 2 * stats.norm.sf(threshold)), threshold


def test_largest_radius_float32_reference():
    """Radius word 0 gives u = 2**-32: r = sqrt(-2 ln 2**-32) = 6.66 > 6.5."""
    zero = np.zeros(1, dtype=np.uint32)
    z_cos, z_sin = reference._box_muller_f32(zero, zero)          # angle word 0: angle 0
    assert z_sin[0] == 0.0
    assert z_cos[0] == pytest.approx(math.sqrt(64 * math.log(2)), rel=1e-6)
    assert z_cos[0] > 6.5


def test_largest_radius_float64_reference():
    """All four words 0: u = 2**-53, r = sqrt(106 ln 2) = 8.57."""
    zero = np.zeros(1, dtype=np.uint32)
    z_cos, z_sin = reference._box_muller_f64(zero, zero, zero, zero)
    assert z_sin[0] == 0.0
    assert z_cos[0] == pytest.approx(math.sqrt(106 * math.log(2)), rel=1e-12)


def test_radius_is_finite_at_both_ends_of_the_word_range():
    """u -> 1 (top radius words) must give r = 0 or tiny, never NaN from a positive log."""
    words = np.concatenate([np.arange(0, 1 << 16), np.arange(2**32 - (1 << 20), 2**32)]).astype(np.uint32)
    angle = np.full(words.shape, 0x12345678, dtype=np.uint32)
    z_cos, z_sin = reference._box_muller_f32(words, angle)
    r = np.hypot(z_cos.astype(np.float64), z_sin.astype(np.float64))
    assert np.isfinite(r).all()
    assert r[-1] == 0.0                                   # word 2**32 - 1: u == 1 exactly
    assert r.max() == pytest.approx(6.6604, abs=1e-3)


def test_deep_tail_through_the_kernels(simd):
    """Find small radius words in the raw stream; the kernels' pair there has the matching radius."""
    words = fi.random_raw(1 << 25, seed=4)
    radius_words = words[0::2]                             # element pair p uses words 2p (radius), 2p+1
    pairs = np.flatnonzero(radius_words < (1 << 12))[:10]
    assert pairs.size >= 3
    for p in pairs:
        p = int(p)
        z = fi.normal(1 << 25, seed=4, region=(slice(2 * p, 2 * p + 2),)).astype(np.float64)
        u = (float(radius_words[p]) + 1.0) * 2.0**-32
        radius = math.sqrt(-2.0 * math.log(u))
        assert radius > 5.2
        assert math.hypot(z[0], z[1]) == pytest.approx(radius, rel=1e-5)


# ---------------------------------------------------------------------------
# Uniform bounds and resolution
# ---------------------------------------------------------------------------


def _rounded_bound(value, kind):
    """A bound as the kernels see it: float64 as is; otherwise rounded to float32, then to the dtype."""
    if kind == "float64":
        return value
    return float(np.float32(value).astype(DTYPES[kind]).astype(np.float64))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("low, high", UNIFORM_PARAMS + [(-1e-3, 1e-3), (-60000.0, 60000.0), (0.1, 0.7)])
def test_uniform_within_bounds(kind, low, high):
    """low <= x <= high, "up to the final rounding": against the bounds rounded to the dtype."""
    x = _as_f64(fi.uniform(N_MOMENTS, low, high, dtype=DTYPES[kind], seed=13))
    lo, hi = _rounded_bound(low, kind), _rounded_bound(high, kind)
    assert x.min() >= lo and x.max() <= hi
    # The range is covered: extremes within 1e-4 of the width (expected gap ~1e-6).
    width = high - low
    assert x.min() - low < 1e-4 * width + abs(low) * 2**-7
    assert high - x.max() < 1e-4 * width + abs(high) * 2**-7


def test_uniform_float32_never_exceeds_high():
    """Values may round to high itself, never past it (even past float32(high)).

    For these bounds float32(low) + float32(high - low) * u rounds one ulp above
    float32(high) for the two largest u: about 4 in 2**25 draws.
    """
    low, high = -1.0258313928885707, -0.6536580026687069
    x = fi.uniform(2**25, low, high, seed=0)
    above = np.flatnonzero(x > np.float32(high))
    assert above.size == 0, (f"{above.size} values above high={high}, e.g. x[{above[0]}] = {x[above[0]]!r} "
                             f"> float32(high) = {np.float32(high)!r}")


@pytest.mark.parametrize("kind", ["float32", "float64"])
def test_uniform_unit_interval_excludes_one(kind):
    x = fi.uniform(4 * N_MOMENTS, dtype=DTYPES[kind], seed=14)
    assert x.min() >= 0 and x.max() < 1


def test_uniform_half_types_may_round_up_to_high_but_not_beyond():
    for kind in ("float16", "bfloat16"):
        x = _as_f64(fi.uniform(N_MOMENTS, dtype=DTYPES[kind], seed=15))
        assert x.min() >= 0 and x.max() <= 1
        assert np.any(x == 1.0), kind                      # P(u rounds to 1) = 2**-12 / 2**-9 per draw


def test_uniform_resolution():
    """float32 values on [0, 1) are k * 2**-24 with all 24 bits used; float64 uses 53 bits."""
    x32 = fi.uniform(N_MOMENTS, dtype=np.float32, seed=16).astype(np.float64) * 2**24
    assert np.array_equal(x32, np.floor(x32))
    assert np.any(x32 % 2 == 1)                            # the lowest of the 24 bits varies
    assert np.unique(x32).size > 0.97 * x32.size
    x64 = fi.uniform(N_MOMENTS, dtype=np.float64, seed=16) * 2.0**53
    assert np.array_equal(x64, np.floor(x64))
    assert np.any(x64 % 2 == 1)
    assert np.any(x64 % 2**29 != 0)                        # finer than float32's grid
