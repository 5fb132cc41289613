"""fastinit.torch drop-ins for torch.nn.init: signatures, distributions, in-place fills, seeds.

Distribution checks use >= 1e6 samples from fixed seeds: the KS statistic
against the exact CDF must stay below 0.002 (about the 0.1% critical value
1.95/sqrt(n) for n = 1e6) and standard deviations within 1% of the formula.
"""

from __future__ import annotations

import inspect
import math
import os

import ml_dtypes
import numpy as np
import pytest
from scipy import stats

from _util import require_module

# Every test here needs the extra: without it the module skips (see _util).
torch = require_module("torch")

import fastinit as fi  # noqa: E402
import fastinit.torch as fit  # noqa: E402
from fastinit._validate import stream_id  # noqa: E402

DROP_INS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "sparse_",
)
RANDOM_DROP_INS = ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
                   "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")
TORCH_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16,
                torch.bfloat16: ml_dtypes.bfloat16}
KS_LIMIT = 0.002
MILLION = (1024, 1024)


def _as_float64(tensor):
    return tensor.detach().to(torch.float64).numpy()


# (drop-in name, positional arguments after the tensor, the NumPy function and its arguments)
EQUIVALENT_CALLS = [
    ("uniform_", (-0.5, 2.0), "uniform", (-0.5, 2.0)),
    ("normal_", (1.0, 3.0), "normal", (1.0, 3.0)),
    ("trunc_normal_", (0.0, 1.0, -1.0, 1.5), "trunc_normal", (0.0, 1.0, -1.0, 1.5)),
    ("xavier_uniform_", (1.5,), "xavier_uniform", (1.5,)),
    ("xavier_normal_", (), "xavier_normal", ()),
    ("kaiming_uniform_", (math.sqrt(5),), "kaiming_uniform", (math.sqrt(5),)),
    ("kaiming_normal_", (0, "fan_out", "relu"), "kaiming_normal", (0, "fan_out", "relu")),
    ("orthogonal_", (2.0,), "orthogonal", (2.0,)),
    ("sparse_", (0.25, 0.1), "sparse", (0.25, 0.1)),
]


# ----------------------------------------------------------------------------- imports


