r"""Variance-scaling initializers and the named schemes that specialize them.

One mechanism, as in ``jax.nn.initializers``: :func:`variance_scaling` draws
zero-mean values with variance :math:`\text{scale} / n`, where :math:`n` is a
fan of the array (``mode``) and the shape of the distribution is
``distribution``.  Every named scheme only says which ``scale``, ``mode`` and
``distribution`` it is:

=====================  ==========================  ===============  ==================
scheme                 scale                       mode             distribution
=====================  ==========================  ===============  ==================
xavier (glorot)        :math:`\text{gain}^2`       ``fan_avg``      uniform / normal
kaiming (he)           :math:`\text{gain}^2`       ``fan_in/out``   uniform / normal
lecun                  1                           ``fan_in``       uniform / truncated
=====================  ==========================  ===============  ==================

The named schemes follow ``torch.nn.init`` (argument names, gains, plain
normal for ``*_normal``), lecun follows ``jax.nn.initializers``.  Fans come
from the full logical ``shape`` even when only a ``region`` is filled, so a
block is bit-identical to the same block of the whole array.
"""

from __future__ import annotations

import functools
import math

from ._draw import fill_derived
from ._docs import fill_doc
from ._fans import _fans_of, _gain, _warn_if_empty
from ._validate import as_choice, as_logical_target, as_real, as_seed, as_stream

__all__ = [
    "variance_scaling",
    "xavier_uniform", "xavier_normal", "glorot_uniform", "glorot_normal",
    "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal",
]

MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")
_KAIMING_MODES = ("fan_in", "fan_out")   # torch's kaiming_* accept only these

# Standard deviation of a standard normal truncated to [-2, 2] (JAX's constant):
# dividing by it gives the truncated samples exactly the intended variance.
_STD_OF_STANDARD_NORMAL_TRUNCATED_AT_2 = 0.87962566103423978


@fill_doc
def variance_scaling(shape=None, scale=1.0, mode="fan_in", distribution="truncated_normal", *,
                     in_axis=1, out_axis=0, out=None, dtype=None, seed=None, stream=0, region=None):
    r"""Fill an array with zero-mean values of variance ``scale / n``.

    With :math:`(\text{fan\_in}, \text{fan\_out})` from :func:`compute_fans`,

    .. math::

        n = \begin{cases}
            \text{fan\_in} & \text{mode = "fan\_in"} \\
            \text{fan\_out} & \text{mode = "fan\_out"} \\
            (\text{fan\_in} + \text{fan\_out}) / 2 & \text{mode = "fan\_avg"} \\
            \sqrt{\text{fan\_in} \cdot \text{fan\_out}} & \text{mode = "fan\_geo\_avg"}
        \end{cases}

    and the values are drawn from

    * ``"truncated_normal"``: :math:`\mathcal{N}(0, \sigma^2)` truncated to
      :math:`[-2\sigma, 2\sigma]`, :math:`\sigma = \sqrt{\text{scale}/n} / 0.87962566103423978`
      (the divisor is the standard deviation of a standard normal truncated to
      :math:`[-2, 2]`, so the samples have variance :math:`\text{scale}/n`);
    * ``"normal"`` (or ``"untruncated_normal"``):
      :math:`\mathcal{N}(0, \text{scale}/n)`;
    * ``"uniform"``: :math:`\mathcal{U}(-\ell, \ell)`, :math:`\ell = \sqrt{3\,\text{scale}/n}`.

    Also known as ``jax.nn.initializers.variance_scaling`` and Keras
    ``VarianceScaling``; they are the same distribution, except that the default fan layout is PyTorch's
    ``(out, in, *kernel)``; pass ``in_axis=-2, out_axis=-1`` for JAX/Keras
    ``(*kernel, in, out)`` kernels.

    Parameters
    ----------
{weight_shape_param}
    scale : float, optional
        Variance multiplier, finite and ``> 0``.
    mode : {"fan_in", "fan_out", "fan_avg", "fan_geo_avg"}, optional
        Which fan :math:`n` is.
    distribution : {"truncated_normal", "normal", "untruncated_normal", "uniform"}, optional
        Shape of the distribution.
    in_axis, out_axis : int, optional
        Axes of the input and output features, as in :func:`compute_fans`.
    out, dtype, seed, stream, region
        As in :func:`fastinit.uniform`.  With ``region``, the fans still come
        from the full ``shape``: the block equals ``variance_scaling(shape,
        ...)[region]`` bit for bit.

{array_returns}  A zero-element array is
        returned as is, with a warning (as torch does).

    Raises
    ------
    TypeError
        Non-real ``scale``, non-string ``mode``/``distribution``, non-integer
        axes, and the type errors of :func:`fastinit.uniform`.
    ValueError
        ``scale <= 0`` or non-finite, unknown ``mode``/``distribution``, a
        shape with fewer than 2 dimensions, bad axes, and the value errors of
        :func:`fastinit.uniform`.

    See Also
    --------
    xavier_uniform, kaiming_normal, lecun_normal : named specializations.

{glorot_reference}
    .. [2] K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers:
       surpassing human-level performance on ImageNet classification", ICCV 2015.

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.variance_scaling((4096, 1024), 2.0, "fan_in", "truncated_normal", seed=0)
    >>> round(float(w.std() * 1024 ** 0.5), 2)       # std = sqrt(2 / fan_in)
    1.41
    >>> k = fi.variance_scaling((3, 3, 64, 128), 1.0, "fan_avg", "uniform",
    ...                         in_axis=-2, out_axis=-1, seed=0)   # a JAX HWIO kernel
    """
    return _fan_scheme(shape, _variance_scaling_rule(scale, mode, distribution), in_axis=in_axis,
                       out_axis=out_axis, out=out, dtype=dtype, seed=seed, stream=stream,
                       region=region)


