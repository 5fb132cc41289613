"""Slow, pure-NumPy reference implementation of stream v1.

This module is the executable specification of the fastinit stream: every
value the C kernels produce is defined here, operation by operation, using
only correctly rounded IEEE-754 NumPy arithmetic (no fused multiply-add,
no library ``log``/``sin``).  The kernels evaluate the same operations in
the same order, so the two agree bit for bit.  The tests compare them.

It is written for clarity, not speed: use it on at most a few million
elements.

See ``docs/stream.md`` for the same contract in prose.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "STREAM_VERSION",
    "philox4x32",
    "raw_words",
    "uniform_flat",
    "normal_flat",
    "trunc_normal_flat",
    "trunc_normal_parameters",
    "trunc_normal_narrow_parameters",
    "trunc_normal_is_narrow",
    "trunc_normal_kernel",
    "round_to_bfloat16_bits",
    "round_to_float16_bits",
]

STREAM_VERSION = 1

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
PHILOX_ROUNDS = 10

_MASK32 = np.uint64(0xFFFFFFFF)

# ---------------------------------------------------------------------------
# Philox4x32 (Salmon et al., SC'11)
# ---------------------------------------------------------------------------


def philox4x32(counters, key, rounds=PHILOX_ROUNDS):
    """Philox4x32-R on an ``(n, 4)`` array of uint32 counters with one key.

    Parameters
    ----------
    counters : array_like of uint32, shape (n, 4)
    key : tuple of two ints (k0, k1), each in [0, 2**32)
    rounds : int

    Returns
    -------
    ndarray of uint32, shape (n, 4)
    """
    c = np.asarray(counters, dtype=np.uint64).reshape(-1, 4)
    c0, c1, c2, c3 = (c[:, i].copy() for i in range(4))
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for r in range(rounds):
        if r:
            k0 = (k0 + PHILOX_W0) & 0xFFFFFFFF
            k1 = (k1 + PHILOX_W1) & 0xFFFFFFFF
        p0 = c0 * np.uint64(PHILOX_M0)  # < 2**64: exact in uint64
        p1 = c2 * np.uint64(PHILOX_M1)
        c0, c1, c2, c3 = (
            (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0),
            p1 & _MASK32,
            (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1),
            p0 & _MASK32,
        )
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def _blocks(seed, stream, first_block, nblocks):
    """Philox output of blocks ``first_block .. first_block+nblocks-1``."""
    j = np.arange(nblocks, dtype=np.uint64) + np.uint64(first_block)
    s = int(stream)
    ctr = np.empty((nblocks, 4), dtype=np.uint64)
    ctr[:, 0] = j & _MASK32
    ctr[:, 1] = j >> np.uint64(32)
    ctr[:, 2] = s & 0xFFFFFFFF
    ctr[:, 3] = s >> 32
    seed = int(seed)
    return philox4x32(ctr, (seed & 0xFFFFFFFF, seed >> 32))


def raw_words(seed, stream, start, n):
    """uint32 words ``start .. start+n-1`` of stream ``stream``."""
    start, n = int(start), int(n)
    if n == 0:
        return np.empty(0, dtype=np.uint32)
    b0, b1 = start // 4, (start + n - 1) // 4
    words = _blocks(seed, stream, b0, b1 - b0 + 1).reshape(-1)
    off = start - 4 * b0
    return words[off:off + n]


# ---------------------------------------------------------------------------
# Constants shared with src_c/fi_constants.h (same expressions, same rounding)
# ---------------------------------------------------------------------------

F32 = np.float32
F64 = np.float64

_TWO_M24 = F32(2.0 ** -24)
_TWO_M32 = F32(2.0 ** -32)
_TWO_M53 = F64(2.0 ** -53)
_TWO_PI_2M32_F32 = F32(2.0 * np.pi / 2.0 ** 32)
_TWO_PI_2M53_F64 = F64(2.0 * np.pi / 2.0 ** 53)

_LN2_HI_F32 = F32(0.693145751953125)
_LN2_LO_F32 = F32(1.428606765330187e-06)
_LN2_HI_F64 = F64(6.93147180369123816490e-01)
_LN2_LO_F64 = F64(1.90821492927058770002e-10)
_SQRT2_F32 = F32(1.41421356237309504880)
_SQRT2_F64 = F64(1.41421356237309504880)


def _inv_factorial(k):
    f = 1.0
    for i in range(2, k + 1):
        f *= i
    return 1.0 / f


# ln(m) = 2*atanh(s), s = (m-1)/(m+1):  2s + s^3 * P(s^2), P = sum 2/(2k+1) s^(2k-2)
_LOG_F32 = [F32(2.0 / (2 * k + 1)) for k in range(1, 5)]     # 2/3 .. 2/9
_LOG_F64 = [F64(2.0 / (2 * k + 1)) for k in range(1, 11)]    # 2/3 .. 2/21
# sin(a) = a + a^3 * S(a^2); cos(a) = 1 - a^2/2 + a^4 * C(a^2)  (Taylor, |a| <= pi/4)
_SIN_F32 = [F32((-1) ** k * _inv_factorial(2 * k + 1)) for k in range(1, 5)]   # a^3..a^9
_COS_F32 = [F32((-1) ** k * _inv_factorial(2 * k)) for k in range(2, 6)]       # a^4..a^10
_SIN_F64 = [F64((-1) ** k * _inv_factorial(2 * k + 1)) for k in range(1, 9)]   # a^3..a^17
_COS_F64 = [F64((-1) ** k * _inv_factorial(2 * k)) for k in range(2, 10)]      # a^4..a^18


def _horner(x, coeffs):
    """coeffs[0] + x*(coeffs[1] + x*(...)), evaluated innermost first."""
    acc = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = acc * x + c
    return acc


# ---------------------------------------------------------------------------
# Elementary functions, exactly as the kernels evaluate them
# ---------------------------------------------------------------------------


# Per precision, for :func:`_log`: the unsigned and signed integers of the float's
# width, its mantissa bits and exponent bias, sqrt(2), the series and ln 2 (high, low).
_LOG_FORMATS = {
    F32: (np.uint32, np.int32, 23, 127, _SQRT2_F32, _LOG_F32, _LN2_HI_F32, _LN2_LO_F32),
    F64: (np.uint64, np.int64, 52, 1023, _SQRT2_F64, _LOG_F64, _LN2_HI_F64, _LN2_LO_F64),
}


def _log(u, F):
    """ln(u) for normal u > 0 of precision F (float32 or float64), computed in F."""
    U, I, mantissa_bits, bias, sqrt2, series, ln2_hi, ln2_lo = _LOG_FORMATS[F]
    bits = u.view(U)
    e = (bits >> U(mantissa_bits)).astype(I) - I(bias)
    m = ((bits & U((1 << mantissa_bits) - 1)) | U(bias << mantissa_bits)).view(F)
    big = m > sqrt2
    m = np.where(big, m * F(0.5), m)
    e = e + big.astype(I)
    s = (m - F(1.0)) / (m + F(1.0))
    s2 = s * s
    lnm = (s + s) + (s * s2) * _horner(s2, series)
    ef = e.astype(F)
    return ef * ln2_hi + (lnm + ef * ln2_lo)


def _sincos_poly(a, sin_c, cos_c, one, half):
    a2 = a * a
    s = a + (a * a2) * _horner(a2, sin_c)
    c = (one - a2 * half) + (a2 * a2) * _horner(a2, cos_c)
    return s, c


def _rotate_quadrant(q, s, c):
    """(cos, sin) of q*pi/2 + a from (sin a, cos a); exact sign/swap moves."""
    swap = (q & 1) == 1
    cos_t = np.where(swap, s, c)
    sin_t = np.where(swap, c, s)
    cos_t = np.where(((q + 1) & 2) != 0, -cos_t, cos_t)
    sin_t = np.where((q & 2) != 0, -sin_t, sin_t)
    return cos_t, sin_t


def _u32_to_f32(x):
    """Correctly rounded uint32 -> float32, as hi*65536 + lo (one rounding)."""
    hi = (x >> np.uint32(16)).astype(np.int32).astype(F32)
    lo = (x & np.uint32(0xFFFF)).astype(np.int32).astype(F32)
    return hi * F32(65536.0) + lo


def _box_muller_f32(xr, xa):
    """Standard normal pair from a radius word and an angle word (float32)."""
    u = (_u32_to_f32(xr) + F32(1.0)) * _TWO_M32           # (0, 1]
    r = np.sqrt(_log(u, F32) * F32(-2.0))
    q = ((xa + np.uint32(0x20000000)) >> np.uint32(30)) & np.uint32(3)
    d = (xa - (q << np.uint32(30))).view(np.int32)          # [-2**29, 2**29)
    a = d.astype(F32) * _TWO_PI_2M32_F32                    # [-pi/4, pi/4)
    s, c = _sincos_poly(a, _SIN_F32, _COS_F32, F32(1.0), F32(0.5))
    cos_t, sin_t = _rotate_quadrant(q.astype(np.int64), s, c)
    return r * cos_t, r * sin_t


def _u53_f64(x_hi, x_lo):
    """53-bit integer (x_hi >> 5) * 2**26 + (x_lo >> 6) as float64 (exact)."""
    a = (x_hi >> np.uint32(5)).astype(F64)
    b = (x_lo >> np.uint32(6)).astype(F64)
    return a * F64(67108864.0) + b


def _box_muller_f64(x0, x1, x2, x3):
    """Standard normal pair from one Philox block (float64)."""
    u = (_u53_f64(x0, x1) + F64(1.0)) * _TWO_M53             # (0, 1]
    r = np.sqrt(_log(u, F64) * F64(-2.0))
    q = ((x3 + np.uint32(0x20000000)) >> np.uint32(30)) & np.uint32(3)
    d = (x3 - (q << np.uint32(30))).view(np.int32)           # [-2**29, 2**29)
    dfull = d.astype(F64) * F64(2097152.0) + (x2 >> np.uint32(11)).astype(F64)
    a = dfull * _TWO_PI_2M53_F64                             # [-pi/4, pi/4)
    s, c = _sincos_poly(a, _SIN_F64, _COS_F64, F64(1.0), F64(0.5))
    cos_t, sin_t = _rotate_quadrant(q.astype(np.int64), s, c)
    return r * cos_t, r * sin_t


# Inverse normal CDF on (0, 1/2]: P. J. Acklam's rational approximations.
_NDTRI_TAIL = 0.02425
_NDTRI_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_NDTRI_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01)
_NDTRI_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_NDTRI_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
            3.754408661907416e+00)


def _horner_high(x, coeffs):
    """coeffs[0]*x**k + ... + coeffs[-1], the first coefficient innermost."""
    acc = coeffs[0]
    for c in coeffs[1:]:
        acc = acc * x + c
    return acc


def _ndtri_lower(t, F):
    """Phi^-1(t) for 0 < t <= 1/2 in precision F (float32 or float64)."""
    qt = np.sqrt(_log(t, F) * F(-2.0))
    num_t = _horner_high(qt, [F(c) for c in _NDTRI_C])
    den_t = _horner_high(qt, [F(c) for c in _NDTRI_D]) * qt + F(1.0)
    q = t - F(0.5)
    r = q * q
    num_c = _horner_high(r, [F(c) for c in _NDTRI_A]) * q
    den_c = _horner_high(r, [F(c) for c in _NDTRI_B]) * r + F(1.0)
    tail = t < F(_NDTRI_TAIL)
    return np.where(tail, num_t, num_c) / np.where(tail, den_t, den_c)


def _std_normal_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# Intervals whose whole mass lies this far in one tail cannot be inverted in float32.
TRUNC_NORMAL_MIN_TAIL_MASS = 1e-30


def trunc_normal_parameters(mean, std, a, b):
    """Kernel parameters of a truncated normal on [a, b] (absolute bounds).

    The standardized bounds ``alpha, beta`` are mirrored to ``-beta, -alpha``
    when ``alpha + beta > 0`` so that the interval leans to the lower tail,
    where CDF values keep their relative precision.

    Returns
    -------
    tuple of 8 floats
        ``(mean, std, Phi(alpha), Phi(beta) - Phi(alpha), Phi(-beta), a, b, mirror)``
        with ``mirror`` = -1.0 when mirrored, else 1.0.

    Raises
    ------
    ValueError
        If the interval's probability mass is below TRUNC_NORMAL_MIN_TAIL_MASS
        (the whole interval more than about 11.3 standard deviations out).
    """
    alpha, beta = (a - mean) / std, (b - mean) / std
    mirror = alpha + beta > 0
    if mirror:
        alpha, beta = -beta, -alpha
    p_alpha, p_beta = _std_normal_cdf(alpha), _std_normal_cdf(beta)
    if p_beta < TRUNC_NORMAL_MIN_TAIL_MASS:
        raise ValueError(
            f"the interval [a, b] = [{a}, {b}] lies {min(abs(alpha), abs(beta)):.1f} standard "
            f"deviations from the mean {mean}, beyond the supported ~11.3 (its probability "
            f"mass {p_beta:.3g} is below {TRUNC_NORMAL_MIN_TAIL_MASS:g})"
        )
    if beta <= 0:
        width = p_beta - p_alpha
    else:
        width = 0.5 * (math.erf(beta / math.sqrt(2.0)) - math.erf(alpha / math.sqrt(2.0)))
    return (float(mean), float(std), p_alpha, width, _std_normal_cdf(-beta), float(a), float(b),
            -1.0 if mirror else 1.0)


def trunc_normal_is_narrow(params):
    """Whether :func:`trunc_normal_parameters` ``params`` select the narrow-interval transform.

    The inversion ``t = Phi(alpha) + u * w`` forms CDF values up to
    ``t_max = min(Phi(alpha) + w, 1/2)``; floating-point numbers near
    ``t_max`` are spaced at most ``t_max * eps`` apart, one step of ``u`` moves
    ``t`` by ``w * eps``.  When ``t_max > 2 * w`` the spacing of ``t`` is
    certainly coarser than the step of ``u`` and the quantization of ``t``,
    not ``u``, sets the resolution (in float32 and float64 alike), so the
    narrow transform takes over.  Elsewhere ``t`` loses at most one bit of
    ``u``'s resolution.  See docs/stream.md, "Corrections".
    """
    p_alpha, width = params[2], params[3]
    return 2.0 * width < min(p_alpha + width, 0.5)


def trunc_normal_narrow_parameters(mean, std, a, b):
    """Kernel parameters of the narrow-interval truncated normal on [a, b].

    With the bounds standardized and mirrored as in :func:`trunc_normal_parameters`
    (lower standardized bound ``alpha <= 0``, width ``h = (b - a) / std``), the
    fraction ``q`` in [0, 1] of the way from ``v0`` (the end at ``alpha``) to
    ``v1`` has density proportional to ``exp(-A q - B q**2)``.

    Returns
    -------
    tuple of 8 floats
        ``(A, B, v0, v1, v1 - v0, a, b, 0.0)`` with ``A = alpha * h``, ``B = h*h / 2``.
    """
    mean, std, a, b = float(mean), float(std), float(a), float(b)
    mirror = (a - mean) / std + (b - mean) / std > 0
    if mirror:
        alpha, v0, v1 = (mean - b) / std, b, a
    else:
        alpha, v0, v1 = (a - mean) / std, a, b
    h = (b - a) / std
    return (alpha * h, (h * h) * 0.5, v0, v1, v1 - v0, a, b, 0.0)


def trunc_normal_kernel(mean, std, a, b):
    """``("narrow" | "ordinary", parameters)``: the transform a trunc_normal fill uses.

    Raises ValueError as :func:`trunc_normal_parameters` does.
    """
    params = trunc_normal_parameters(mean, std, a, b)
    if trunc_normal_is_narrow(params):
        return "narrow", trunc_normal_narrow_parameters(mean, std, a, b)
    return "ordinary", params


# Narrow interval: Taylor coefficients c_0..c_20 of exp(-A q - B q^2), Newton steps
# (src_c/fi_constants.h, FI_NARROW_NCOEF and FI_NARROW_STEPS).
NARROW_NCOEF = 21
NARROW_STEPS = 4


def _narrow_series(A, B):
    """(c, d): f(q) = sum c_k q**k = exp(-A q - B q**2) and F(q) = q * sum d_k q**k = int_0^q f."""
    c = [1.0, -A]
    for k in range(1, NARROW_NCOEF - 1):
        c.append(((-A) * c[k] - (B + B) * c[k - 1]) / float(k + 1))
    return [F64(v) for v in c], [F64(c[k] / float(k + 1)) for k in range(NARROW_NCOEF)]


def _narrow_horner(coef, x):
    acc = coef[-1]
    for c in reversed(coef[:-1]):
        acc = acc * x + c
    return acc


def _narrow_solve(series, target):
    """q in [0, 1/2] with F(q) = target: fixed Newton steps from q = target."""
    c, d = series
    q = np.minimum(target, F64(0.5))
    for _ in range(NARROW_STEPS):
        f = _narrow_horner(c, q)
        big_f = _narrow_horner(d, q) * q
        q = q - (big_f - target) / f
        q = np.where(q > F64(0.0), q, F64(0.0))
        q = np.where(q < F64(0.5), q, F64(0.5))
    return q


def _trunc_normal_narrow_transform(u, params):
    """float64 values of the narrow-interval truncated normal for uniforms ``u`` in (0, 1).

    Each half of the interval is inverted from its own end: ``q`` from ``v0``
    on [0, 1/2], ``r = 1 - q`` from ``v1`` (density ``exp(-A' r - B r**2)``,
    ``A' = -(A + 2B)``).
    """
    A, B, v0, v1, span, lo, hi, _ = (float(v) for v in params)
    half = F64(0.5)
    lo_series = _narrow_series(A, B)
    hi_series = _narrow_series(-(A + (B + B)), B)
    lo_scale = _narrow_horner(lo_series[0], half)
    hi_scale = _narrow_horner(hi_series[0], half)
    lo_mass = (_narrow_horner(lo_series[1], half) * half) / lo_scale
    mid_mass = lo_mass + (_narrow_horner(hi_series[1], half) * half) / hi_scale
    lower = u * mid_mass <= lo_mass
    q = _narrow_solve(lo_series, (u * mid_mass) * lo_scale)
    r = _narrow_solve(hi_series, ((F64(1.0) - u) * mid_mass) * hi_scale)
    v = np.where(lower, F64(v0) + F64(span) * q, F64(v1) - F64(span) * r)
    v = np.where(v > F64(lo), v, F64(lo))
    return np.where(v < F64(hi), v, F64(hi))


def _trunc_normal_transform(u, params, F):
    mean, std, pa, width, qb, lo, hi, mirror = (F(v) for v in params)
    t_lower = pa + u * width
    t_upper = qb + (F(1.0) - u) * width
    lower = t_lower <= F(0.5)
    x = _ndtri_lower(np.where(lower, t_lower, t_upper), F)
    z = np.where((~lower) != (mirror < 0), -x, x)
    v = mean + std * z
    v = np.where(v > lo, v, lo)
    return np.where(v < hi, v, hi)


# ---------------------------------------------------------------------------
# Half-precision rounding (round to nearest even of the float32 value)
# ---------------------------------------------------------------------------


def round_to_float16_bits(x32):
    """IEEE binary16 bits of float32 values, round to nearest even."""
    return np.asarray(x32, dtype=F32).astype(np.float16).view(np.uint16)


def round_to_bfloat16_bits(x32):
    """bfloat16 bits of float32 values, round to nearest even (NaN kept quiet)."""
    u = np.asarray(x32, dtype=F32).view(np.uint32).astype(np.uint64)
    r = ((u + np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16))
    nan = (u & np.uint64(0x7FFFFFFF)) > np.uint64(0x7F800000)
    r = np.where(nan, (u >> np.uint64(16)) | np.uint64(0x0040), r)
    return r.astype(np.uint16)


# ---------------------------------------------------------------------------
# Distributions over a range of flat element indices
# ---------------------------------------------------------------------------

_KINDS = ("float32", "float64", "float16", "bfloat16")


def _finish_f32(v32, kind):
    if kind == "float32":
        return v32
    if kind == "float16":
        return round_to_float16_bits(v32).view(np.float16)
    return round_to_bfloat16_bits(v32)  # raw bits; caller views as bfloat16


def uniform_flat(seed, stream, start, n, low, high, kind="float32"):
    """Elements ``start .. start+n-1`` of a uniform fill, as stream v1 defines them.

    float32/float16/bfloat16: word ``i`` -> ``u = (w >> 8) * 2**-24`` in [0, 1);
    value ``min(low32 + scale32 * u, high32)`` in float32 with ``low32 = float32(low)``,
    ``scale32 = float32(high - low)`` (difference taken in float64) and
    ``high32 = float32(high)``, then rounded to the output type.  float64: words
    ``2i, 2i+1`` -> 53-bit ``u`` in [0, 1); ``min(low + (high - low) * u, high)``.

    bfloat16 results are returned as their uint16 bit patterns.
    """
    if kind not in _KINDS:
        raise ValueError(kind)
    start, n = int(start), int(n)
    scale = float(high) - float(low)
    if kind == "float64":
        w = raw_words(seed, stream, 2 * start, 2 * n).reshape(n, 2)
        u = _u53_f64(w[:, 0], w[:, 1]) * _TWO_M53
        v = F64(low) + F64(scale) * u
        return np.where(v < F64(high), v, F64(high))
    w = raw_words(seed, stream, start, n)
    u = (w >> np.uint32(8)).astype(np.int32).astype(F32) * _TWO_M24
    v = F32(low) + F32(scale) * u
    return _finish_f32(np.where(v < F32(high), v, F32(high)), kind)


def normal_flat(seed, stream, start, n, mean, std, kind="float32"):
    """Elements ``start .. start+n-1`` of a normal fill, as stream v1 defines them.

    float32/float16/bfloat16: element pair ``(2p, 2p+1)`` is the Box-Muller pair of
    words ``2p`` (radius) and ``2p+1`` (angle); value ``mean32 + std32 * z`` in
    float32, then rounded.  float64: pair ``p`` uses the four words of Philox block
    ``p``; value ``mean + std * z`` in float64.

    bfloat16 results are returned as their uint16 bit patterns.
    """
    if kind not in _KINDS:
        raise ValueError(kind)
    start, n = int(start), int(n)
    if n == 0:
        return np.empty(0, dtype=np.uint16 if kind == "bfloat16" else kind)
    p0, p1 = start // 2, (start + n - 1) // 2
    npairs = p1 - p0 + 1
    if kind == "float64":
        w = raw_words(seed, stream, 4 * p0, 4 * npairs).reshape(npairs, 4)
        zc, zs = _box_muller_f64(w[:, 0], w[:, 1], w[:, 2], w[:, 3])
        z = np.stack([zc, zs], axis=1).reshape(-1)[start - 2 * p0:][:n]
        return F64(mean) + F64(std) * z
    w = raw_words(seed, stream, 2 * p0, 2 * npairs).reshape(npairs, 2)
    zc, zs = _box_muller_f32(w[:, 0], w[:, 1])
    z = np.stack([zc, zs], axis=1).reshape(-1)[start - 2 * p0:][:n]
    return _finish_f32(F32(mean) + F32(std) * z, kind)


def trunc_normal_flat(seed, stream, start, n, mean, std, a, b, kind="float32"):
    """Elements ``start .. start+n-1`` of a truncated normal fill on [a, b].

    Inversion with a fixed draw per element: float32/float16/bfloat16 take
    word ``i``, ``u = ((w >> 9) + 1/2) * 2**-23`` in (0, 1); float64 takes
    words ``2i, 2i+1``, ``u = ((x0 >> 6) * 2**26 + (x1 >> 6) + 1/2) * 2**-52``.
    See :func:`trunc_normal_parameters` and ``_trunc_normal_transform``.
    Narrow intervals (:func:`trunc_normal_is_narrow`) use
    ``_trunc_normal_narrow_transform`` in float64 instead, with
    ``u = (w + 1/2) * 2**-32`` for the float32 family (the float64 ``u`` is
    unchanged), the float32 family rounding its float64 result once.

    bfloat16 results are returned as their uint16 bit patterns.
    """
    if kind not in _KINDS:
        raise ValueError(kind)
    start, n = int(start), int(n)
    regime, params = trunc_normal_kernel(mean, std, a, b)
    if regime == "narrow":
        if kind == "float64":
            w = raw_words(seed, stream, 2 * start, 2 * n).reshape(n, 2)
            a_hi = (w[:, 0] >> np.uint32(6)).astype(F64)
            b_lo = (w[:, 1] >> np.uint32(6)).astype(F64)
            u = ((a_hi * F64(67108864.0) + b_lo) + F64(0.5)) * F64(2.0 ** -52)
            return _trunc_normal_narrow_transform(u, params)
        u = (raw_words(seed, stream, start, n).astype(F64) + F64(0.5)) * F64(2.0 ** -32)
        return _finish_f32(_trunc_normal_narrow_transform(u, params).astype(F32), kind)
    if kind == "float64":
        w = raw_words(seed, stream, 2 * start, 2 * n).reshape(n, 2)
        a_hi = (w[:, 0] >> np.uint32(6)).astype(F64)
        b_lo = (w[:, 1] >> np.uint32(6)).astype(F64)
        u = ((a_hi * F64(67108864.0) + b_lo) + F64(0.5)) * F64(2.0 ** -52)
        return _trunc_normal_transform(u, params, F64)
    w = raw_words(seed, stream, start, n)
    u = ((w >> np.uint32(9)).astype(np.int32).astype(F32) + F32(0.5)) * F32(2.0 ** -23)
    return _finish_f32(_trunc_normal_transform(u, params, F32), kind)
