"""The internal fill entry point of the schemes: derived values into a checked target.

A scheme checks its own arguments, the output (shape, ``out``, ``dtype``,
``region``), the seed and the stream once, derives its sampler's parameters
(a Kaiming std, a Xavier bound) and comes here, where only the derived values
are judged: by the distribution's own parameter check and its dtype-range
check (in :func:`fastinit._sampling._fill_checked`), the two checks the
public sampler would run on them, so a derived value out of range fails with
exactly the public sampler's error.
"""

from __future__ import annotations

from . import _sampling
from ._distributions import DISTRIBUTIONS


def fill_derived(sampler, params, target, seed, stream):
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
    """
    params = DISTRIBUTIONS[sampler].check(*params)
    return _sampling._fill_checked(sampler, target, seed, stream, *params)
