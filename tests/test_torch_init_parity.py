"""PyTorch's own test suite for ``torch.nn.init``, re-expressed against ``fastinit.torch``.

Every case of ``test/nn/test_init.py`` (pytorch/pytorch) is here with the
same inputs and the same checks: KS tests at p > 1e-4 on the same small
sizes, the same exception types, warnings and, where upstream asserts them,
exact values.  Each test runs twice, once with ``torch.nn.init`` itself and
once with ``fastinit.torch`` in its place, so a check that torch fails would
be a mistake in this file, not a finding about fastinit.

Left out: upstream's ``test_deprecation`` (torch's deprecated non-underscore
aliases such as ``init.normal``, which fastinit.torch does not provide).
"""

from __future__ import annotations

import math
import random
import string

import pytest

from _util import require_module

# Every test here needs the extra: without it the module skips (see _util).
torch = require_module("torch")

import numpy as np  # noqa: E402
from scipy import special, stats  # noqa: E402

import fastinit.torch as fit  # noqa: E402

F = torch.nn.functional
P_MIN = 1e-4            # upstream's threshold for every KS test


@pytest.fixture(params=["torch", "fastinit"])
def init(request):
    """The module under test, bound as upstream binds ``torch.nn.init``."""
    return torch.nn.init if request.param == "torch" else fit


@pytest.fixture
def rng():
    """Upstream seeds Python's generator with 123 in setUp (and torch's with 1234)."""
    torch.manual_seed(1234)
    return random.Random(123)


def _zeros_of_random_size(rng, dims, low, high):
    return torch.zeros([rng.randint(low, high) for _ in range(dims)])


def _between(rng, low, high):
    return (high - low) * rng.random() + low


def _samples(tensor):
    return tensor.detach().reshape(-1).double().numpy()


def _p_normal(tensor, mean, std):
    return stats.kstest(_samples(tensor), "norm", args=(mean, std)).pvalue


def _p_uniform(tensor, low, high):
    return stats.kstest(_samples(tensor), "uniform", args=(low, high - low)).pvalue


def _p_trunc_normal(tensor, mean, std, a, b):
    """Upstream's KS test against scipy's truncnorm, with its CDF written through ``ndtr``
    (the same function, vectorized: scipy's own is slow on the 4-D cases' millions of samples)."""
    lower, upper = special.ndtr((a - mean) / std), special.ndtr((b - mean) / std)

    def cdf(z):
        return np.clip((special.ndtr(z) - lower) / (upper - lower), 0.0, 1.0)

    return stats.kstest((_samples(tensor) - mean) / std, cdf).pvalue


def _torch_fans(tensor):
    receptive = tensor[0, 0].numel() if tensor.dim() > 2 else 1
    return tensor.size(1) * receptive, tensor.size(0) * receptive


# ----------------------------------------------------------------------------- calculate_gain


@pytest.mark.parametrize("name", ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                  "conv_transpose2d", "conv_transpose3d"])
def test_gain_of_linear_maps_is_one(init, name):
    assert init.calculate_gain(name) == 1


@pytest.mark.parametrize("name, gain", [("sigmoid", 1), ("tanh", 1.6666666666666667),
                                        ("relu", 1.4142135623730951),
                                        ("leaky_relu", 1.4141428569978354), ("selu", 0.75)])
def test_gain_of_nonlinearities(init, name, gain):
    assert init.calculate_gain(name) == gain


@pytest.mark.parametrize("slope, gain", [(None, 1.4141428569978354), (0, 1.4142135623730951),
                                         (0.01, 1.4141428569978354), (10, 0.14071950894605836)])
def test_gain_of_leaky_relu_by_slope(init, slope, gain):
    assert init.calculate_gain("leaky_relu", slope) == gain


@pytest.mark.parametrize("slope", [True, [1], {"a": "b"}])
def test_leaky_relu_slope_must_be_a_number(init, slope):
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", slope)


@pytest.mark.parametrize("length", [2, 5, 25])
def test_unknown_nonlinearities_are_value_errors(init, rng, length):
    name = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain(name)


# ----------------------------------------------------------------------------- plain distributions


@pytest.mark.parametrize("dims", [1, 2, 4])
def test_uniform(init, rng, dims):
    tensor = _zeros_of_random_size(rng, dims, 30, 50)
    low = _between(rng, -3, 3)
    high = low + _between(rng, 1, 5)
    init.uniform_(tensor, a=low, b=high)
    assert _p_uniform(tensor, low, high) > P_MIN


@pytest.mark.parametrize("dims", [1, 2, 4])
def test_normal(init, rng, dims):
    tensor = _zeros_of_random_size(rng, dims, 30, 50)
    mean = _between(rng, -3, 3)
    std = _between(rng, 1, 5)
    init.normal_(tensor, mean=mean, std=std)
    assert _p_normal(tensor, mean, std) > P_MIN


