"""The distributions of stream v1, each registered once (see docs/extending.md).

A distribution is defined in C (its code in ``src_c/fastinit.h``'s ``fi_dist``
and its name in ``src_c/fill.c``'s ``fi_dist_name``, its scalar transform in
``src_c/fi_scalar.h``, its slots in the kernel tables), in the specification
``fastinit/reference.py``, and by one entry of :data:`DISTRIBUTIONS` below.
The entry names the public sampler, the C kernels it may run, whether it
draws from the stream, how its parameters are checked and how they become a
kernel's parameter values.  The samplers (``fastinit/_sampling.py``), the
build report (``fastinit/_config.py``) and :class:`fastinit.Generator` read
this table; codes and names come from C through ``fastinit._core``.

This module is the product's own copy of the truncated-normal parameter
derivation; ``fastinit/reference.py`` keeps an independent one as the test
oracle, and the product never imports the reference.
"""

from __future__ import annotations

import math
import sys
from typing import Callable, NamedTuple

import numpy as np

from . import _core
from ._validate import as_real, check_representable

__all__ = ["DISTRIBUTIONS", "SAMPLERS", "Distribution", "kernel_code", "sampler",
           "trunc_normal_parameters", "trunc_normal_kernel"]


def kernel_code(name: str) -> int:
    """The C code (``fi_dist``) of the kernel slot named ``name`` (``fi_dist_name``)."""
    return _core.DIST_CODES[name]


class Distribution(NamedTuple):
    """One registered distribution.

    Attributes
    ----------
    name : str
        The public sampler, ``fastinit.<name>`` (and ``Generator.<name>`` when random).
    kernels : tuple of str
        The C kernel slots (``fi_dist_name``) its fills may use.
    random : bool
        Whether it draws from the stream (takes ``seed`` and ``stream``).
    check : callable
        ``check(*parameters) -> parameters``: types and values that do not
        depend on the dtype (TypeError/ValueError), before the output is resolved.
    prepare : callable
        ``prepare(dtype, *checked) -> (kernel code, kernel values)``: the
        dtype-dependent checks and the values the C kernel reads as ``p[0..]``.
    example : str
        Arguments of the sampler's doctest example in :class:`fastinit.Generator`
        (empty for a distribution that is not random, which is no Generator method).
    """

    name: str
    kernels: tuple
    random: bool
    check: Callable
    prepare: Callable
    example: str


# ---------------------------------------------------------------------------
# Truncated normal: the product's parameter derivation (docs/stream.md,
# "Truncated normal" and "Corrections"); reference.py holds the oracle's.
# ---------------------------------------------------------------------------

# Intervals whose whole mass lies this far in one tail cannot be inverted in float32.
TRUNC_NORMAL_MIN_TAIL_MASS = 1e-30


def _phi(x: float) -> float:
    """Standard normal CDF, from the nearer tail (erfc keeps its relative precision)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _standardized_bounds(mean, std, a, b):
    """``(alpha, beta, mirrored)``: the standardized bounds, mirrored to
    ``(-beta, -alpha)`` when ``alpha + beta > 0`` so that the interval leans
    to the lower tail, where CDF values keep their relative precision."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    if alpha + beta > 0:
        return -beta, -alpha, True
    return alpha, beta, False


def trunc_normal_parameters(mean, std, a, b):
    """Parameters of ``FI_DIST_TRUNC_NORMAL`` for a normal truncated to [a, b].

    Returns
    -------
    tuple of 8 floats
        ``(mean, std, Phi(alpha), Phi(beta) - Phi(alpha), Phi(-beta), a, b, mirror)``
        for the standardized, mirrored bounds of :func:`_standardized_bounds`;
        ``mirror`` is -1.0 when mirrored, else 1.0.

    Raises
    ------
    ValueError
        If the interval's mass is below ``TRUNC_NORMAL_MIN_TAIL_MASS`` (more
        than about 11.3 standard deviations out).
    """
    alpha, beta, mirrored = _standardized_bounds(mean, std, a, b)
    lower_cdf, upper_cdf = _phi(alpha), _phi(beta)
    if upper_cdf < TRUNC_NORMAL_MIN_TAIL_MASS:
        raise ValueError(
            f"the interval [a, b] = [{a}, {b}] lies {min(abs(alpha), abs(beta)):.1f} standard "
            f"deviations from the mean {mean}, beyond the supported ~11.3 (its probability "
            f"mass {upper_cdf:.3g} is below {TRUNC_NORMAL_MIN_TAIL_MASS:g})"
        )
    # Straddling the mean, the difference of erf values is the more precise mass.
    mass = (upper_cdf - lower_cdf if beta <= 0
            else 0.5 * (math.erf(beta / math.sqrt(2.0)) - math.erf(alpha / math.sqrt(2.0))))
    return (float(mean), float(std), lower_cdf, mass, _phi(-beta), float(a), float(b),
            -1.0 if mirrored else 1.0)


def _trunc_normal_narrow_parameters(mean, std, a, b):
    """Parameters of ``FI_DIST_TRUNC_NORMAL_NARROW``: ``(A, B, v0, v1, v1 - v0, a, b, 0.0)``.

    ``q`` in [0, 1], the fraction of the way from ``v0`` (the end at the
    mirrored lower bound ``alpha``) to ``v1``, has density proportional to
    ``exp(-A q - B q**2)`` with ``A = alpha * h``, ``B = h*h / 2``, ``h = (b - a) / std``.
    """
    mean, std, a, b = float(mean), float(std), float(a), float(b)
    alpha, _, mirrored = _standardized_bounds(mean, std, a, b)
    start, end = (b, a) if mirrored else (a, b)
    h = (b - a) / std
    return (alpha * h, (h * h) * 0.5, start, end, end - start, a, b, 0.0)


