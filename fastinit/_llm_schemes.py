r"""Initializations of large transformer language models: small_init, wang_init, scaled_normal.

All three draw :math:`\mathcal{N}(0, \sigma^2)` (untruncated), with a
:math:`\sigma` from the model's width or depth: their values are exactly
:func:`fastinit.normal` with that std.  Each is one function here plus one
entry of :mod:`fastinit._registry`, which makes it a CLI scheme, a
``fastinit.torch`` drop-in and rule, a ``fastinit.dask`` wrapper and a
:class:`fastinit.Generator` method.
"""

from __future__ import annotations

import math

from ._schemes import _fan_scheme
from ._validate import _integer, as_real

__all__ = ["small_init", "wang_init", "scaled_normal"]

_COUNT_LIMIT = 1 << 63


def _count(value, name):
    """A width or a layer count: an integer in ``[1, 2**63)``."""
    value = _integer(value, name)
    if not 1 <= value < _COUNT_LIMIT:
        raise ValueError(f"{name} must be an integer in [1, 2**63); got {value}")
    return value


def _width(d):
    return None if d is None else _count(d, "d")


def _normal_of(std_of_fan_in):
    """A draw of ``N(0, std**2)``, the std a function of fan_in."""
    return lambda fan_in, fan_out: ("normal", (0.0, std_of_fan_in(fan_in)))


# The rules (see fastinit._schemes): the arguments checked, then the draw from the fans.

def _small_init_rule(d):
    d = _width(d)
    return _normal_of(lambda fan_in: math.sqrt(2.0 / (5.0 * (fan_in if d is None else d))))


def _wang_init_rule(n_layers, d):
    n_layers, d = _count(n_layers, "n_layers"), _width(d)
    return _normal_of(lambda fan_in: 2.0 / (n_layers * math.sqrt(fan_in if d is None else d)))


def _scaled_normal_rule(n_layers, sigma):
    n_layers, sigma = _count(n_layers, "n_layers"), as_real(sigma, "sigma")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0; got {sigma}")
    std = sigma / math.sqrt(2.0 * n_layers)
    return lambda fan_in, fan_out: ("normal", (0.0, std))


def small_init(shape=None, *, d=None, in_axis=1, out_axis=0, out=None, dtype=None, seed=None,
               stream=0, region=None):
    r"""SmallInit, as in "Transformers without Tears" and GPT-NeoX.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad \sigma = \sqrt{\frac{2}{5\,d}}

    with :math:`d` the model width (``fan_in`` by default).  The variance
    :math:`2/(5d)` is the Xavier normal variance :math:`2/(d + 4d)` of a
    :math:`d \to 4d` feed-forward projection, used for every weight.  The
    values are exactly ``fastinit.normal(shape, 0.0, math.sqrt(2.0 / (5.0 * d)))``.

    Parameters
    ----------
    d : int, optional
        Keyword-only.  Model width, in ``[1, 2**63)``; default ``fan_in``.
    in_axis, out_axis : int, optional
        Which axes hold the input and output features (:func:`compute_fans`).
    shape, out, dtype, seed, stream, region
        The array (``shape`` is the full one, at least 2-D: the fans come
        from it), key and stream, as in :func:`kaiming_normal`.

    Returns
    -------
    numpy.ndarray
        The filled ``out``, or a new array; a zero-element one comes back
        as it is, with a warning (as torch's Kaiming init).

    Raises
    ------
    TypeError
        A non-integer ``d``, and as :func:`variance_scaling`.
    ValueError
        ``d`` outside ``[1, 2**63)``, and as :func:`variance_scaling`.

    References
    ----------
    .. [1] T. Q. Nguyen and J. Salazar, "Transformers without Tears: Improving
       the Normalization of Self-Attention", IWSLT 2019.
    .. [2] S. Black et al., "GPT-NeoX-20B: An Open-Source Autoregressive
       Language Model", 2022 (``small_init`` in its code).

    Examples
    --------
    >>> import math, fastinit as fi
    >>> w = fi.small_init((4096, 1024), seed=0)
    >>> bool((w == fi.normal((4096, 1024), 0.0, math.sqrt(2.0 / (5.0 * 1024)), seed=0)).all())
    True
    """
    return _fan_scheme(shape, _small_init_rule(d), in_axis=in_axis, out_axis=out_axis, out=out,
                       dtype=dtype, seed=seed, stream=stream, region=region)


