"""Fans and gains: the two numbers every variance-preserving scheme is built from.

Also the zero-element warning the scheme modules share (``_warn_if_empty``).
Resolving ``shape``/``out`` into the logical array and checking string
choices are ``fastinit/_validate.py``'s (``as_logical_target``, ``as_choice``).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ._validate import _integer, as_real, as_shape, quoted

__all__ = ["compute_fans", "calculate_gain"]

_FEWER_THAN_TWO_DIMS = (
    "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
)

# torch.nn.init.calculate_gain's table.  The linear maps (and sigmoid, whose slope
# at 0 is 1/4 but which torch nonetheless gives gain 1) keep the variance as is.
_LINEAR_MAPS = (
    "linear", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
)
_FIXED_GAINS = {
    **{name: 1.0 for name in _LINEAR_MAPS},
    "sigmoid": 1.0,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    # torch's empirical value (pytorch/pytorch#50664); self-normalizing nets want
    # the "linear" gain instead, see fastinit.scheme_for("selu").
    "selu": 3.0 / 4,
}
NONLINEARITIES = (*_LINEAR_MAPS, "sigmoid", "tanh", "relu", "leaky_relu", "selu")
# torch.nn.LeakyReLU's default; calculate_gain and fastinit.scheme_for use it.
DEFAULT_NEGATIVE_SLOPE = 0.01


def compute_fans(shape, *, in_axis=1, out_axis=0):
    r"""Fan-in and fan-out of a weight array of the given shape.

    .. math::

        \text{receptive} = \prod_{k \ne \text{in\_axis}, \text{out\_axis}} \text{shape}[k], \quad
        \text{fan\_in} = \text{shape}[\text{in\_axis}] \cdot \text{receptive}, \quad
        \text{fan\_out} = \text{shape}[\text{out\_axis}] \cdot \text{receptive}

    The default layout is PyTorch's ``(out, in, *kernel)``, for which this is
    exactly ``torch.nn.init._calculate_fan_in_and_fan_out``.  JAX and Keras
    store kernels as ``(*kernel, in, out)`` (HWIO): use ``in_axis=-2,
    out_axis=-1``, which gives ``jax.nn.initializers``' fans.

    Parameters
    ----------
    shape : int or tuple of int
        Full shape of the weight array, at least 2-D.  Schemes that fill only a
        ``region`` of an array always pass the full shape here, never the block.
    in_axis, out_axis : int, optional
        Axes holding the input and output features (negative values count
        from the end).  They must name different axes.

    Returns
    -------
    fan_in, fan_out : int

    Raises
    ------
    TypeError
        If ``shape`` is not an int or tuple of ints, or an axis is not an integer.
    ValueError
        If ``shape`` has fewer than 2 dimensions, an axis is out of range, or
        both axes are the same.

    Examples
    --------
    >>> import fastinit as fi
    >>> fi.compute_fans((64, 3, 7, 7))                           # torch Conv2d weight
    (147, 3136)
    >>> fi.compute_fans((7, 7, 3, 64), in_axis=-2, out_axis=-1)  # the same kernel, HWIO
    (147, 3136)
    """
    return _fans_of(as_shape(shape), in_axis, out_axis)


def _fans_of(shape, in_axis, out_axis):
    """:func:`compute_fans` of a shape :func:`as_shape` has already checked (the schemes')."""
    if len(shape) < 2:
        raise ValueError(f"{_FEWER_THAN_TWO_DIMS}; got shape {shape}")
    in_axis = _normalized_axis(in_axis, "in_axis", shape)
    out_axis = _normalized_axis(out_axis, "out_axis", shape)
    if in_axis == out_axis:
        raise ValueError(
            f"in_axis and out_axis must name different axes of shape {shape}; both are axis {in_axis}"
        )
    receptive_field = math.prod(
        size for axis, size in enumerate(shape) if axis not in (in_axis, out_axis)
    )
    return shape[in_axis] * receptive_field, shape[out_axis] * receptive_field


def _normalized_axis(axis, name, shape):
    axis = _integer(axis, name)
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} must be in [-{ndim}, {ndim}) for shape {shape}; got {axis}")
    return axis % ndim


