"""Public samplers of stream v1: raw words and uniform, normal, truncated
normal and constant fills.

Each sampler is the entry of :data:`fastinit._distributions.DISTRIBUTIONS`
with the same name (parameter checks, kernel values) behind its documented
signature; :func:`_sample` is the one path from arguments to the C kernels.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._docs import fill_doc
from ._distributions import DISTRIBUTIONS, sampler
from ._validate import U64_LIMIT, as_count, as_seed, as_stream, as_target, kind_of

# The public samplers are the registered distributions; each is defined below.
__all__ = list(DISTRIBUTIONS)


def _sample(name, shape, out, dtype, region, seed, stream, *parameters):
    """Check, resolve the output, derive the kernel values, fill: in that order.

    Everything is checked before anything is written; a non-random
    distribution ignores ``seed`` and ``stream``.
    """
    distribution = DISTRIBUTIONS[name]
    parameters = distribution.check(*parameters)
    target = as_target(shape, out, dtype, region)
    seed, stream = (as_seed(seed), as_stream(stream)) if distribution.random else (0, 0)
    return _fill_checked(name, target, seed, stream, *parameters)


def _fill_checked(name, target, seed, stream, *parameters):
    """Derive the kernel values and fill a checked target with checked parameters.

    The second half of :func:`_sample`, and the schemes' way in
    (:mod:`fastinit._draw`): nothing but the dtype's range is checked again.
    """
    code, values = DISTRIBUTIONS[name].prepare(target.dtype, *parameters)
    if target.out.size:
        _core.fill(code, kind_of(target.dtype), target.out, seed, stream, values,
                   target.logical_strides, target.logical_offset)
    return target.out


@sampler
def random_raw(n, *, seed, stream=0, start=0):
    """Raw 32-bit words of a stream.

    Word ``w`` of stream ``s`` is lane ``w % 4`` of the Philox4x32-10 block with
    counter ``(j mod 2**32, j >> 32, s mod 2**32, s >> 32)``, ``j = w // 4``, and
    key ``(seed mod 2**32, seed >> 32)``.

    Parameters
    ----------
    n : int
        Number of words.
    seed : int or None
        Key, in ``[0, 2**64)`` (keyword-only and required; ``None`` draws one
        from OS entropy).
    stream : int, optional
        Stream id, in ``[0, 2**64)``.
    start : int, optional
        Index of the first word; ``start + n`` must not exceed ``2**64``.

    Returns
    -------
    numpy.ndarray of uint32, shape (n,)
        Words ``start .. start + n - 1``.

    Raises
    ------
    TypeError
        If ``n``, ``seed``, ``stream`` or ``start`` is not an integer.
    ValueError
        If any of them is out of range.

    Examples
    --------
    >>> import fastinit as fi
    >>> fi.random_raw(4, seed=0).tolist()
    [1713891541, 3781805453, 3159862348, 2600524760]
    """
    n = as_count(n, "n")
    seed = as_seed(seed)
    stream = as_stream(stream)
    start = as_count(start, "start")
    if start + n > U64_LIMIT:
        raise ValueError(f"start + n must be <= 2**64 (word indices are 64-bit); got start={start}, n={n}")
    out = np.empty(n, dtype=np.uint32)
    if n:
        code, values = DISTRIBUTIONS["random_raw"].prepare(out.dtype)
        _core.fill(code, _core.DTYPE_CODES["uint32"], out, seed, stream, values, (1,), start)
    return out


@sampler
@fill_doc
def uniform(shape=None, low=0.0, high=1.0, *, out=None, dtype=None, seed=None, stream=0,
            region=None):
    r"""Fill an array with samples from :math:`\mathcal{U}(\text{low}, \text{high})`.

    Element ``i`` (flat C-order index in the logical array) uses word ``i``:
    ``u = (w >> 8) * 2**-24`` in :math:`[0, 1)`, and the value is
    ``min(float32(low) + float32(high - low) * u, float32(high))`` computed in
    float32, then rounded to nearest even for float16/bfloat16.  float64 uses
    words ``2i, 2i+1`` for a 53-bit ``u`` and computes in float64.  Values lie
    in ``[low, high]``: ``high`` itself only through rounding (as with NumPy),
    never beyond it.

    Parameters
    ----------
{shape_param}
    low, high : float
        Finite bounds with ``low <= high``.
    out : numpy.ndarray, optional
        Writable array to fill in place (any strides, including negative).
    dtype : dtype, optional
        float32 (default), float64, float16 or bfloat16 (``ml_dtypes.bfloat16``
        or ``"bfloat16"``).  Defaults to ``out.dtype`` when ``out`` is given.
    seed : int, optional
        Key in ``[0, 2**64)``; ``None`` draws one from OS entropy.
    stream : int, optional
        Stream id in ``[0, 2**64)``.
    region : tuple of slice, optional
        A step-1 box of the logical array of ``shape``: only that block is
        generated, bit-identical to ``uniform(shape, ...)[region]``.

    Returns
    -------
    numpy.ndarray
        ``out`` when given, else a new array of the region's (or ``shape``'s) shape.

    Raises
    ------
    TypeError
        Unsupported dtype, non-integer seed or stream, non-real bounds.
    ValueError
        Non-finite bounds, ``low > high``, bounds outside the dtype's range,
        a width ``high - low`` that overflows the compute precision (float64
        for float64, float32 otherwise), read-only, self-overlapping or
        mismatched ``out``, bad region, out-of-range seed/stream.

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.uniform((1024, 256), -0.1, 0.1, seed=42)
    >>> bool((w >= -0.1).all() and (w <= 0.1).all())
    True
    >>> top = fi.uniform((1024, 256), -0.1, 0.1, seed=42, region=(slice(0, 512),))
    >>> bool((top == w[:512]).all())
    True
    """
    return _sample("uniform", shape, out, dtype, region, seed, stream, low, high)


@sampler
@fill_doc
def normal(shape=None, mean=0.0, std=1.0, *, out=None, dtype=None, seed=None, stream=0,
           region=None):
    r"""Fill an array with samples from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Box-Muller on pairs: elements ``2p`` and ``2p+1`` are ``r cos(theta)`` and
    ``r sin(theta)`` from words ``2p`` (radius, 32 bits: ``|z|`` reaches 6.66)
    and ``2p+1`` (angle).  The value is ``float32(mean) + float32(std) * z`` in
    float32, rounded to nearest even for float16/bfloat16.  float64 uses the
    four words of Philox block ``p`` for pair ``p`` (53-bit radius and angle,
    ``|z|`` up to 8.57) and computes in float64.  See ``docs/stream.md``.

    Parameters
    ----------
{shape_param}
    mean : float
        Finite mean.
    std : float
        Finite standard deviation, ``>= 0``.
{sampler_sections}
    ValueError
        Negative or non-finite std, non-finite mean, parameters outside the
        dtype's range, read-only or mismatched ``out``, bad region.

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.normal((4096, 1024), std=0.02, seed=0)
    >>> round(float(w.std()), 3)
    0.02
    """
    return _sample("normal", shape, out, dtype, region, seed, stream, mean, std)


@sampler
@fill_doc
def trunc_normal(shape=None, mean=0.0, std=1.0, a=-2.0, b=2.0, *, out=None, dtype=None, seed=None,
                 stream=0, region=None):
    r"""Fill an array from a normal distribution truncated to :math:`[a, b]`.

    Values follow :math:`\mathcal{N}(\text{mean}, \text{std}^2)` conditioned on
    :math:`a \le x \le b` (``a`` and ``b`` are absolute bounds, as in
    ``torch.nn.init.trunc_normal_``).  Each element takes exactly one fixed draw
    and is inverted through the normal CDF (never a rejection loop), so it has
    the same bit-identity guarantees as :func:`normal`; intervals far in a tail
    keep their precision because the CDF is evaluated from the nearer end.
    Results are clamped to ``[a, b]`` against final rounding.

    Parameters
    ----------
{shape_param}
    mean : float
        Mean of the untruncated normal.
    std : float
        Standard deviation of the untruncated normal, ``> 0``.
    a, b : float
        Bounds, ``a <= b``.  The interval must hold probability mass of at
        least 1e-30 (lie within about 11.3 std of the mean).
{sampler_sections}
    ValueError
        Non-finite parameters, ``std <= 0``, ``a > b``, an interval too far in
        a tail, parameters outside the dtype's range, bad ``out`` or region.

    Notes
    -----
    The inverse CDF is P. J. Acklam's rational approximation (relative error
    below 1.2e-9), evaluated in the output's compute precision (float32 for
    float32/float16/bfloat16, float64 for float64).  Intervals narrow
    compared with ``std`` (probability mass ``w`` below half of
    ``min(Phi(alpha) + w, 1/2)``, ``alpha`` the standardized lower bound
    after mirroring) would lose resolution that way; they take an inversion
    relative to the interval instead, in float64 for every dtype, which
    keeps full resolution however narrow the interval.  See
    ``docs/stream.md`` ("Truncated normal", "Corrections").

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.trunc_normal((768, 3072), std=0.02, a=-0.04, b=0.04, seed=0)
    >>> bool(w.min() >= -0.04 and w.max() <= 0.04)
    True
    """
    return _sample("trunc_normal", shape, out, dtype, region, seed, stream, mean, std, a, b)


@sampler
@fill_doc
def constant(shape=None, value=0.0, *, out=None, dtype=None, region=None):
    """Fill an array with ``value``, in parallel.

    Parameters
    ----------
{shape_param}
    value : float
        Finite value; rounded once (to nearest even) to the output dtype.
    out, dtype, region
        As in :func:`uniform`.

{array_returns}

    Raises
    ------
    TypeError
        Unsupported dtype or non-real value.
    ValueError
        Non-finite value or one outside the dtype's finite range; bad ``out``
        or region.

    Examples
    --------
    >>> import fastinit as fi
    >>> fi.constant((2, 3), 0.5).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    """
    return _sample("constant", shape, out, dtype, region, None, 0, value)
