"""The internal fill entry point of the schemes: derived values into a checked target.

A scheme checks its own arguments, the output (shape, ``out``, ``dtype``,
``region``), the seed and the stream once, derives its sampler's parameters
(a Kaiming std, a Xavier bound) and comes here, where nothing is checked
again.  Only the derived values remain to be judged against the dtype, and
they almost always pass; when they might not, the public sampler is called
instead, so that a derived value out of range fails with exactly the public
sampler's error (and a value this quick test refuses needlessly is still
filled correctly, only through the slower path).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from . import _sampling

# A quarter of each dtype's largest finite value: derived parameters below it are
# representable, and a uniform width (at most twice the larger bound) is finite in
# the compute precision (float32 or float64), so every check of the public samplers passes.
_SAFE_MAGNITUDE = {
    np.dtype(dtype): float(ml_dtypes.finfo(dtype).max) / 4
    for dtype in (np.float16, np.float32, np.float64, ml_dtypes.bfloat16)
}


def _always_valid(sampler, params, dtype):
    """True when the public ``sampler`` accepts ``params`` for ``dtype`` (a sufficient test)."""
    limit = _SAFE_MAGNITUDE[dtype]
    if not all(abs(value) <= limit for value in params):        # NaN fails here too
        return False
    if sampler == "uniform":
        return params[0] <= params[1]
    if sampler == "normal":
        return params[1] >= 0
    return params[1] > 0 and params[2] <= params[3]              # trunc_normal: std > 0, a <= b


def fill_derived(sampler, params, target, seed, stream, logical, region):
    """Fill ``target`` (checked) from ``sampler`` with parameters the scheme derived.

    Parameters
    ----------
    sampler : {"uniform", "normal", "trunc_normal"}
        The public sampler whose values these are, bit for bit.
    params : tuple of float
        Its parameters in its own order: ``(low, high)``, ``(mean, std)`` or
        ``(mean, std, a, b)``.
    target : fastinit._validate.Target
        The checked output of the scheme.
    seed, stream : int
        Checked key and stream id.
    logical, region
        The full shape and region, for the public sampler when a derived value
        must be judged by it.
    """
    if not _always_valid(sampler, params, target.dtype):
        public = getattr(_sampling, sampler)
        return public(logical, *params, out=target.out, seed=seed, stream=stream, region=region)
    return _sampling._fill_checked(sampler, target, seed, stream, *params)