def trunc_normal_kernel(mean, std, a, b):
    """``(kernel name, parameters)`` of a trunc_normal fill on [a, b].

    ``"trunc_normal_narrow"`` when CDF values near the interval would be
    spaced more coarsely than a step of the uniform draw (``2 w < min(Phi(alpha)
    + w, 1/2)``, ``w`` the mass), else ``"trunc_normal"``.  Raises ValueError
    as :func:`trunc_normal_parameters` does.
    """
    params = trunc_normal_parameters(mean, std, a, b)
    lower_cdf, mass = params[2], params[3]
    if 2.0 * mass < min(lower_cdf + mass, 0.5):
        return "trunc_normal_narrow", _trunc_normal_narrow_parameters(mean, std, a, b)
    return "trunc_normal", params


# ---------------------------------------------------------------------------
# Checks and kernel values per distribution
# ---------------------------------------------------------------------------

# Largest float64 that rounds to a finite float32 (max + half an ulp, exclusive).
_FLOAT32_MAX = float(np.finfo(np.float32).max) * (1 + 2.0**-25)


def _check_raw():
    return ()


def _prepare_raw(dtype):
    return kernel_code("raw"), ()


def _check_uniform(low, high):
    low, high = as_real(low, "low"), as_real(high, "high")
    if low > high:
        raise ValueError(f"low must be <= high; got low={low}, high={high}")
    return low, high


def _prepare_uniform(dtype, low, high):
    check_representable(dtype, low=low, high=high)
    # The kernels form high - low in the compute precision (float64 for float64, float32
    # for the rest); a width that overflows it would give inf and wrong values, so it is
    # refused for every dtype, as NumPy and torch refuse it.  float16's compute precision
    # is float32, so a float16 range wider than float16's maximum is still exact.
    scale = high - low
    if dtype == np.float64:
        compute, limit = "float64", sys.float_info.max
    else:
        compute, limit = "float32", _FLOAT32_MAX
    if not abs(scale) <= limit:
        raise ValueError(
            f"high - low = {scale} overflows {compute}, in which {dtype.name} samples are "
            f"computed (low={low}, high={high}); the width high - low must be at most "
            f"{float(np.finfo(compute).max):g}"
        )
    return kernel_code("uniform"), (low, scale, high)


def _check_normal(mean, std):
    mean, std = as_real(mean, "mean"), as_real(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0; got {std}")
    return mean, std


def _prepare_normal(dtype, mean, std):
    check_representable(dtype, mean=mean, std=std)
    return kernel_code("normal"), (mean, std)


def _check_trunc_normal(mean, std, a, b):
    mean, std = as_real(mean, "mean"), as_real(std, "std")
    a, b = as_real(a, "a"), as_real(b, "b")
    if std <= 0:
        raise ValueError(f"std must be > 0; got {std}")
    if a > b:
        raise ValueError(f"a must be <= b; got a={a}, b={b}")
    return mean, std, a, b


def _prepare_trunc_normal(dtype, mean, std, a, b):
    check_representable(dtype, mean=mean, std=std, a=a, b=b)
    name, values = trunc_normal_kernel(mean, std, a, b)
    return kernel_code(name), values


def _check_constant(value):
    return (as_real(value, "value"),)


def _prepare_constant(dtype, value):
    check_representable(dtype, value=value)
    exact = float(np.asarray(value).astype(dtype))   # one rounding, straight from float64
    return kernel_code("constant"), (exact,)


def _register(*entries):
    table = {entry.name: entry for entry in entries}
    for entry in entries:
        for kernel in entry.kernels:
            if kernel not in _core.DIST_CODES:      # a name C does not define: fail at import
                raise ImportError(f"fastinit: distribution {entry.name!r} names kernel {kernel!r}, "
                                  f"which src_c/fill.c's fi_dist_name does not define")
    return table


#: Every distribution of stream v1, by public name, in the order the docs list them.
DISTRIBUTIONS = _register(
    Distribution("random_raw", ("raw",), True, _check_raw, _prepare_raw, "4"),
    Distribution("uniform", ("uniform",), True, _check_uniform, _prepare_uniform,
                 "(256, 128), -0.1, 0.1"),
    Distribution("normal", ("normal",), True, _check_normal, _prepare_normal,
                 "(256, 128), std=0.02"),
    Distribution("trunc_normal", ("trunc_normal", "trunc_normal_narrow"), True,
                 _check_trunc_normal, _prepare_trunc_normal,
                 "(256, 128), std=0.02, a=-0.04, b=0.04"),
    Distribution("constant", ("constant",), False, _check_constant, _prepare_constant, ""),
)

#: name -> public sampler function, filled by :func:`sampler` as fastinit/_sampling.py is imported.
SAMPLERS = {}


def sampler(function):
    """Decorator: ``function`` is the public sampler of the registered distribution of its name."""
    name = function.__name__
    if name not in DISTRIBUTIONS:
        raise ImportError(f"fastinit: sampler {name!r} has no entry in DISTRIBUTIONS")
    SAMPLERS[name] = function
    return function