# --- The rules: each scheme's own arguments, checked, as a draw from the fans -------------
# A rule takes the scheme's own arguments (checked here, before the output), and returns
# ``draw(fan_in, fan_out) -> (sampler, parameters)``.  The scheme's function fills with it,
# and fastinit._registry reads the same rule for the scheme's analytic std and the values it
# derives (init_module's overflow checks, the CLI's inspect): one definition of each scheme.


def _scaled_draw(scale, mode, distribution, fan_in, fan_out):
    """The sampler and parameters of zero-mean values of variance ``scale / fan[mode]``."""
    fan = {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2,
        "fan_geo_avg": math.sqrt(fan_in * fan_out),
    }[mode]
    variance = scale / fan
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return "uniform", (-limit, limit)
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / _STD_OF_STANDARD_NORMAL_TRUNCATED_AT_2
        return "trunc_normal", (0.0, std, -2.0 * std, 2.0 * std)
    return "normal", (0.0, math.sqrt(variance))


def _scaled(scale, mode, distribution):
    return functools.partial(_scaled_draw, scale, mode, distribution)


def _fan_scheme(shape, draw, *, in_axis, out_axis, out, dtype, seed, stream, region):
    """The body of every scheme with a rule: check the output, seed and stream once, then fill.

    ``draw`` comes from the scheme's rule (its own arguments already checked);
    ``in_axis=None`` for a rule that needs no fans.  The parameters it derives
    go to the internal entry point :func:`fastinit._draw.fill_derived`, which
    judges only them.  An empty region (fastinit.dask validates with one)
    still derives them, so their checks against the dtype run.
    """
    seed, stream = as_seed(seed), as_stream(stream)
    logical, target = as_logical_target(shape, out, dtype, region)
    fans = (None, None)
    if in_axis is not None:
        fans = _fans_of(logical, in_axis, out_axis)
        if _warn_if_empty(logical, stacklevel=3):
            return target.out
    sampler, params = draw(*fans)
    return fill_derived(sampler, params, target, seed, stream)


