"""Scheme selection by activation: scheme_for's table and init_for's draws."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import fastinit as fi
from _util import optional_module, param_with, requires

# torch is optional: only the tests comparing with torch need it (see _util).
torch = optional_module("torch")
needs_torch = requires("torch")

SQRT2 = math.sqrt(2.0)

# activation -> (scheme, gain, mode, normal function, uniform function)
XAVIER = ("xavier", "fan_avg", "xavier_normal", "xavier_uniform")
KAIMING = ("kaiming", "fan_in", "kaiming_normal", "kaiming_uniform")
LECUN = ("lecun", "fan_in", "lecun_normal", "lecun_uniform")
TABLE = {
    "linear": (XAVIER, 1.0),
    "identity": (XAVIER, 1.0),
    "none": (XAVIER, 1.0),
    "softmax": (XAVIER, 1.0),
    "sigmoid": (XAVIER, 1.0),
    "tanh": (XAVIER, 5.0 / 3),
    "relu": (KAIMING, SQRT2),
    "leaky_relu": (KAIMING, math.sqrt(2.0 / (1 + 0.01 ** 2))),
    "elu": (KAIMING, SQRT2),
    "silu": (KAIMING, SQRT2),
    "swish": (KAIMING, SQRT2),
    "gelu": (KAIMING, SQRT2),
    "mish": (KAIMING, SQRT2),
    "selu": (LECUN, 1.0),
}


def same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_table_covers_every_supported_activation():
    assert set(TABLE) == set(fi._activation.ACTIVATIONS)


@pytest.mark.parametrize("activation", TABLE)
def test_scheme_for_picks_the_table_entry(activation):
    (name, mode, normal, uniform), gain = TABLE[activation]
    scheme = fi.scheme_for(activation)
    assert isinstance(scheme, fi.Scheme)
    assert (scheme.activation, scheme.name, scheme.mode, scheme.normal, scheme.uniform) == (
        activation, name, mode, normal, uniform)
    assert scheme.gain == pytest.approx(gain, rel=1e-15)
    assert scheme.function("normal") is getattr(fi, normal)
    assert scheme.function("uniform") is getattr(fi, uniform)
    assert scheme.function() is getattr(fi, normal)


@needs_torch
@pytest.mark.parametrize("activation, nonlinearity", [
    ("linear", "linear"), ("sigmoid", "sigmoid"), ("tanh", "tanh"), ("relu", "relu"),
    ("leaky_relu", "leaky_relu"), ("gelu", "relu"), ("silu", "relu"), ("elu", "relu"),
])
def test_gains_are_torchs(activation, nonlinearity):
    param = 0.01 if nonlinearity == "leaky_relu" else None
    assert fi.scheme_for(activation).gain == torch.nn.init.calculate_gain(nonlinearity, param)


def test_selu_gets_lecun_not_torchs_three_quarters():
    scheme = fi.scheme_for("selu")
    assert scheme.gain == 1.0 and scheme.name == "lecun"
    assert fi.calculate_gain("selu") == 0.75


@needs_torch
@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, 3.0])
def test_leaky_relu_slope(slope):
    scheme = fi.scheme_for("leaky_relu", slope)
    assert scheme.gain == torch.nn.init.calculate_gain("leaky_relu", slope)
    assert scheme.kwargs == {"a": slope, "mode": "fan_in", "nonlinearity": "leaky_relu"}


def test_kwargs_reproduce_the_scheme():
    assert fi.scheme_for("tanh").kwargs == {"gain": 5.0 / 3}
    assert fi.scheme_for("gelu").kwargs == {"mode": "fan_in", "nonlinearity": "relu"}
    assert fi.scheme_for("selu").kwargs == {}


def test_names_are_case_insensitive_and_none_is_linear():
    assert fi.scheme_for("ReLU") == fi.scheme_for("relu")
    assert fi.scheme_for("GELU").activation == "gelu"
    assert fi.scheme_for(None) == fi.scheme_for("none")
    assert fi.scheme_for(None).name == "xavier"


def test_param_is_ignored_except_for_leaky_relu():
    assert fi.scheme_for("relu", 0.3) == fi.scheme_for("relu")
    assert fi.scheme_for("tanh", 0.3) == fi.scheme_for("tanh")


def test_scheme_is_frozen_and_hashable():
    scheme = fi.scheme_for("relu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        scheme.gain = 2.0
    assert hash(scheme) == hash(fi.scheme_for("relu"))


# init_for: a (1000, 1024) weight, 1,024,000 samples, fans (1024, 1000).
SHAPE = (1000, 1024)
FAN_IN, FAN_OUT = 1024, 1000
FANS = {"fan_in": FAN_IN, "fan_avg": (FAN_IN + FAN_OUT) / 2}


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
@pytest.mark.parametrize("activation", TABLE)
def test_init_for_std_matches_the_scheme(activation, distribution):
    scheme = fi.scheme_for(activation)
    w = fi.init_for(activation, SHAPE, distribution=distribution, seed=31)
    std = scheme.gain / math.sqrt(FANS[scheme.mode])
    assert w.size >= 10 ** 6
    assert float(w.std()) == pytest.approx(std, rel=0.01)
    if distribution == "uniform":
        assert float(np.abs(w).max()) <= np.float32(math.sqrt(3) * std)
    # init_for is exactly the chosen function with the scheme's arguments
    expected = scheme.function(distribution)(SHAPE, **scheme.kwargs, seed=31)
    assert same_bits(w, expected)


def test_init_for_leaky_relu_uses_the_slope():
    w = fi.init_for("leaky_relu", SHAPE, param=0.5, seed=3)
    assert same_bits(w, fi.kaiming_normal(SHAPE, a=0.5, seed=3))
    assert float(w.std()) == pytest.approx(math.sqrt(2 / 1.25) / math.sqrt(FAN_IN), rel=0.01)


def test_init_for_selu_is_lecun_truncated_normal():
    w = fi.init_for("selu", SHAPE, seed=4)
    assert same_bits(w, fi.lecun_normal(SHAPE, seed=4))
    bound = 2 * (1 / math.sqrt(FAN_IN)) / 0.87962566103423978
    assert float(np.abs(w).max()) <= np.float32(bound)


def test_init_for_passes_layout_region_out_dtype_and_stream():
    shape = (3, 3, 32, 64)    # HWIO
    full = fi.init_for("relu", shape, in_axis=-2, out_axis=-1, dtype=np.float64, seed=5, stream=2)
    assert same_bits(full, fi.kaiming_normal(shape, nonlinearity="relu", in_axis=-2, out_axis=-1,
                                             dtype=np.float64, seed=5, stream=2))
    region = (slice(1, 2), slice(None), slice(4, 20))
    block = fi.init_for("relu", shape, in_axis=-2, out_axis=-1, dtype=np.float64, seed=5, stream=2,
                        region=region)
    assert np.array_equal(block.view(np.uint64), full[region].view(np.uint64))
    out = np.empty(shape, dtype=np.float64)
    assert fi.init_for("relu", out=out, in_axis=-2, out_axis=-1, seed=5, stream=2) is out
    assert np.array_equal(out.view(np.uint64), full.view(np.uint64))


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("activation", ["softplus", "re lu", "", "leakyrelu"])
def test_unknown_activation(activation):
    with pytest.raises(ValueError, match=r"activation must be one of 'linear', .*'relu', .*'selu'; "
                                         rf"got {activation!r}"):
        fi.scheme_for(activation)
    with pytest.raises(ValueError, match="activation must be one of"):
        fi.init_for(activation, (4, 4), seed=1)


@pytest.mark.parametrize("activation", [1, param_with("torch", lambda torch: torch.nn.ReLU(), id="torch.nn.ReLU()"),
                                        ["relu"]])
def test_activation_must_be_a_string(activation):
    with pytest.raises(TypeError, match="activation must be a string or None, one of 'linear'.*got"):
        fi.scheme_for(activation)


@pytest.mark.parametrize("param, exc", [(True, TypeError), ("0.1", TypeError), (float("nan"), ValueError)])
def test_bad_leaky_relu_slope(param, exc):
    with pytest.raises(exc, match=r"param \(the leaky_relu negative slope\)"):
        fi.scheme_for("leaky_relu", param)


@pytest.mark.parametrize("distribution, exc", [("truncated_normal", ValueError), ("Normal", ValueError),
                                               (None, TypeError)])
def test_bad_distribution(distribution, exc):
    out = np.full((4, 4), 9.0, dtype=np.float32)
    with pytest.raises(exc, match=rf"distribution must be .*'normal', 'uniform'.*got {distribution!r}"):
        fi.init_for("relu", out=out, distribution=distribution, seed=1)
    assert np.all(out == 9.0)


def test_bad_shape_for_init_for():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        fi.init_for("tanh", (10,), seed=1)
