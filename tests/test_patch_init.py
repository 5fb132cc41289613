"""fastinit.torch.patch_init with plain torch: what is served, with which values, what goes to torch."""

from __future__ import annotations

import math
import sys
import threading
import types

import numpy as np
import pytest

from _util import require_module

torch = require_module("torch")

import fastinit as fi  # noqa: E402
import fastinit.torch as fit  # noqa: E402
from fastinit.torch._bridge import _draw_seed  # noqa: E402
from fastinit._validate import stream_id  # noqa: E402

patch_init = fit.patch_init

nn = torch.nn
# Kept in a dict: patch_init rebinds module-level names (this module's too) inside the context.
ORIGINAL = {"normal_": torch.nn.init.normal_, "xavier": torch.nn.modules.activation.xavier_uniform_}


def _stream(seed, k):
    """The stream of the k-th fill of a tensor outside ``model``."""
    return fi.default_rng(seed).child("patch_init").stream_at(k)


def _same_bits(a, b):
    a, b = a.detach(), b.detach()
    return a.shape == b.shape and torch.equal(a.view(torch.int32), b.view(torch.int32))


def _assert_restored():
    assert torch.nn.init.normal_ is ORIGINAL['normal_']
    assert torch.nn.modules.activation.xavier_uniform_ is ORIGINAL['xavier']
    assert "normal_" not in torch.Tensor.__dict__ and "uniform_" not in torch.Tensor.__dict__


# ------------------------------------------------------------------------------ values


def test_linear_values_are_fastinit_counter_streams():
    with patch_init(seed=7):
        layer = nn.Linear(64, 32)
    bound = 1 / math.sqrt(64)
    weight = fi.kaiming_uniform((32, 64), a=math.sqrt(5), seed=7, stream=_stream(7, 0))
    bias = fi.uniform((32,), -bound, bound, seed=7, stream=_stream(7, 1))
    assert np.array_equal(layer.weight.detach().numpy().view(np.uint32), weight.view(np.uint32))
    assert np.array_equal(layer.bias.detach().numpy().view(np.uint32), bias.view(np.uint32))
    _assert_restored()


def test_tensor_methods_and_named_bindings_are_served():
    x, y = torch.empty(300, 200), torch.empty(50)
    with patch_init(seed=3):
        x.normal_(1.5, 0.25)
        y.uniform_(-2, 3)
        nn.modules.activation.xavier_uniform_(z := torch.empty(40, 30))   # bound by name in torch
    assert np.array_equal(x.numpy(), fi.normal((300, 200), 1.5, 0.25, seed=3, stream=_stream(3, 0)))
    assert np.array_equal(y.numpy(), fi.uniform((50,), -2, 3, seed=3, stream=_stream(3, 1)))
    assert np.array_equal(z.numpy(), fi.xavier_uniform((40, 30), seed=3, stream=_stream(3, 2)))


@pytest.mark.parametrize("call", [
    lambda t: t.uniform_(-1, 1),
    lambda t: t.uniform_(**{"from": -1, "to": 1}),
    lambda t: t.uniform_(-1, to=1),
    lambda t: torch.nn.init.uniform_(t, -1, 1),
    lambda t: torch.nn.init.uniform_(t, a=-1, b=1, generator=None),
])
def test_argument_spellings(call):
    t = torch.empty(1000)
    with patch_init(seed=5):
        call(t)
    assert np.array_equal(t.numpy(), fi.uniform((1000,), -1, 1, seed=5, stream=_stream(5, 0)))