def _variance_scaling_rule(scale, mode, distribution):
    scale = as_real(scale, "scale")
    if scale <= 0:
        raise ValueError(f"scale must be > 0; got {scale}")
    return _scaled(scale, as_choice(mode, "mode", MODES),
                   as_choice(distribution, "distribution", DISTRIBUTIONS))


def _gain_squared(gain):
    gain = as_real(gain, "gain")
    if gain < 0:
        raise ValueError(f"gain must be >= 0; got {gain}")
    return gain * gain


def _kaiming_scale(a, mode, nonlinearity):
    as_choice(mode, "mode", _KAIMING_MODES)
    return _gain(nonlinearity, a, "a") ** 2


def _xavier_uniform_rule(gain):
    return _scaled(_gain_squared(gain), "fan_avg", "uniform")


def _xavier_normal_rule(gain):
    return _scaled(_gain_squared(gain), "fan_avg", "normal")


def _kaiming_uniform_rule(a, mode, nonlinearity):
    return _scaled(_kaiming_scale(a, mode, nonlinearity), mode, "uniform")


def _kaiming_normal_rule(a, mode, nonlinearity):
    return _scaled(_kaiming_scale(a, mode, nonlinearity), mode, "normal")


def _lecun_uniform_rule():
    return _scaled(1.0, "fan_in", "uniform")


def _lecun_normal_rule():
    return _scaled(1.0, "fan_in", "truncated_normal")


@fill_doc(sampler="uniform")
def xavier_uniform(shape=None, gain=1.0, *, in_axis=1, out_axis=0, out=None, dtype=None, seed=None,
                   stream=0, region=None):
    r"""Xavier (Glorot) uniform initialization, as ``torch.nn.init.xavier_uniform_``.

    .. math::

        W \sim \mathcal{U}(-\ell, \ell), \quad
        \ell = \text{gain} \cdot \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    i.e. :func:`variance_scaling` with ``scale = gain**2``, ``mode="fan_avg"``,
    ``distribution="uniform"`` (variance :math:`2\,\text{gain}^2 / (\text{fan\_in} + \text{fan\_out})`).

    Also known as Glorot uniform initialization (:func:`glorot_uniform` is the
    same function; with ``gain=1`` it is ``jax.nn.initializers.glorot_uniform``
    and Keras ``GlorotUniform`` given their fan layout).

    Some tutorials write the bound as :math:`\sqrt{6}/\sqrt{n}` with :math:`n`
    the *average* fan; that is :math:`\sqrt{6/n_\text{avg}} = \sqrt{12/(\text{fan\_in}+\text{fan\_out})}`
    and doubles the variance.  Glorot & Bengio (2010, eq. 16) and torch use
    the sum of the fans, as here.

{weight_gain_params}
    in_axis, out_axis : int, optional
        Fan layout, as in :func:`compute_fans` (PyTorch's by default).
{glorot_sections}

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.xavier_uniform((256, 768), seed=0)
    >>> bound = (6 / (256 + 768)) ** 0.5
    >>> bool(abs(w).max() <= bound)
    True
    """
    return _fan_scheme(shape, _xavier_uniform_rule(gain), in_axis=in_axis, out_axis=out_axis,
                       out=out, dtype=dtype, seed=seed, stream=stream, region=region)


@fill_doc(sampler="normal")
def xavier_normal(shape=None, gain=1.0, *, in_axis=1, out_axis=0, out=None, dtype=None, seed=None,
                  stream=0, region=None):
    r"""Xavier (Glorot) normal initialization, as ``torch.nn.init.xavier_normal_``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad
        \sigma = \text{gain} \cdot \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}

    i.e. :func:`variance_scaling` with ``scale = gain**2``, ``mode="fan_avg"``,
    ``distribution="normal"`` (untruncated, as torch).

    Also known as Glorot normal initialization (:func:`glorot_normal` is the
    same function).  ``jax.nn.initializers.glorot_normal`` and Keras
    ``GlorotNormal`` have the same variance but *truncate* the normal:
    ``variance_scaling(shape, 1.0, "fan_avg", "truncated_normal", ...)``.
    The bound note of :func:`xavier_uniform` applies to the variance here too.

{weight_gain_params}
{fan_layout_param}
{glorot_sections}

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.xavier_normal((1024, 1024), gain=fi.calculate_gain("tanh"), seed=0)
    >>> round(float(w.std()), 4)     # 5/3 * sqrt(2 / 2048)
    0.0521
    """
    return _fan_scheme(shape, _xavier_normal_rule(gain), in_axis=in_axis, out_axis=out_axis,
                       out=out, dtype=dtype, seed=seed, stream=stream, region=region)