def test_importing_fastinit_imports_neither_torch_nor_dask():
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(fi.__file__).resolve().parent.parent)
    code = ("import sys, fastinit; "
            "assert not {'torch', 'dask'} & set(sys.modules), sorted({'torch', 'dask'} & set(sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_module_uses_the_real_torch():
    # The package is named fastinit.torch; its modules must import PyTorch, not themselves.
    import fastinit.torch._bridge as bridge
    import fastinit.torch._module as module
    assert bridge.torch is torch and module.nn is torch.nn


# ----------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("name", DROP_INS)
def test_signature_is_torch_plus_keyword_only_seed_and_stream(name):
    ours = inspect.signature(getattr(fit, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    for pname, parameter in theirs.items():
        assert ours[pname].kind == parameter.kind, pname
        assert ours[pname].default == parameter.default, pname
        assert type(ours[pname].default) is type(parameter.default), pname
    extra = [p for p in ours.values() if p.name not in theirs]
    assert [p.name for p in extra] == ["seed", "stream"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)
    assert ours["seed"].default is None and ours["stream"].default == 0


@pytest.mark.parametrize("name", DROP_INS)
def test_docstrings_are_complete(name):
    doc = getattr(fit, name).__doc__
    assert "torch.nn.init." + name in doc
    assert "{seed}" not in doc
    for section in ("Parameters", "Returns", "Raises"):
        assert section in doc


# ----------------------------------------------------------------------------- distributions


def test_uniform_distribution_and_exact_bounds():
    w = _as_float64(fit.uniform_(torch.empty(MILLION), -0.5, 2.0, seed=1))
    assert w.min() >= -0.5 and w.max() <= 2.0
    assert stats.kstest(w.ravel(), stats.uniform(-0.5, 2.5).cdf).statistic < KS_LIMIT


def test_normal_distribution():
    w = _as_float64(fit.normal_(torch.empty(MILLION), 1.0, 3.0, seed=2)).ravel()
    assert abs(w.std() / 3.0 - 1) < 0.01
    assert abs(w.mean() - 1.0) < 0.01
    assert stats.kstest(w, stats.norm(1.0, 3.0).cdf).statistic < KS_LIMIT


def test_trunc_normal_distribution_and_exact_bounds():
    w = _as_float64(fit.trunc_normal_(torch.empty(MILLION), 0.5, 1.0, -1.0, 1.5, seed=3)).ravel()
    assert w.min() >= -1.0 and w.max() <= 1.5
    law = stats.truncnorm((-1.0 - 0.5) / 1.0, (1.5 - 0.5) / 1.0, loc=0.5, scale=1.0)
    assert stats.kstest(w, law.cdf).statistic < KS_LIMIT
    assert abs(w.std() / law.std() - 1) < 0.01


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_uniform_bound_and_distribution(gain):
    shape = (512, 2048)
    bound = gain * math.sqrt(6 / (512 + 2048))
    w = _as_float64(fit.xavier_uniform_(torch.empty(shape), gain, seed=4)).ravel()
    assert np.abs(w).max() <= bound
    assert stats.kstest(w, stats.uniform(-bound, 2 * bound).cdf).statistic < KS_LIMIT


def test_xavier_normal_std():
    shape = (256, 64, 8, 8)       # fan_in 4096, fan_out 16384 (torch's conv fans)
    w = _as_float64(fit.xavier_normal_(torch.empty(shape), 2.0, seed=5)).ravel()
    std = 2.0 * math.sqrt(2 / (4096 + 16384))
    assert abs(w.std() / std - 1) < 0.01
    assert stats.kstest(w, stats.norm(0, std).cdf).statistic < KS_LIMIT


@pytest.mark.parametrize("a, nonlinearity", [(math.sqrt(5), "leaky_relu"), (0, "relu")])
def test_kaiming_uniform_bound_and_distribution(a, nonlinearity):
    shape = (1024, 1024)
    bound = torch.nn.init.calculate_gain(nonlinearity, a) * math.sqrt(3 / 1024)
    w = _as_float64(fit.kaiming_uniform_(torch.empty(shape), a, nonlinearity=nonlinearity, seed=6))
    assert np.abs(w).max() <= bound
    assert stats.kstest(w.ravel(), stats.uniform(-bound, 2 * bound).cdf).statistic < KS_LIMIT


def test_kaiming_normal_fan_out_std():
    shape = (256, 64, 8, 8)
    w = _as_float64(fit.kaiming_normal_(torch.empty(shape), mode="fan_out", nonlinearity="relu",
                                        seed=7)).ravel()
    std = math.sqrt(2) / math.sqrt(256 * 64)
    assert abs(w.std() / std - 1) < 0.01
    assert stats.kstest(w, stats.norm(0, std).cdf).statistic < KS_LIMIT


@pytest.mark.parametrize("name, args", [
    ("uniform_", (-1.0, 3.0)), ("normal_", (0.5, 2.0)), ("trunc_normal_", (0.0, 1.0, -2.0, 2.0)),
    ("xavier_uniform_", ()), ("kaiming_normal_", ()),
])
def test_same_distribution_as_torch(name, args):
    """Two-sample KS between torch.nn.init and the drop-in, 1e6 samples each."""
    torch.manual_seed(0)
    ours = _as_float64(getattr(fit, name)(torch.empty(MILLION), *args, seed=11)).ravel()
    theirs = _as_float64(getattr(torch.nn.init, name)(torch.empty(MILLION), *args)).ravel()
    assert stats.ks_2samp(ours, theirs).statistic < 0.003
    assert abs(ours.std() / theirs.std() - 1) < 0.01


@pytest.mark.parametrize("shape", [(64, 256), (256, 64), (32, 4, 3, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = _as_float64(fit.orthogonal_(torch.empty(shape, dtype=torch.float64), 2.0, seed=8))
    matrix = w.reshape(shape[0], -1)
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-10)


def test_sparse_zeros_per_column_and_std():
    w = _as_float64(fit.sparse_(torch.empty(2000, 600), 0.3, std=0.5, seed=9))
    assert ((w == 0).sum(axis=0) == math.ceil(0.3 * 2000)).all()
    kept = w[w != 0]
    assert kept.size >= 1_000_000 * 0.8
    assert abs(kept.std() / 0.5 - 1) < 0.01


@pytest.mark.parametrize("name, args", [
    ("constant_", (0.3,)), ("ones_", ()), ("zeros_", ()), ("eye_", ()), ("dirac_", ()),
    ("dirac_", (2,)),
])
@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_deterministic_fills_equal_torch(name, args, dtype):
    shape = (4, 6) if name == "eye_" else (8, 4, 3, 3)
    ours = getattr(fit, name)(torch.full(shape, 7.0, dtype=dtype), *args)
    theirs = getattr(torch.nn.init, name)(torch.full(shape, 7.0, dtype=dtype), *args)
    assert torch.equal(ours, theirs)


# ----------------------------------------------------------------------------- in place, dtypes


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("name, args, numpy_name, numpy_args", EQUIVALENT_CALLS)
def test_fills_in_place_with_fastinit_values(dtype, name, args, numpy_name, numpy_args):
    shape = (40, 30)
    tensor = torch.empty(shape, dtype=dtype)
    pointer = tensor.data_ptr()
    result = getattr(fit, name)(tensor, *args, seed=123, stream="w")
    assert result is tensor and tensor.data_ptr() == pointer
    expected = getattr(fi, numpy_name)(shape, *numpy_args, dtype=NUMPY_DTYPES[dtype], seed=123,
                                       stream=stream_id("w"))
    got = fit.numpy_view(tensor)
    assert got.dtype == expected.dtype
    assert np.array_equal(got.view(f"u{got.itemsize}"), expected.view(f"u{got.itemsize}"))


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("view", ["transposed", "strided_columns", "sliced_rows"])
def test_non_contiguous_tensor_is_filled_by_logical_index(dtype, view):
    base = torch.full((12, 20), 9.0, dtype=dtype)
    tensor = {"transposed": base.t(), "strided_columns": base[:, ::3],
              "sliced_rows": base[2:9]}[view]
    assert not tensor.is_contiguous() or view == "sliced_rows"
    fit.normal_(tensor, 0.0, 1.0, seed=5)
    expected = fi.normal(tuple(tensor.shape), 0.0, 1.0, dtype=NUMPY_DTYPES[dtype], seed=5)
    assert torch.equal(tensor, torch.from_numpy(expected.astype(np.float64)).to(dtype))
    untouched = torch.ones_like(base, dtype=torch.bool)
    {"transposed": lambda: None,
     "strided_columns": lambda: untouched[:, ::3].fill_(False),
     "sliced_rows": lambda: untouched[2:9].fill_(False)}[view]()
    if view != "transposed":
        assert (base[untouched] == 9.0).all()


def test_bfloat16_values_are_the_rounded_float32_values():
    tensor = fit.uniform_(torch.empty(1000, dtype=torch.bfloat16), -1, 1, seed=3)
    as_float32 = fi.uniform(1000, -1, 1, seed=3)
    assert torch.equal(tensor, torch.from_numpy(as_float32).to(torch.bfloat16))


def test_parameter_that_requires_grad():
    weight = torch.nn.Parameter(torch.empty(64, 32))
    version = weight._version
    result = fit.kaiming_uniform_(weight, seed=1)
    assert result is weight
    assert weight.requires_grad and weight.is_leaf and weight.grad_fn is None
    assert weight._version > version, "in-place fills bump autograd's version counter"
    (weight.sum() * 2).backward()
    assert torch.equal(weight.grad, torch.full_like(weight, 2.0))


def test_zero_element_tensor():
    with pytest.warns(UserWarning, match="zero-element"):
        fit.kaiming_uniform_(torch.empty(0, 5), seed=1)
    assert fit.uniform_(torch.empty(0), seed=1).shape == (0,)


def test_zero_dimensional_tensor():
    tensor = fit.normal_(torch.empty(()), 0.0, 1.0, seed=4)
    assert tensor.item() == float(fi.normal((), seed=4))


# ----------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("name, args, numpy_name, numpy_args", EQUIVALENT_CALLS)
def test_manual_seed_makes_runs_reproducible(name, args, numpy_name, numpy_args):
    function = getattr(fit, name)
    torch.manual_seed(0)
    first = function(torch.empty(50, 40), *args)
    second_call = function(torch.empty(50, 40), *args)
    torch.manual_seed(0)
    again = function(torch.empty(50, 40), *args)
    torch.manual_seed(1)
    other = function(torch.empty(50, 40), *args)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.equal(first, second_call)


def test_seed_drawn_from_the_default_generator():
    torch.manual_seed(42)
    expected_seed = int(torch.empty((), dtype=torch.int64).random_())
    torch.manual_seed(42)
    tensor = fit.normal_(torch.empty(100))
    assert np.array_equal(fit.numpy_view(tensor), fi.normal(100, seed=expected_seed))


def test_generator_argument_is_used_and_leaves_the_default_alone():
    state = torch.random.get_rng_state()
    a = fit.xavier_normal_(torch.empty(30, 20), generator=torch.Generator().manual_seed(5))
    b = fit.xavier_normal_(torch.empty(30, 20), 1.0, torch.Generator().manual_seed(5))
    c = fit.xavier_normal_(torch.empty(30, 20), generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_explicit_seed_uses_no_torch_generator():
    state = torch.random.get_rng_state()
    generator = torch.Generator().manual_seed(3)
    generator_state = generator.get_state()
    a = fit.uniform_(torch.empty(10), seed=9, generator=generator)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(generator.get_state(), generator_state)
    assert torch.equal(a, fit.uniform_(torch.empty(10), seed=9))


def test_deterministic_fills_do_not_consume_the_generator():
    state = torch.random.get_rng_state()
    fit.zeros_(torch.empty(5))
    fit.constant_(torch.empty(5), 2.0)
    fit.dirac_(torch.empty(2, 2, 3))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_named_streams():
    a = fit.normal_(torch.empty(100), seed=1, stream="layer.weight")
    b = fit.normal_(torch.empty(100), seed=1, stream=stream_id("layer.weight"))
    c = fit.normal_(torch.empty(100), seed=1, stream="layer.bias")
    assert torch.equal(a, b) and not torch.equal(a, c)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", DROP_INS)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool,
                                   torch.complex64])
def test_unsupported_dtype_is_a_type_error_naming_it(name, dtype):
    tensor = torch.zeros((4, 4, 3), dtype=dtype)
    args = (0.5,) if name in ("constant_", "sparse_") else ()
    with pytest.raises(TypeError, match=str(dtype)):
        getattr(fit, name)(tensor, *args)
    assert (tensor == 0).all()


@pytest.mark.parametrize("name", DROP_INS)
def test_meta_tensor_points_to_init_module(name):
    args = (0.5,) if name in ("constant_", "sparse_") else ()
    shape = (4, 4) if name in ("eye_", "sparse_") else (4, 4, 3)
    with pytest.raises(ValueError, match="init_module"):
        getattr(fit, name)(torch.empty(shape, device="meta"), *args)


def test_meta_tensor_does_not_consume_the_generator():
    state = torch.random.get_rng_state()
    with pytest.raises(ValueError):
        fit.normal_(torch.empty(3, device="meta"))
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("bad", [np.zeros(3, np.float32), [1.0, 2.0], None])
def test_not_a_tensor(bad):
    with pytest.raises(TypeError, match="torch.Tensor"):
        fit.uniform_(bad, seed=0)


def test_sparse_layout_is_rejected():
    with pytest.raises(TypeError, match="layout"):
        fit.zeros_(torch.eye(3).to_sparse())


def test_expanded_tensor_with_overlapping_elements_is_rejected():
    with pytest.raises(ValueError, match="zero stride"):
        fit.normal_(torch.empty(3).expand(4, 3), seed=0)


def test_tensor_subclasses():
    class Plain(torch.Tensor):
        pass

    plain = torch.empty(10).as_subclass(Plain)
    assert torch.equal(fit.normal_(plain, seed=1).as_subclass(torch.Tensor),
                       fit.normal_(torch.empty(10), seed=1))
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode():
        fake = torch.empty(10)
    with pytest.raises(TypeError, match="FakeTensor"):
        fit.normal_(fake, seed=1)


def test_works_inside_a_device_context():
    """torch.device(...) is a TorchFunctionMode: plain tensors must still be recognized."""
    tensor = torch.empty(10)
    with torch.device("meta"):
        fit.normal_(tensor, seed=1)
        fit.normal_(torch.empty(3, device="cpu"))          # seed drawn on the CPU
    assert torch.equal(tensor, fit.normal_(torch.empty(10), seed=1))


def test_bad_generator():
    with pytest.raises(TypeError, match="generator"):
        fit.normal_(torch.empty(3), generator=5)


@pytest.mark.parametrize("call, error", [
    (lambda t: fit.uniform_(t, 2.0, 1.0, seed=0), ValueError),
    (lambda t: fit.normal_(t, 0.0, -1.0, seed=0), ValueError),
    (lambda t: fit.trunc_normal_(t, 0.0, 1.0, 2.0, -2.0, seed=0), ValueError),
    (lambda t: fit.kaiming_uniform_(t, mode="fan_avg", seed=0), ValueError),
    (lambda t: fit.kaiming_normal_(t, nonlinearity="softplus", seed=0), ValueError),
    (lambda t: fit.xavier_uniform_(t[0], seed=0), ValueError),
    (lambda t: fit.orthogonal_(t[0], seed=0), ValueError),
    (lambda t: fit.sparse_(t[None], 0.5, seed=0), ValueError),
    (lambda t: fit.sparse_(t, 1.5, seed=0), ValueError),
    (lambda t: fit.eye_(t[None]), ValueError),
    (lambda t: fit.dirac_(t), ValueError),
    (lambda t: fit.constant_(t, 1e39), ValueError),
    (lambda t: fit.uniform_(t, seed=-1), ValueError),
    (lambda t: fit.uniform_(t, seed=1.5), TypeError),
    (lambda t: fit.uniform_(t, seed=0, stream=1.5), TypeError),
])
def test_bad_arguments_leave_the_tensor_unchanged(call, error):
    tensor = torch.full((6, 4), 3.0)
    with pytest.raises(error):
        call(tensor)
    assert (tensor == 3.0).all()


def test_numpy_view_rejects_non_cpu_and_bad_dtypes():
    view = fit.numpy_view(torch.zeros(3, dtype=torch.bfloat16))
    assert view.dtype == np.dtype(ml_dtypes.bfloat16)
    with pytest.raises(TypeError, match="torch.int64"):
        fit.numpy_view(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="init_module"):
        fit.numpy_view(torch.zeros(3, device="meta"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_cuda_tensor_is_generated_on_the_cpu_and_copied(dtype):
    tensor = torch.empty(300, 200, dtype=dtype, device="cuda")
    assert fit.xavier_uniform_(tensor, seed=3) is tensor
    expected = fit.xavier_uniform_(torch.empty(300, 200, dtype=dtype), seed=3)
    assert torch.equal(tensor.cpu(), expected)