def wang_init(shape=None, *, n_layers, d=None, in_axis=1, out_axis=0, out=None, dtype=None,
              seed=None, stream=0, region=None):
    r"""Wang's init of residual output projections, as GPT-NeoX's ``wang_init``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad
        \sigma = \frac{2}{n_\text{layers} \sqrt{d}}

    with :math:`d` the model width (``fan_in`` by default): the deeper the
    model, the smaller the output projections of its attention and MLP
    blocks.  The values are exactly
    ``fastinit.normal(shape, 0.0, 2.0 / (n_layers * math.sqrt(d)))``.

    Parameters
    ----------
    n_layers : int
        Keyword-only and required.  Number of layers, in ``[1, 2**63)``.
    d : int, optional
        Keyword-only.  Model width, as in :func:`small_init` (``fan_in`` by default).
    in_axis, out_axis : int, optional
        The fan layout, as in :func:`small_init`.
    shape, out, dtype, seed, stream, region
        As in :func:`small_init`.

    Returns
    -------
    numpy.ndarray
        As :func:`small_init`.

    Raises
    ------
    TypeError
        A missing or non-integer ``n_layers``, a non-integer ``d``, and as
        :func:`variance_scaling`.
    ValueError
        ``n_layers`` or ``d`` outside ``[1, 2**63)``, and as :func:`variance_scaling`.

    References
    ----------
    .. [1] B. Wang and A. Komatsuzaki, "GPT-J-6B: A 6 Billion Parameter
       Autoregressive Language Model", 2021 (the init's origin, per GPT-NeoX).
    .. [2] S. Black et al., "GPT-NeoX-20B: An Open-Source Autoregressive
       Language Model", 2022 (``wang_init`` in its code).

    Examples
    --------
    >>> import math, fastinit as fi
    >>> w = fi.wang_init((1024, 4096), n_layers=24, seed=0)
    >>> bool((w == fi.normal((1024, 4096), 0.0, 2.0 / (24 * math.sqrt(4096)), seed=0)).all())
    True
    """
    return _fan_scheme(shape, _wang_init_rule(n_layers, d), in_axis=in_axis, out_axis=out_axis,
                       out=out, dtype=dtype, seed=seed, stream=stream, region=region)


def scaled_normal(shape=None, *, n_layers, sigma=0.02, out=None, dtype=None, seed=None, stream=0,
                  region=None):
    r"""The GPT-2 / Megatron-LM init of residual output projections.

    .. math::

        W \sim \mathcal{N}(0, \sigma_\text{out}^2), \quad
        \sigma_\text{out} = \frac{\sigma}{\sqrt{2\, n_\text{layers}}}

    Each of a model's :math:`n_\text{layers}` blocks adds two residual
    branches (attention and MLP); scaling their output projections by
    :math:`1/\sqrt{2 n_\text{layers}}` keeps the residual stream's variance
    from growing with depth.  ``sigma`` defaults to 0.02, the std GPT-2
    (``initializer_range``) and Megatron-LM (``init_method_std``) use for
    every other weight.  The values are exactly
    ``fastinit.normal(shape, 0.0, sigma / math.sqrt(2.0 * n_layers))``; the
    shape may have any number of dimensions (no fans are used).

    Parameters
    ----------
    n_layers : int
        Keyword-only and required.  Number of layers (transformer blocks), in
        ``[1, 2**63)``.
    sigma : float, optional
        Keyword-only.  The unscaled std, finite and ``>= 0`` (default 0.02).
    shape, out, dtype, seed, stream, region
        The array (any number of dimensions), key and stream, as in
        :func:`fastinit.normal`.

    Returns
    -------
    numpy.ndarray
        The filled ``out``, or a new array.

    Raises
    ------
    TypeError
        A missing or non-integer ``n_layers``, a non-real ``sigma``, and as
        :func:`fastinit.normal`.
    ValueError
        ``n_layers`` outside ``[1, 2**63)``, a negative or non-finite
        ``sigma``, a std outside the dtype's range, and as :func:`fastinit.normal`.

    References
    ----------
    .. [1] A. Radford et al., "Language Models are Unsupervised Multitask
       Learners", 2019 (GPT-2, section 2.3).
    .. [2] M. Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter
       Language Models Using Model Parallelism", 2019 (``scaled_init_method_normal``).

    Examples
    --------
    >>> import math, fastinit as fi
    >>> w = fi.scaled_normal((768, 3072), n_layers=12, seed=0)
    >>> bool((w == fi.normal((768, 3072), 0.0, 0.02 / math.sqrt(2.0 * 12), seed=0)).all())
    True
    """
    return _fan_scheme(shape, _scaled_normal_rule(n_layers, sigma), in_axis=None, out_axis=None,
                       out=out, dtype=dtype, seed=seed, stream=stream, region=region)