@pytest.mark.parametrize("name, args, scheme, kwargs", [
    ("normal_", (0.5, 2.0), "normal", {"mean": 0.5, "std": 2.0}),
    ("trunc_normal_", (0.0, 0.02, -0.04, 0.04), "trunc_normal", {"mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.04}),
    ("xavier_normal_", (2.0,), "xavier_normal", {"gain": 2.0}),
    ("kaiming_normal_", (0, "fan_out", "relu"), "kaiming_normal",
     {"mode": "fan_out", "nonlinearity": "relu"}),
    ("orthogonal_", (1.5,), "orthogonal", {"gain": 1.5}),
    ("sparse_", (0.5, 0.1), "sparse", {"sparsity": 0.5, "std": 0.1}),
])
def test_every_random_init_function(name, args, scheme, kwargs):
    t = torch.empty(24, 16, dtype=torch.float64)
    with patch_init(seed=11):
        out = getattr(torch.nn.init, name)(t, *args)
    assert out is t
    expected = getattr(fi, scheme)((24, 16), **kwargs, dtype=np.float64, seed=11, stream=_stream(11, 0))
    assert np.array_equal(t.numpy(), expected)


def test_same_seed_same_bits_other_seed_other_bits():
    def build(seed):
        torch.manual_seed(0)
        with patch_init(seed):
            return nn.Sequential(nn.Embedding(100, 16, padding_idx=1), nn.Conv2d(3, 8, 3), nn.LayerNorm(8))
    a, b, c = build(1), build(1), build(2)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert _same_bits(pa, pb), name
        if pa.std() > 0:
            assert not torch.equal(pa, pc), name
    assert (a[0].weight[1] == 0).all()             # torch keeps the padding row zero
    assert (a[2].weight == 1).all() and (a[2].bias == 0).all()


def test_distributions_match_torch():
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Linear(512, 256), nn.Embedding(300, 64), nn.Conv1d(16, 32, 5))
    with patch_init(seed=0):
        patched = nn.Sequential(nn.Linear(512, 256), nn.Embedding(300, 64), nn.Conv1d(16, 32, 5))
    for (name, ours), theirs in zip(patched.named_parameters(), reference.parameters()):
        ours, theirs = ours.detach(), theirs.detach()
        assert abs(float(ours.std() / theirs.std()) - 1) < 0.1, name
        assert abs(float(ours.mean() - theirs.mean())) < 0.1 * float(theirs.std()) + 0.05, name
        # Uniform layers: the same bounds (torch's max is within a hair of its bound).
        if not name.startswith("1."):
            assert float(ours.abs().max()) <= float(theirs.abs().max()) * 1.02, name
            assert float(ours.abs().max()) >= float(theirs.abs().max()) * 0.9, name


# ------------------------------------------------------------------------------ model=


def test_model_gets_init_module_streams():
    model = nn.Sequential(nn.Linear(32, 16), nn.Embedding(50, 8, padding_idx=0))
    with patch_init(seed=9, model=model):
        model[0].reset_parameters()
        model[1].reset_parameters()
    expected = fit.init_module(nn.Sequential(nn.Linear(32, 16), nn.Embedding(50, 8, padding_idx=0)), 9)
    for (name, got), want in zip(model.named_parameters(), expected.parameters()):
        assert _same_bits(got, want), name


def test_model_tensor_found_by_storage():
    model = nn.Linear(20, 10)
    with patch_init(seed=2, model=model):
        model.weight.data.normal_()             # .data: another tensor object, same storage
        model.bias.detach().uniform_(-1, 1)
        model.weight.data[3:5].normal_()        # a view: a stream named by its place
    expected = fi.normal((10, 20), seed=2, stream=stream_id("weight"))
    expected[3:5] = fi.normal((2, 20), seed=2, stream=stream_id("weight", "view:60:(2, 20):(20, 1)"))
    assert np.array_equal(model.weight.detach().numpy(), expected)
    assert np.array_equal(model.bias.detach().numpy(), fi.uniform((10,), -1, 1, seed=2, stream=stream_id("bias")))


def test_model_adding_a_layer_changes_no_other_tensor():
    def init(model):
        with patch_init(seed=4, model=model):
            for module in model.modules():
                if isinstance(module, nn.Linear):
                    nn.init.trunc_normal_(module.weight, std=0.02)
                    nn.init.normal_(module.bias, std=0.01)
        return {name: p.detach().clone() for name, p in model.named_parameters()}
    small = init(nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8)))
    large = init(nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)))
    assert set(small) < set(large)
    for name, tensor in small.items():
        assert _same_bits(tensor, large[name]), name
    assert not torch.equal(large["2.weight"], large["1.weight"])