@fill_doc(sampler="uniform")
def kaiming_uniform(shape=None, a=0, mode="fan_in", nonlinearity="leaky_relu", *, in_axis=1,
                    out_axis=0, out=None, dtype=None, seed=None, stream=0, region=None):
    r"""Kaiming (He) uniform initialization, as ``torch.nn.init.kaiming_uniform_``.

    .. math::

        W \sim \mathcal{U}(-\ell, \ell), \quad
        \ell = \text{gain} \cdot \sqrt{\frac{3}{\text{fan\_mode}}}, \quad
        \text{gain} = \text{calculate\_gain}(\text{nonlinearity}, a)

    i.e. :func:`variance_scaling` with ``scale = gain**2``, ``mode``,
    ``distribution="uniform"``.

    Also known as He uniform initialization (:func:`he_uniform` is the same
    function).  ``jax.nn.initializers.he_uniform`` and Keras ``HeUniform``
    are ``kaiming_uniform(shape, nonlinearity="relu", in_axis=-2, out_axis=-1)``.

    Parameters
    ----------
{weight_shape_param}
    a : float, optional
        Negative slope of the rectifier after this layer (only used with
        ``nonlinearity="leaky_relu"``; the default 0 gives the relu gain).
    mode : {"fan_in", "fan_out"}, optional
        ``"fan_in"`` keeps the variance of activations in the forward pass,
        ``"fan_out"`` that of gradients in the backward pass.
    nonlinearity : str, optional
        A name :func:`calculate_gain` knows; meant for ``"relu"`` or
        ``"leaky_relu"`` (default).
{fan_layout_param}
{scheme_fill_params}

{array_returns}  A zero-element array is
        returned as is, with a warning (as torch does).

    Raises
    ------
    TypeError
        Non-string ``mode``/``nonlinearity``, non-real ``a`` with leaky_relu,
        and as :func:`variance_scaling`.
    ValueError
        Unknown ``mode`` or ``nonlinearity``, non-finite ``a``, and as
        :func:`variance_scaling`.

{he_reference}

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.kaiming_uniform((512, 256), nonlinearity="relu", seed=0)
    >>> bool(abs(w).max() <= (6 / 256) ** 0.5)
    True
    """
    return _fan_scheme(shape, _kaiming_uniform_rule(a, mode, nonlinearity), in_axis=in_axis,
                       out_axis=out_axis, out=out, dtype=dtype, seed=seed, stream=stream,
                       region=region)


@fill_doc(sampler="normal", raises_as="kaiming_uniform")
def kaiming_normal(shape=None, a=0, mode="fan_in", nonlinearity="leaky_relu", *, in_axis=1,
                   out_axis=0, out=None, dtype=None, seed=None, stream=0, region=None):
    r"""Kaiming (He) normal initialization, as ``torch.nn.init.kaiming_normal_``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad
        \sigma = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}, \quad
        \text{gain} = \text{calculate\_gain}(\text{nonlinearity}, a)

    i.e. :func:`variance_scaling` with ``scale = gain**2``, ``mode``,
    ``distribution="normal"`` (untruncated, as torch).

    Also known as He normal initialization (:func:`he_normal` is the same
    function, with torch's semantics).  ``jax.nn.initializers.he_normal`` and
    Keras ``HeNormal`` *truncate* the normal:
    ``variance_scaling(shape, 2.0, "fan_in", "truncated_normal", in_axis=-2, out_axis=-1)``.

    Parameters
    ----------
{weight_shape_param}
    a : float, optional
        Negative slope of the rectifier after this layer (only used with
        ``nonlinearity="leaky_relu"``).
    mode : {"fan_in", "fan_out"}, optional
        As in :func:`kaiming_uniform`.
    nonlinearity : str, optional
        A name :func:`calculate_gain` knows.
{fan_scheme_sections}

{he_reference}

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.kaiming_normal((64, 3, 7, 7), mode="fan_out", nonlinearity="relu", seed=0)
    >>> round(float(w.std() * (64 * 49) ** 0.5), 1)     # sqrt(2)
    1.4
    """
    return _fan_scheme(shape, _kaiming_normal_rule(a, mode, nonlinearity), in_axis=in_axis,
                       out_axis=out_axis, out=out, dtype=dtype, seed=seed, stream=stream,
                       region=region)