def test_trunc_normal_generator_is_the_default_one_seeded_alike(init):
    generator = torch.Generator().manual_seed(42)
    from_generator = init.trunc_normal_(torch.empty(5), generator=generator)
    torch.manual_seed(42)
    from_default = init.trunc_normal_(torch.empty(5))
    assert torch.equal(from_generator, from_default)
    # Upstream's check, as it writes it: the 5 values against N(0, 1) truncated to [0, 1].
    assert _p_trunc_normal(from_generator, 0.0, 1.0, 0.0, 1.0) > P_MIN


# ----------------------------------------------------------------------------- deterministic fills


@pytest.mark.parametrize("dims", [1, 2, 4])
def test_constant(init, rng, dims):
    tensor = _zeros_of_random_size(rng, dims, 1, 5)
    value = _between(rng, 1, 10)
    init.constant_(tensor, value)
    assert torch.equal(tensor, torch.empty_like(tensor).fill_(value))


@pytest.mark.parametrize("name, value", [("ones_", 1), ("zeros_", 0)])
@pytest.mark.parametrize("dims", [1, 2, 4])
def test_ones_and_zeros(init, rng, name, value, dims):
    tensor = _zeros_of_random_size(rng, dims, 1, 5)
    getattr(init, name)(tensor)
    assert torch.equal(tensor, torch.empty_like(tensor).fill_(value))


def test_eye(init, rng):
    tensor = _zeros_of_random_size(rng, 2, 1, 5)
    init.eye_(tensor)
    for i in range(tensor.size(0)):
        for j in range(tensor.size(1)):
            assert tensor[i, j] == (1 if i == j else 0), (i, j)


@pytest.mark.parametrize("dims", [1, 3])
def test_eye_needs_two_dimensions(init, rng, dims):
    with pytest.raises(ValueError, match="^Only tensors with 2 dimensions are supported"):
        init.eye_(_zeros_of_random_size(rng, dims, 1, 3))


