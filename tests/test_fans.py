"""compute_fans and calculate_gain: identical to torch, plus the JAX/Keras (HWIO) layout."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import fastinit as fi
from _util import optional_module, param_with, requires

# torch is optional: only the tests comparing with torch need it (see _util).
torch = optional_module("torch")
needs_torch = requires("torch")


def torch_fans(tensor):
    return torch.nn.init._calculate_fan_in_and_fan_out(tensor)

# PyTorch layouts: Linear (out, in), Conv1d/2d/3d (out, in, *kernel), with
# degenerate, zero and non-square sizes.
TORCH_SHAPES = [
    (3, 5), (5, 3), (1, 1), (1, 7), (4096, 1024), (0, 4), (4, 0),
    (16, 8, 3), (8, 16, 1), (32, 3, 7),
    (64, 3, 7, 7), (1, 1, 1, 1), (128, 64, 3, 1), (8, 4, 0, 3),
    (16, 8, 3, 3, 3), (2, 3, 4, 5, 6), (4, 4, 1, 2, 1),
]


@needs_torch
@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
def test_fans_identical_to_torch(shape):
    assert fi.compute_fans(shape) == torch_fans(torch.empty(shape))
    fan_in, fan_out = fi.compute_fans(shape)
    assert type(fan_in) is int and type(fan_out) is int


@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
def test_fans_accept_numpy_integers_and_explicit_default_axes(shape):
    as_numpy = tuple(np.int64(d) for d in shape)
    assert fi.compute_fans(as_numpy, in_axis=1, out_axis=0) == fi.compute_fans(shape)
    assert fi.compute_fans(shape, in_axis=1 - len(shape), out_axis=-len(shape)) == fi.compute_fans(shape)


# (*kernel, in, out): JAX and Keras.  Documented formula: receptive = prod(kernel).
HWIO_SHAPES = [(5, 7), (3, 16, 32), (3, 3, 64, 128), (7, 1, 3, 8), (2, 3, 4, 5, 6)]


@needs_torch
@pytest.mark.parametrize("shape", HWIO_SHAPES, ids=str)
def test_fans_jax_hwio_layout(shape):
    *kernel, n_in, n_out = shape
    receptive = math.prod(kernel)
    expected = (n_in * receptive, n_out * receptive)
    assert fi.compute_fans(shape, in_axis=-2, out_axis=-1) == expected
    ndim = len(shape)
    assert fi.compute_fans(shape, in_axis=ndim - 2, out_axis=ndim - 1) == expected
    # the same kernel in torch's (out, in, *kernel) layout has the same fans
    torch_layout = (n_out, n_in, *kernel)
    assert fi.compute_fans(torch_layout) == expected == torch_fans(torch.empty(torch_layout))


@pytest.mark.parametrize("shape, in_axis, out_axis, expected", [
    ((2, 3, 5, 7), 2, 0, (5 * 3 * 7, 2 * 3 * 7)),
    ((2, 3, 5, 7), 0, 3, (2 * 3 * 5, 7 * 3 * 5)),
    ((2, 3, 5, 7), -1, -4, (7 * 3 * 5, 2 * 3 * 5)),
    ((4, 6), 0, 1, (4, 6)),
    ((4, 6), -1, -2, (6, 4)),
    ((3, 4, 5), 1, 2, (4 * 3, 5 * 3)),
])
def test_fans_arbitrary_axes_follow_the_documented_formula(shape, in_axis, out_axis, expected):
    assert fi.compute_fans(shape, in_axis=in_axis, out_axis=out_axis) == expected


LINEAR_NAMES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid"]


@needs_torch
@pytest.mark.parametrize("name", LINEAR_NAMES + ["tanh", "relu", "selu", "leaky_relu"])
def test_gain_identical_to_torch(name):
    gain = fi.calculate_gain(name)
    assert gain == torch.nn.init.calculate_gain(name)
    assert isinstance(gain, float)


def test_gain_table_values():
    for name in LINEAR_NAMES:
        assert fi.calculate_gain(name) == 1.0
    assert fi.calculate_gain("tanh") == 5.0 / 3
    assert fi.calculate_gain("relu") == math.sqrt(2.0)
    assert fi.calculate_gain("selu") == 0.75
    assert fi.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01 ** 2))


@needs_torch
@pytest.mark.parametrize("slope", [None, 0, 0.0, 0.01, 0.2, 1, 1.0, 3, -0.5, 5.5, np.float64(0.3)])
def test_leaky_relu_gain_identical_to_torch(slope):
    assert fi.calculate_gain("leaky_relu", slope) == torch.nn.init.calculate_gain("leaky_relu", slope)


def test_leaky_relu_gain_accepts_any_real_slope():
    # torch rejects NumPy float32/int scalars (not float/int subclasses); fastinit takes them.
    assert fi.calculate_gain("leaky_relu", np.float32(0.25)) == math.sqrt(2 / (1 + 0.25 ** 2))
    assert fi.calculate_gain("leaky_relu", np.int64(2)) == math.sqrt(2 / 5)
    assert fi.calculate_gain("leaky_relu", 1e200) == 0.0   # the limit, not an OverflowError


def test_param_is_ignored_except_for_leaky_relu():
    # As in torch: calculate_gain("relu", "anything") is relu's gain.
    assert fi.calculate_gain("relu", 0.3) == math.sqrt(2.0)
    assert fi.calculate_gain("tanh", "ignored") == 5.0 / 3


# ---------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("shape", [(), (5,), 7, (0,)], ids=str)
def test_fewer_than_two_dims(shape):
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with "
                                         r"fewer than 2 dimensions; got shape \("):
        fi.compute_fans(shape)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(in_axis=2), r"in_axis must be in \[-2, 2\) for shape \(3, 4\); got 2"),
    (dict(out_axis=-3), r"out_axis must be in \[-2, 2\) for shape \(3, 4\); got -3"),
    (dict(in_axis=0), "in_axis and out_axis must name different axes of shape .*both are axis 0"),
    (dict(in_axis=-1, out_axis=1), "both are axis 1"),
])
def test_bad_axes_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fi.compute_fans((3, 4), **kwargs)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(in_axis=1.0), "in_axis must be an integer; got float 1.0"),
    (dict(out_axis=True), "out_axis must be an integer; got bool True"),
    (dict(out_axis=None), "out_axis must be an integer; got NoneType None"),
])
def test_bad_axes_type(kwargs, pattern):
    with pytest.raises(TypeError, match=pattern):
        fi.compute_fans((3, 4), **kwargs)


@pytest.mark.parametrize("shape, exc, pattern", [
    ((3.0, 4), TypeError, r"shape must be an int or a tuple of ints; got \(3\.0, 4\)"),
    ("ab", TypeError, "shape must be an int or a tuple of ints"),
    ((3, -4), ValueError, r"shape dimensions must be >= 0; got \(3, -4\)"),
])
def test_bad_shape(shape, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fi.compute_fans(shape)


def test_fans_positional_axes_are_rejected():
    with pytest.raises(TypeError):
        fi.compute_fans((3, 4), 0, 1)


@needs_torch
@pytest.mark.parametrize("name", ["softplus", "Relu", "RELU", "gelu", "", "leaky relu", None, 1,
                                  param_with("torch", lambda torch: torch.nn.ReLU, id="torch.nn.ReLU")])
def test_unknown_nonlinearity_is_torchs_value_error(name):
    """torch raises ValueError("Unsupported nonlinearity ...") for anything not in its table."""
    with pytest.raises(ValueError, match=rf"^Unsupported nonlinearity {re.escape(str(name))}; expected "
                                         "one of 'linear', .*'tanh', 'relu', 'leaky_relu', 'selu'$"):
        fi.calculate_gain(name)
    with pytest.raises(ValueError, match=rf"^Unsupported nonlinearity {re.escape(str(name))}$"):
        torch.nn.init.calculate_gain(name)


@needs_torch
@pytest.mark.parametrize("param", [True, False, "0.2", [0.2], {"a": "b"}, 1j, np.bool_(True),
                                   param_with("torch", lambda torch: torch.tensor(0.2), id="torch.tensor(0.2)")])
def test_leaky_relu_slope_that_is_not_a_number_is_torchs_value_error(param):
    with pytest.raises(ValueError, match=rf"^negative_slope {re.escape(format(param))} not a valid number; "):
        fi.calculate_gain("leaky_relu", param)
    with pytest.raises(ValueError, match=rf"^negative_slope {re.escape(format(param))} not a valid number$"):
        torch.nn.init.calculate_gain("leaky_relu", param)


@needs_torch
@pytest.mark.parametrize("param", [float("nan"), float("inf"), -math.inf])
def test_leaky_relu_non_finite_slope_gives_torchs_gain(param):
    ours = fi.calculate_gain("leaky_relu", param)
    theirs = torch.nn.init.calculate_gain("leaky_relu", param)
    assert ours == theirs or (math.isnan(ours) and math.isnan(theirs))
    assert math.isnan(ours) == math.isnan(param)


@pytest.mark.parametrize("param", [True, "0.2", 1j])
def test_schemes_keep_strict_slope_types(param):
    """The schemes' own ``a`` stays strict: a TypeError naming it (calculate_gain is torch's contract)."""
    with pytest.raises(TypeError, match=r"a \(the leaky_relu negative slope\) must be a real number"):
        fi.kaiming_normal((4, 4), a=param, seed=0)


@pytest.mark.parametrize("param", [float("nan"), float("inf")])
def test_schemes_reject_a_non_finite_slope(param):
    with pytest.raises(ValueError, match=r"a \(the leaky_relu negative slope\) must be finite"):
        fi.kaiming_uniform((4, 4), a=param, seed=0)