@fill_doc(sampler="uniform")
def lecun_uniform(shape=None, *, in_axis=1, out_axis=0, out=None, dtype=None, seed=None, stream=0,
                  region=None):
    r"""LeCun uniform initialization, as ``jax.nn.initializers.lecun_uniform``.

    .. math::

        W \sim \mathcal{U}(-\ell, \ell), \quad \ell = \sqrt{\frac{3}{\text{fan\_in}}}

    i.e. :func:`variance_scaling` with ``scale=1``, ``mode="fan_in"``,
    ``distribution="uniform"`` (variance :math:`1/\text{fan\_in}`).

    Also known as Keras ``LecunUniform``.

    Parameters
    ----------
{weight_shape_param}
    in_axis, out_axis : int, optional
        Fan layout, as in :func:`compute_fans` (PyTorch's by default; JAX and
        Keras use ``in_axis=-2, out_axis=-1``).
{scheme_fill_params}

{array_returns}

    Raises
    ------
    TypeError, ValueError
        As :func:`variance_scaling`.

{lecun_reference}

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.lecun_uniform((128, 300), seed=0)
    >>> bool(abs(w).max() <= (3 / 300) ** 0.5)
    True
    """
    return _fan_scheme(shape, _lecun_uniform_rule(), in_axis=in_axis, out_axis=out_axis, out=out,
                       dtype=dtype, seed=seed, stream=stream, region=region)


@fill_doc(sampler="trunc_normal", raises_as="variance_scaling")
def lecun_normal(shape=None, *, in_axis=1, out_axis=0, out=None, dtype=None, seed=None, stream=0,
                 region=None):
    r"""LeCun normal initialization, as ``jax.nn.initializers.lecun_normal``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2) \text{ truncated to } [-2\sigma, 2\sigma], \quad
        \sigma = \frac{1}{0.87962566103423978\,\sqrt{\text{fan\_in}}}

    i.e. :func:`variance_scaling` with ``scale=1``, ``mode="fan_in"``,
    ``distribution="truncated_normal"``: the samples have variance
    :math:`1/\text{fan\_in}`.  It is the standard initialization for SELU
    networks (Klambauer et al., 2017).

    Also known as Keras ``LecunNormal``.  (torch has no lecun scheme; its
    closest, ``kaiming_normal_(w, nonlinearity="linear")``, is untruncated.)

    Parameters
    ----------
{weight_shape_param}
{fan_scheme_sections}

{lecun_reference}

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.lecun_normal((1024, 1024), seed=0)
    >>> round(float(w.std() * 32), 2)       # std = 1 / sqrt(fan_in)
    1.0
    """
    return _fan_scheme(shape, _lecun_normal_rule(), in_axis=in_axis, out_axis=out_axis, out=out,
                       dtype=dtype, seed=seed, stream=stream, region=region)


# The other names of the same schemes (torch semantics; see the docstrings for
# where JAX/Keras differ).
glorot_uniform = xavier_uniform
glorot_normal = xavier_normal
he_uniform = kaiming_uniform
he_normal = kaiming_normal