def test_counter_is_not_moved_by_model_tensors():
    model = nn.Linear(4, 4)
    outside = torch.empty(100)
    with patch_init(seed=6, model=model):
        model.reset_parameters()
        outside.normal_()
    assert np.array_equal(outside.numpy(), fi.normal((100,), seed=6, stream=_stream(6, 0)))


# ------------------------------------------------------------------------------ what goes to torch


def _torch_result(call, make):
    """What torch alone does: (value or exception type) from the same generator state."""
    torch.manual_seed(123)
    t = make()
    try:
        call(t)
    except Exception as error:            # noqa: BLE001 -- compared by type below
        return t, type(error)
    return t, None


@pytest.mark.parametrize("make, call", [
    (lambda: torch.empty(10, dtype=torch.int32), lambda t: t.random_(0, 5)),
    (lambda: torch.empty(10, dtype=torch.int32), lambda t: torch.nn.init.uniform_(t, 0, 5)),
    (lambda: torch.empty(10, dtype=torch.complex64), lambda t: t.normal_()),
    (lambda: torch.zeros(4).expand(3, 4), lambda t: t.normal_()),                     # overlapping
    (lambda: nn.Parameter(torch.empty(5)), lambda t: t.normal_()),                    # autograd leaf
    (lambda: torch.empty(0, 3), lambda t: torch.nn.init.kaiming_uniform_(t)),         # zero elements
    (lambda: torch.empty(4), lambda t: torch.nn.init.normal_(t, 0, 1, None, 5)),      # a bad call
])
@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_unservable_goes_to_torch(make, call):
    expected, expected_error = _torch_result(call, make)
    torch.manual_seed(123)
    with patch_init(seed=0):
        got = make()
        if expected_error is not None:
            with pytest.raises(expected_error):
                call(got)
        else:
            call(got)
    if expected_error is None and got.numel():
        assert torch.equal(got, expected)            # torch's generator: torch's values
    _assert_restored()


def test_meta_tensor_goes_to_torch():
    with patch_init(seed=0):
        with torch.device("meta"):
            layer = nn.Linear(4, 4)
        assert layer.weight.is_meta
        torch.nn.init.trunc_normal_(layer.weight)


def test_requires_grad_leaf_is_served_under_no_grad_and_by_init():
    p = nn.Parameter(torch.empty(50))
    q = nn.Parameter(torch.empty(50))
    with patch_init(seed=1):
        with torch.no_grad():
            p.normal_()
        torch.nn.init.normal_(q)                     # torch.nn.init runs under no_grad itself
    assert np.array_equal(p.detach().numpy(), fi.normal((50,), seed=1, stream=_stream(1, 0)))
    assert np.array_equal(q.detach().numpy(), fi.normal((50,), seed=1, stream=_stream(1, 1)))
    assert p.requires_grad and q.requires_grad


def test_dtypes_and_non_contiguous():
    bf = torch.empty(64, 32, dtype=torch.bfloat16)
    base = torch.zeros(16, 10)
    with patch_init(seed=8):
        bf.normal_(0, 0.5)
        base.t()[::2].uniform_(1, 2)                # strided view: values by logical index
    expected = fi.normal((64, 32), 0, 0.5, dtype="bfloat16", seed=8, stream=_stream(8, 0))
    assert np.array_equal(bf.view(torch.int16).numpy().view(np.uint16), expected.view(np.uint16))
    assert np.array_equal(base.t()[::2].numpy(), fi.uniform((5, 16), 1, 2, seed=8, stream=_stream(8, 1)))
    assert (base.t()[1::2] == 0).all()


def test_explicit_torch_generator_seeds_the_drop_in():
    t, expected = torch.empty(30), torch.empty(30)
    with patch_init(seed=0):
        torch.nn.init.normal_(t, generator=torch.Generator().manual_seed(5))
    fit.normal_(expected, generator=torch.Generator().manual_seed(5))
    assert torch.equal(t, expected)