def calculate_gain(nonlinearity, param=None):
    r"""The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ========================================================  =================================================
    nonlinearity                                              gain
    ========================================================  =================================================
    ``linear``, ``conv{1,2,3}d``, ``conv_transpose{1,2,3}d``  :math:`1`
    ``sigmoid``                                               :math:`1`
    ``tanh``                                                  :math:`5/3`
    ``relu``                                                  :math:`\sqrt{2}`
    ``leaky_relu``                                            :math:`\sqrt{2 / (1 + \text{negative\_slope}^2)}`
    ``selu``                                                  :math:`3/4`
    ========================================================  =================================================

    The leaky_relu gain keeps the second moment of the activations,
    :math:`\mathbb{E}[f(x)^2] = \tfrac{1}{2}(1 + s^2)\,\mathbb{E}[x^2]` for
    symmetric :math:`x`:

    .. math::

        \text{gain} = \sqrt{\frac{2}{1 + \text{negative\_slope}^2}}

    Same table as ``torch.nn.init.calculate_gain``; in :func:`variance_scaling`
    terms a gain is ``scale = gain**2``.

    Parameters
    ----------
    nonlinearity : str
        One of the names above (the ``torch.nn.functional`` name).
    param : float, optional
        The negative slope of ``leaky_relu`` (default 0.01); ignored for the
        other nonlinearities, as in torch.

    Returns
    -------
    float
        For ``leaky_relu`` a non-finite slope gives torch's result: NaN for
        NaN, 0 for an infinite slope (and, where torch overflows, for
        ``|slope| > 1e154``).

    Raises
    ------
    ValueError
        Exactly where torch raises it, with torch's message as the prefix:
        an unknown nonlinearity or one that is not a string ("Unsupported
        nonlinearity ..."), a ``leaky_relu`` slope that is a bool or not a
        number ("negative_slope ... not a valid number").

    Notes
    -----
    For ``selu`` torch's gain 3/4 trades self-normalization for gradient flow;
    self-normalizing networks (Klambauer et al., 2017) need variance
    ``1/fan_in``, i.e. gain 1 ("linear"), which is what
    :func:`fastinit.scheme_for` picks for selu.

    Deliberate differences from torch: the gain is always a float (torch
    returns the int 1 for the linear maps and sigmoid; they compare equal);
    any real number is a valid slope, NumPy scalars included (torch accepts
    only ``int`` and ``float``); a slope beyond ``1e154`` gives the limit 0
    where torch raises OverflowError.  The schemes that take a slope
    (:func:`kaiming_uniform`, ...) are stricter: a non-finite slope is a
    ValueError there, a non-number a TypeError.

    Examples
    --------
    >>> import fastinit as fi
    >>> fi.calculate_gain("tanh")
    1.6666666666666667
    >>> round(fi.calculate_gain("leaky_relu", 0.2), 4)
    1.3868
    """
    # torch's checks, in torch's order and with torch's exception types: this is
    # the function torch code calls as init.calculate_gain.
    if isinstance(nonlinearity, str) and nonlinearity in _FIXED_GAINS:
        return _FIXED_GAINS[nonlinearity]
    if isinstance(nonlinearity, str) and nonlinearity == "leaky_relu":
        if param is None:
            slope = DEFAULT_NEGATIVE_SLOPE
        elif isinstance(param, (bool, np.bool_)) or not isinstance(param, numbers.Real):
            raise ValueError(f"negative_slope {param} not a valid number; the leaky_relu slope must "
                             f"be an int or float; got {type(param).__name__}")
        else:
            slope = float(param)
        return _leaky_relu_gain(slope)
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity}; expected one of {quoted(NONLINEARITIES)}"
    )


def _leaky_relu_gain(slope):
    try:
        slope_squared = slope ** 2   # ** as torch writes it, so the gains agree to the bit
    except OverflowError:
        slope_squared = math.inf     # |slope| > 1e154: the formula's limit, gain 0
    return math.sqrt(2.0 / (1 + slope_squared))


def _gain(nonlinearity, param, param_name):
    """The gain for the schemes: calculate_gain's table with fastinit's strict checks.

    Unlike :func:`calculate_gain` (torch's contract), a non-string nonlinearity
    or non-number slope is a TypeError and a non-finite slope a ValueError,
    naming ``param`` as the caller calls it: a scheme must never draw with a
    NaN gain.
    """
    if not isinstance(nonlinearity, str):
        raise TypeError(
            f"nonlinearity must be a string, one of {quoted(NONLINEARITIES)}; "
            f"got {type(nonlinearity).__name__} {nonlinearity!r}"
        )
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = DEFAULT_NEGATIVE_SLOPE
        else:
            slope = as_real(param, f"{param_name} (the leaky_relu negative slope)")
        return _leaky_relu_gain(slope)
    if nonlinearity not in _FIXED_GAINS:
        raise ValueError(
            f"nonlinearity must be one of {quoted(NONLINEARITIES)}; got {nonlinearity!r}"
        )
    return _FIXED_GAINS[nonlinearity]


# --- helpers shared by _schemes, _structured and _activation -----------------------


def _warn_if_empty(shape, stacklevel):
    """torch's behaviour for zero-element tensors: warn and do nothing."""
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=stacklevel + 1)
        return True
    return False