@pytest.mark.parametrize("dims", [3, 4, 5])
@pytest.mark.parametrize("groups", [1, 2, 3])
def test_dirac_places_one_per_kept_channel(init, rng, dims, groups):
    per_group, height, width, depth = (rng.randint(1, 5) for _ in range(4))
    in_channels = rng.randint(1, 5 * groups)
    tensor = torch.randn((per_group * groups, in_channels, height, width, depth)[:dims])
    init.dirac_(tensor, groups)
    kept = min(tensor.size(0) // groups, tensor.size(1))
    assert torch.nonzero(tensor).size(0) == kept * groups
    assert tensor.sum() == kept * groups


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_dirac_convolution_is_the_identity(init, groups, spatial):
    batch, in_channels, out_channels, size, kernel = 8, 3, 9, 5, 3
    per_group = out_channels // groups
    inputs = torch.randn(batch, in_channels, *[size] * spatial)
    weight = torch.cat([torch.zeros(per_group, in_channels, *[kernel] * spatial)] * groups)
    init.dirac_(weight, groups)
    outputs = getattr(F, f"conv{spatial}d")(inputs, weight)
    interior = (slice(None), slice(None)) + (slice(1, -1),) * spatial
    for g in range(groups):
        assert torch.equal(outputs[:, per_group * g:per_group * g + in_channels], inputs[interior])
        assert torch.nonzero(outputs[:, per_group * g + in_channels:per_group * (g + 1)]).numel() == 0


@pytest.mark.parametrize("dims", [1, 2, 6])
def test_dirac_needs_three_to_five_dimensions(init, rng, dims):
    with pytest.raises(ValueError, match="^Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(_zeros_of_random_size(rng, dims, 1, 3))


# ----------------------------------------------------------------------------- xavier, kaiming


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_"])
@pytest.mark.parametrize("dims", [0, 1])
def test_fan_based_schemes_need_two_dimensions(init, rng, name, dims):
    with pytest.raises(ValueError, match="^Fan in and fan out can not be computed for tensor with "
                                         "fewer than 2 dimensions"):
        getattr(init, name)(_zeros_of_random_size(rng, dims, 1, 1))


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
@pytest.mark.parametrize("use_gain", [True, False])
@pytest.mark.parametrize("dims", [2, 4])
def test_xavier(init, rng, distribution, use_gain, dims):
    tensor = _zeros_of_random_size(rng, dims, 20, 25)
    gain = _between(rng, 0.1, 2) if use_gain else 1
    fill = getattr(init, f"xavier_{distribution}_")
    if use_gain:
        fill(tensor, gain=gain)
    else:
        fill(tensor)
    fan_in, fan_out = _torch_fans(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    if distribution == "uniform":
        bound = std * math.sqrt(3)
        assert _p_uniform(tensor, -bound, bound) > P_MIN
    else:
        assert _p_normal(tensor, 0, std) > P_MIN


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_warns_on_zero_elements(init, name):
    tensor = torch.empty(0, 1)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert getattr(init, name)(tensor) is tensor


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
@pytest.mark.parametrize("use_a", [True, False])
@pytest.mark.parametrize("dims", [2, 4])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(init, rng, distribution, use_a, dims, mode):
    tensor = _zeros_of_random_size(rng, dims, 20, 25)
    function = getattr(init, f"kaiming_{distribution}_")
    if use_a:
        a = _between(rng, 0.1, 2)
        function(tensor, a=a, mode=mode)
    else:
        a = 0
        function(tensor, mode=mode)
    fan_in, fan_out = _torch_fans(tensor)
    std = math.sqrt(2.0 / ((1 + a ** 2) * (fan_in if mode == "fan_in" else fan_out)))
    if distribution == "uniform":
        assert _p_uniform(tensor, -std * math.sqrt(3.0), std * math.sqrt(3.0)) > P_MIN
    else:
        assert _p_normal(tensor, 0, std) > P_MIN


# ----------------------------------------------------------------------------- sparse, orthogonal


@pytest.mark.parametrize("dims", [1, 3])
def test_sparse_needs_two_dimensions(init, rng, dims):
    sparsity = _between(rng, 0.1, 0.9)
    with pytest.raises(ValueError, match="^Only tensors with 2 dimensions are supported"):
        init.sparse_(_zeros_of_random_size(rng, dims, 1, 3), sparsity)


@pytest.mark.parametrize("use_random_std", [True, False])
def test_sparse(init, rng, use_random_std):
    tensor = _zeros_of_random_size(rng, 2, 30, 35)
    rows = tensor.size(0)
    sparsity = _between(rng, 0.1, 0.2)
    std = _between(rng, 0.01, 0.2) if use_random_std else 0.01
    if use_random_std:
        init.sparse_(tensor, sparsity=sparsity, std=std)
    else:
        init.sparse_(tensor, sparsity=sparsity)
    for column in tensor.t():
        assert (column == 0).sum() >= math.ceil(sparsity * rows)
    assert _p_normal(tensor[tensor != 0], 0, std) > P_MIN


@pytest.mark.parametrize("use_gain", [True, False])
@pytest.mark.parametrize("shape", [[3, 4], [4, 3], [20, 2, 3, 4], [2, 3, 4, 5]])
def test_orthogonal(init, rng, use_gain, shape):
    tensor = torch.zeros(shape)
    gain = _between(rng, 0.1, 2) if use_gain else 1.0
    if use_gain:
        init.orthogonal_(tensor, gain=gain)
    else:
        init.orthogonal_(tensor)
    rows = shape[0]
    matrix = tensor.view(rows, -1)
    cols = matrix.size(1)
    gram = matrix.t() @ matrix if rows > cols else matrix @ matrix.t()
    torch.testing.assert_close(gram, torch.eye(min(rows, cols)) * gain ** 2, atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------- trunc_normal_ by dtype


@pytest.mark.parametrize("dims", [1, 2, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_trunc_normal_random_intervals(init, rng, dims, dtype):
    if init is torch.nn.init and dims == 4:
        pytest.skip("torch's rejection sampler takes seconds on millions of elements; its 1-D and "
                    "2-D runs already vouch for this test")
    tensor = torch.zeros([rng.randint(30, 50) for _ in range(dims)], dtype=dtype)
    mean = rng.uniform(-3, 3)
    std = rng.uniform(0.01, 1)
    a = rng.uniform(mean - 2 * std, mean)
    b = rng.uniform(mean, mean + 2 * std)
    init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)
    # The bounds as the dtype holds them.
    assert tensor.min().item() >= torch.tensor(a, dtype=dtype).item()
    assert tensor.max().item() <= torch.tensor(b, dtype=dtype).item()
    assert _p_trunc_normal(tensor.float(), mean, std, a, b) > P_MIN


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_trunc_normal_low_precision(init, dtype):
    tensor = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert tensor.min().item() >= -2.0 and tensor.max().item() <= 2.0
    assert _p_trunc_normal(tensor.float(), 0.0, 1.0, -2.0, 2.0) > P_MIN


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_trunc_normal_narrow_interval_in_the_tail(init, dtype):
    tensor = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=2.0, b=3.0)
    assert tensor.min().item() >= 2.0 and tensor.max().item() <= 3.0
    assert _p_trunc_normal(tensor.float(), 0.0, 1.0, 2.0, 3.0) > P_MIN


@pytest.mark.parametrize("dtype, min_unique", [(torch.float32, 5000), (torch.float64, 5000),
                                               (torch.float16, 3000), (torch.bfloat16, 1000)])
def test_trunc_normal_uses_enough_distinct_values(init, dtype, min_unique):
    tensor = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert tensor.min().item() >= -2.0 and tensor.max().item() <= 2.0
    assert tensor.unique().numel() > min_unique
    assert not tensor.isinf().any() and not tensor.isnan().any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_trunc_normal_never_lands_on_far_bounds(init, dtype):
    tensor = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=0.1, a=-2.0, b=2.0)
    assert (tensor == -2.0).sum().item() == 0
    assert (tensor == 2.0).sum().item() == 0