def test_bad_values_raise_before_writing():
    t = torch.zeros(10)
    with patch_init(seed=0):
        with pytest.raises(RuntimeError):           # torch: RuntimeError; fastinit: InitValueError
            torch.nn.init.uniform_(t, 2.0, 1.0)
        with pytest.raises(ValueError):
            t.normal_(0, -1)
        t.normal_()                                   # the failed calls did not take a stream
    assert (t.numpy() == fi.normal((10,), seed=0, stream=_stream(0, 0))).all()


# ------------------------------------------------------------------------------ lifecycle


def test_restores_on_exception_and_outside_is_torch():
    with pytest.raises(KeyError):
        with patch_init(seed=0):
            assert torch.nn.init.normal_ is not ORIGINAL['normal_']
            raise KeyError("boom")
    _assert_restored()
    torch.manual_seed(1)
    a = torch.empty(20).normal_()
    torch.manual_seed(1)
    b = ORIGINAL['normal_'](torch.empty(20))
    assert torch.equal(a, b)


def test_module_imported_inside_is_given_back_torch():
    module = types.ModuleType("_fastinit_patch_probe")
    with patch_init(seed=0):
        sys.modules[module.__name__] = module
        exec("from torch.nn.init import normal_", module.__dict__)
        assert module.normal_ is not ORIGINAL['normal_']
    try:
        assert module.normal_ is ORIGINAL['normal_']
    finally:
        del sys.modules[module.__name__]


def test_seed_none_draws_from_torch():
    def run():
        torch.manual_seed(42)
        with patch_init() as patch:
            x = torch.empty(10).normal_()
        return patch.seed, x
    (seed_a, a), (seed_b, b) = run(), run()
    assert seed_a == seed_b and torch.equal(a, b)
    torch.manual_seed(42)
    assert seed_a == _draw_seed(None)
    assert np.array_equal(a.numpy(), fi.normal((10,), seed=seed_a, stream=_stream(seed_a, 0)))


def test_nesting_innermost_wins_outer_resumes():
    a, b, c = torch.empty(5), torch.empty(5), torch.empty(5)
    with patch_init(seed=1):
        a.normal_()
        with patch_init(seed=2):
            b.normal_()
        assert torch.nn.init.normal_ is not ORIGINAL['normal_']      # still patched for the outer
        c.normal_()
    _assert_restored()
    assert np.array_equal(a.numpy(), fi.normal(5, seed=1, stream=_stream(1, 0)))
    assert np.array_equal(b.numpy(), fi.normal(5, seed=2, stream=_stream(2, 0)))
    assert np.array_equal(c.numpy(), fi.normal(5, seed=1, stream=_stream(1, 1)))


def test_decorator_enters_fresh_each_call():
    @patch_init(seed=3)
    def build():
        return torch.empty(7).uniform_()
    first, second = build(), build()
    assert torch.equal(first, second)
    assert np.array_equal(first.numpy(), fi.uniform(7, seed=3, stream=_stream(3, 0)))
    _assert_restored()


def test_process_global_other_threads_are_served():
    seen = []
    with patch_init(seed=12):
        thread = threading.Thread(target=lambda: seen.append(torch.empty(9).normal_()))
        thread.start()
        thread.join()
    assert np.array_equal(seen[0].numpy(), fi.normal(9, seed=12, stream=_stream(12, 0)))


@pytest.mark.parametrize("kwargs, error", [
    ({"seed": "1"}, TypeError), ({"seed": -1}, ValueError), ({"seed": 2 ** 64}, ValueError),
    ({"seed": 1, "model": "m"}, TypeError),
])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        patch_init(**kwargs)
    _assert_restored()


def test_an_active_function_mode_sees_the_calls():
    """A TorchFunctionMode (a tracer, a recorder) must see the init calls: they go to torch."""
    seen = []

    class Recording(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.append(getattr(func, "__name__", ""))
            return func(*args, **(kwargs or {}))

    x = torch.empty(64)
    with patch_init(0), Recording():
        x.normal_()
    assert "normal_" in seen
    with patch_init(0), torch.device("cpu"):          # a device context is not such a mode
        y = torch.empty(64).normal_()
    assert np.array_equal(y.numpy(), fi.normal((64,), seed=0, stream=_stream(0, 0)))
