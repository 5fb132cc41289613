"""fastinit.torch.init_module: named streams, default rules, user rules, meta-device models."""

from __future__ import annotations

import functools
import gc
import math
import os
import sys
import warnings
from collections import OrderedDict

import numpy as np
import pytest
from scipy import stats

from _util import require_module

# Every test here needs the extra: without it the module skips (see _util).
torch = require_module("torch")

import fastinit as fi  # noqa: E402
import fastinit.torch._module  # noqa: E402
import fastinit.torch as fit  # noqa: E402
from fastinit._validate import stream_id  # noqa: E402

nn = torch.nn


def _state(module):
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def _assert_same_state(a, b, names=None):
    names = a.keys() if names is None else names
    for name in names:
        assert a[name].dtype == b[name].dtype, name
        assert torch.equal(a[name], b[name]), name


class Block(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, 4, batch_first=True)
        self.mlp = nn.Sequential(OrderedDict(up=nn.Linear(width, 4 * width),
                                             act=nn.GELU(),
                                             down=nn.Linear(4 * width, width)))

    def forward(self, x):
        h = self.norm(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(x)


class TinyLM(nn.Module):
    def __init__(self, vocab=97, width=32, layers=("a", "b"), extra=False, tie=True):
        super().__init__()
        self.embed = nn.Embedding(vocab, width, padding_idx=0)
        self.blocks = nn.ModuleDict({name: Block(width) for name in layers})
        if extra:
            self.extra = nn.Linear(width, width)
        self.final_norm = nn.RMSNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        if tie:
            self.head.weight = self.embed.weight

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks.values():
            x = block(x)
        return self.head(self.final_norm(x))


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_same_state_dict_and_different_seed_differs():
    a = _state(fit.init_module(TinyLM(), seed=3))
    b = _state(fit.init_module(TinyLM(), seed=3))
    c = _state(fit.init_module(TinyLM(), seed=4))
    _assert_same_state(a, b)
    assert not torch.equal(a["blocks.a.mlp.up.weight"], c["blocks.a.mlp.up.weight"])
    assert not torch.equal(a["embed.weight"], c["embed.weight"])


def test_does_not_depend_on_torch_rng_or_thread_count():
    torch.manual_seed(0)
    fi.set_num_threads(1)
    a = _state(fit.init_module(TinyLM(), seed=3))
    torch.manual_seed(1)
    fi.set_num_threads(2)
    b = _state(fit.init_module(TinyLM(), seed=3))
    _assert_same_state(a, b)


def test_inserting_removing_and_reordering_layers_changes_no_other_tensor():
    base = _state(fit.init_module(TinyLM(layers=("a", "b")), seed=9))
    inserted = _state(fit.init_module(TinyLM(layers=("a", "new", "b"), extra=True), seed=9))
    reordered = _state(fit.init_module(TinyLM(layers=("b", "a")), seed=9))
    removed = _state(fit.init_module(TinyLM(layers=("b",)), seed=9))
    _assert_same_state(base, inserted)
    _assert_same_state(base, reordered)
    _assert_same_state(base, removed, [n for n in base if not n.startswith("blocks.a.")])


def test_each_tensor_is_its_named_stream():
    model = fit.init_module(TinyLM(), seed=5)
    up = model.blocks["a"].mlp.up
    expected = fi.kaiming_uniform(tuple(up.weight.shape), math.sqrt(5), seed=5,
                                  stream=stream_id("blocks.a.mlp.up.weight"))
    assert np.array_equal(fit.numpy_view(up.weight), expected)
    expected_bias = fi.uniform(tuple(up.bias.shape), -1 / math.sqrt(32), 1 / math.sqrt(32), seed=5,
                               stream=stream_id("blocks.a.mlp.up.bias"))
    assert np.array_equal(fit.numpy_view(up.bias), expected_bias)


def test_prefix_gives_a_submodule_the_whole_models_values():
    whole = fit.init_module(TinyLM(), seed=2)
    alone = fit.init_module(Block(), seed=2, prefix="blocks.b.")
    _assert_same_state(_state(whole.blocks["b"]), _state(alone))


def test_seed_none_draws_from_torch_default_generator():
    torch.manual_seed(7)
    a = _state(fit.init_module(TinyLM(), None))
    torch.manual_seed(7)
    b = _state(fit.init_module(TinyLM(), None))
    _assert_same_state(a, b)


# ----------------------------------------------------------------------------- meta device


def test_meta_model_materializes_with_the_eager_values():
    eager = fit.init_module(TinyLM(), seed=11)
    with torch.device("meta"):
        lazy = TinyLM()
    assert lazy.head.weight.is_meta
    result = fit.init_module(lazy, seed=11)
    assert result is lazy
    assert all(t.device.type == "cpu" for t in lazy.state_dict().values())
    _assert_same_state(_state(eager), _state(lazy))
    assert lazy.head.weight is lazy.embed.weight, "tied weights stay tied"
    tokens = torch.randint(1, 97, (2, 5))
    assert torch.equal(eager(tokens), lazy(tokens))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_large_meta_tensors_get_ordinary_torch_storage_with_the_eager_values(dtype, monkeypatch):
    """Materialized tensors (16 MiB here) come from torch's allocator, not from a mapping of
    fastinit's own advised for huge pages.

    Huge pages made materializing slower and erratic on the development VMs (see
    fastinit/torch/_memory.py).  (Not checked through the mapping's VmFlags: memory that
    NumPy advised earlier in the process can be handed out again by malloc.)
    """
    from fastinit.torch import _memory

    def build():
        return nn.Sequential(nn.Embedding(4096, 1024), nn.Linear(1024, 8)).to(dtype)
    eager = fit.init_module(build(), seed=2)
    with torch.device("meta"):
        lazy = build()

    def no_mapping(*args, **kwargs):
        raise AssertionError("materialization made a mapping of its own")
    monkeypatch.setattr(_memory.mmap, "mmap", no_mapping)
    fit.init_module(lazy, seed=2)
    big = lazy[0].weight
    assert isinstance(big, nn.Parameter) and big.requires_grad and big.dtype == dtype
    _assert_same_state(_state(eager), _state(lazy))
    tokens = torch.randint(0, 4096, (3, 7))
    assert torch.equal(eager(tokens), lazy(tokens))
    lazy(tokens).float().sum().backward()
    assert big.grad is not None and big.grad.shape == big.shape


def test_huge_page_opt_in_gives_the_same_values(monkeypatch):
    """The measurement-only huge-page storage (fastinit.torch._memory.huge_pages) changes no value."""
    from fastinit.torch import _memory

    def build():
        return nn.Sequential(nn.Embedding(1024, 1024), nn.Linear(1024, 8))
    eager = fit.init_module(build(), seed=5)
    monkeypatch.setattr(_memory, "huge_pages", True)
    with torch.device("meta"):
        lazy = build()
    fit.init_module(lazy, seed=5)
    _assert_same_state(_state(eager), _state(lazy))
    assert lazy[0].weight.untyped_storage().nbytes() == 4 << 20
    if sys.platform.startswith("linux"):
        assert "hg" in _vm_flags(lazy[0].weight.data_ptr() + (2 << 20))


def _vm_flags(address):
    """The VmFlags of the mapping holding ``address`` ("hg": advised MADV_HUGEPAGE)."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and ":" not in head:
                low, high = (int(part, 16) for part in head.split("-"))
                inside = low <= address < high
            elif inside and head == "VmFlags:":
                return line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.filterwarnings("ignore:LSTM with projections")
def test_meta_model_with_recurrent_and_batchnorm_layers():
    def build():
        return nn.ModuleDict({"lstm": nn.LSTM(8, 16, num_layers=2, proj_size=4),
                              "gru": nn.GRU(8, 8), "bn": nn.BatchNorm1d(8),
                              "conv": nn.Conv1d(8, 8, 3), "bag": nn.EmbeddingBag(10, 8)})
    eager = fit.init_module(build(), seed=1)
    with torch.device("meta"):
        lazy = build()
    fit.init_module(lazy, seed=1)
    _assert_same_state(_state(eager), _state(lazy))
    x = torch.randn(5, 3, 8)
    assert torch.equal(eager["lstm"](x)[0], lazy["lstm"](x)[0])   # flat weights follow to_empty
    assert lazy["bn"].num_batches_tracked.item() == 0


def test_init_module_inside_the_meta_device_context():
    eager = fit.init_module(TinyLM(), seed=6)
    with torch.device("meta"):
        model = TinyLM()
        fit.init_module(model, seed=6)
    assert model.embed.weight.device.type == "cpu"
    _assert_same_state(_state(eager), _state(model))


def test_meta_model_in_bfloat16():
    with torch.device("meta"):
        lazy = TinyLM().to(torch.bfloat16)
    fit.init_module(lazy, seed=4)
    eager = fit.init_module(TinyLM().to(torch.bfloat16), seed=4)
    _assert_same_state(_state(eager), _state(lazy))
    expected = fi.normal((97, 32), seed=4, stream=stream_id("embed.weight"), dtype="bfloat16")
    expected[0] = 0
    assert np.array_equal(fit.numpy_view(lazy.embed.weight).view(np.uint16), expected.view(np.uint16))


def test_no_double_initialization(monkeypatch):
    """to_empty allocates only; every tensor is filled exactly once."""
    calls = []
    original = fastinit.torch._module.fill_with_spec

    def counting(spec, out, seed, name):
        calls.append(name)
        return original(spec, out, seed, name)

    monkeypatch.setattr(fastinit.torch._module, "fill_with_spec", counting)
    with torch.device("meta"):
        model = TinyLM()
    fit.init_module(model, seed=0)
    float_tensors = [n for n, t in model.named_parameters()] + [
        n for n, t in model.named_buffers() if t.is_floating_point()]
    assert sorted(calls) == sorted(float_tensors)


def test_device_argument_places_a_meta_model():
    with torch.device("meta"):
        model = nn.Linear(4, 4)
    fit.init_module(model, 0, device=torch.device("cpu"))
    assert model.weight.device.type == "cpu"


# ----------------------------------------------------------------------------- default rules


def _fan_in(shape):
    return fi.compute_fans(tuple(shape))[0]


def _check_uniform(tensor, bound, name):
    values = tensor.detach().double().numpy().ravel()
    assert np.abs(values).max() <= bound, name
    if values.size >= 200:     # small tensors (biases): the bound is all a sample can show
        assert np.abs(values).max() > 0.95 * bound, name
        assert abs(values.std() / (bound / math.sqrt(3)) - 1) < max(0.05, 4 / math.sqrt(values.size)), name


def _check_normal(tensor, std, name):
    values = tensor.detach().double().numpy().ravel()
    assert abs(values.std() / std - 1) < max(0.05, 4 / math.sqrt(values.size)), name
    assert abs(values.mean()) < 5 * std / math.sqrt(values.size), name


@pytest.mark.parametrize("layer", [
    nn.Linear(300, 200), nn.Conv1d(16, 32, 5), nn.Conv2d(16, 32, 3), nn.Conv3d(8, 16, 3),
    nn.Conv2d(16, 32, 3, groups=4), nn.ConvTranspose1d(16, 32, 5), nn.ConvTranspose2d(16, 32, 3),
    nn.ConvTranspose3d(8, 16, 3), nn.ConvTranspose2d(16, 32, 3, groups=4),
], ids=lambda layer: repr(layer))
def test_linear_and_convolutions_use_torch_fans(layer):
    fit.init_module(layer, seed=1)
    fan_in = _fan_in(layer.weight.shape)          # torch's convention for the weight's own layout
    _check_uniform(layer.weight, 1 / math.sqrt(fan_in), "weight")
    _check_uniform(layer.bias, 1 / math.sqrt(fan_in), "bias")


def test_conv_transpose_fan_is_from_weight_dim_1():
    layer = nn.ConvTranspose2d(64, 8, 3)          # weight (64, 8, 3, 3): fan_in = 8 * 9
    fit.init_module(layer, seed=1)
    _check_uniform(layer.weight, 1 / math.sqrt(72), "weight")


def test_bilinear():
    layer = fit.init_module(nn.Bilinear(40, 30, 20), seed=1)
    _check_uniform(layer.weight, 1 / math.sqrt(40), "weight")
    _check_uniform(layer.bias, 1 / math.sqrt(40), "bias")


@pytest.mark.parametrize("kind", [nn.Embedding, nn.EmbeddingBag])
def test_embeddings_standard_normal_with_zero_padding_row(kind):
    layer = fit.init_module(kind(500, 64, padding_idx=7), seed=1)
    assert (layer.weight[7] == 0).all()
    rows = torch.cat([layer.weight[:7], layer.weight[8:]])
    _check_normal(rows, 1.0, "weight")
    assert stats.kstest(rows.detach().numpy().ravel(), "norm").statistic < 0.02


@pytest.mark.parametrize("layer", [
    nn.LayerNorm(16), nn.GroupNorm(4, 16), nn.RMSNorm(16), nn.BatchNorm1d(16), nn.BatchNorm2d(16),
    nn.BatchNorm3d(16), nn.InstanceNorm1d(16, affine=True, track_running_stats=True),
    nn.InstanceNorm2d(16, affine=True), nn.SyncBatchNorm(16),
], ids=lambda layer: type(layer).__name__)
def test_normalization_layers(layer):
    for tensor in layer.state_dict().values():
        with torch.no_grad():
            tensor.fill_(5)
    fit.init_module(layer, seed=1)
    expected = {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0,
                "num_batches_tracked": 0}
    for name, tensor in layer.state_dict().items():
        assert (tensor == expected[name]).all(), name
    assert layer.num_batches_tracked.dtype == torch.int64 if hasattr(layer, "num_batches_tracked") \
        and layer.num_batches_tracked is not None else True


@pytest.mark.parametrize("kwargs", [
    dict(), dict(add_bias_kv=True), dict(kdim=24, vdim=40), dict(bias=False),
])
def test_multihead_attention(kwargs):
    embed = 64
    layer = fit.init_module(nn.MultiheadAttention(embed, 4, **kwargs), seed=1)
    if layer._qkv_same_embed_dim:
        _check_uniform(layer.in_proj_weight, math.sqrt(6 / (embed + 3 * embed)), "in_proj_weight")
    else:
        for name, width in (("q_proj_weight", embed), ("k_proj_weight", 24), ("v_proj_weight", 40)):
            _check_uniform(getattr(layer, name), math.sqrt(6 / (embed + width)), name)
    _check_uniform(layer.out_proj.weight, 1 / math.sqrt(embed), "out_proj.weight")
    if kwargs.get("bias", True):
        assert (layer.in_proj_bias == 0).all() and (layer.out_proj.bias == 0).all()
    else:
        assert layer.in_proj_bias is None and layer.out_proj.bias is None
    if kwargs.get("add_bias_kv"):
        both = torch.cat([layer.bias_k.ravel(), layer.bias_v.ravel()])
        _check_normal(both, math.sqrt(2 / (2 * embed)), "bias_k/bias_v")


@pytest.mark.parametrize("layer", [
    nn.RNN(20, 50), nn.LSTM(20, 50, num_layers=2, bidirectional=True), nn.GRU(20, 50),
    nn.LSTM(20, 50, proj_size=10), nn.RNNCell(20, 50), nn.LSTMCell(20, 50), nn.GRUCell(20, 50),
], ids=lambda layer: type(layer).__name__)
def test_recurrent_layers(layer):
    fit.init_module(layer, seed=1)
    values = torch.cat([p.detach().ravel() for p in layer.parameters()])
    _check_uniform(values, 1 / math.sqrt(50), "parameters")


def test_prelu():
    assert (fit.init_module(nn.PReLU(8), seed=1).weight == 0.25).all()
    assert (fit.init_module(nn.PReLU(8, init=0.1), seed=1).weight == torch.tensor(0.1)).all()


def test_transformer_reinitializes_matrices_with_xavier_uniform():
    model = fit.init_module(nn.Transformer(64, 4, 1, 1, 128, batch_first=True), seed=1)
    for name, parameter in model.named_parameters():
        if parameter.dim() > 1:
            fan_in, fan_out = fi.compute_fans(tuple(parameter.shape))
            _check_uniform(parameter, math.sqrt(6 / (fan_in + fan_out)), name)
    linear_bias = model.encoder.layers[0].linear1.bias
    _check_uniform(linear_bias, 1 / math.sqrt(64), "linear1.bias")
    assert (model.encoder.layers[0].self_attn.in_proj_bias == 0).all()


def test_transformer_encoder_layer_through_its_submodules():
    layer = fit.init_module(nn.TransformerEncoderLayer(64, 4, 256, batch_first=True), seed=1)
    _check_uniform(layer.linear1.weight, 1 / math.sqrt(64), "linear1.weight")
    _check_uniform(layer.linear2.weight, 1 / math.sqrt(256), "linear2.weight")
    _check_uniform(layer.self_attn.in_proj_weight, math.sqrt(6 / (4 * 64)), "in_proj_weight")
    assert (layer.norm1.weight == 1).all() and (layer.self_attn.out_proj.bias == 0).all()


@pytest.mark.parametrize("build", [
    lambda: nn.Linear(64, 64), lambda: nn.Conv2d(8, 16, 3), lambda: nn.ConvTranspose2d(16, 8, 3),
    lambda: nn.Embedding(200, 32), lambda: nn.LSTM(16, 32), lambda: nn.Bilinear(16, 12, 8),
    lambda: nn.MultiheadAttention(32, 4, add_bias_kv=True),
    lambda: nn.TransformerDecoderLayer(32, 4, 64),
], ids=["linear", "conv", "conv_transpose", "embedding", "lstm", "bilinear", "mha", "decoder"])
def test_same_distribution_as_torch_default_init(build):
    """Per tensor: constants equal torch's exactly, random tensors pass a two-sample KS test."""
    torch.manual_seed(0)
    theirs = build()
    ours = fit.init_module(build(), seed=0)
    for (name, a), (_, b) in zip(theirs.named_parameters(), ours.named_parameters()):
        a, b = a.detach().double().numpy().ravel(), b.detach().double().numpy().ravel()
        if np.all(a == a[0]):
            assert np.array_equal(a, b), name
        else:
            assert stats.ks_2samp(a, b).pvalue > 1e-4, name
            assert np.abs(b).max() <= np.abs(a).max() * 1.05 + 1e-7 or a.size < 2000, name


# ----------------------------------------------------------------------------- rules


def test_pattern_and_type_rules_first_match_wins():
    rules = {
        "blocks.a.mlp.*.weight": "zeros",
        "*.weight": ("trunc_normal", {"std": 0.02, "a": -0.04, "b": 0.04}),
        nn.Embedding: ("normal", {"std": 0.5}),
    }
    model = fit.init_module(TinyLM(tie=False), seed=3, rules=rules)
    assert (model.blocks["a"].mlp.up.weight == 0).all()
    w = model.blocks["b"].mlp.up.weight
    expected = fi.trunc_normal(tuple(w.shape), 0, 0.02, -0.04, 0.04, seed=3,
                               stream=stream_id("blocks.b.mlp.up.weight"))
    assert np.array_equal(fit.numpy_view(w), expected)
    # *.weight matched the embedding before the type rule; the padding row is still zeroed.
    assert model.embed.weight.abs().max() <= 0.04 and (model.embed.weight[0] == 0).all()
    assert model.final_norm.weight.abs().max() <= 0.04      # "*.weight" covers norms too
    # tensors no rule matches keep their defaults
    assert (model.blocks["a"].norm.bias == 0).all()
    _check_uniform(model.blocks["a"].mlp.up.bias, 1 / math.sqrt(32), "up.bias")


def test_type_rule_with_per_tensor_dict_and_torch_spelling():
    rules = {nn.Linear: {"weight": "xavier_uniform_", "bias": "zeros"}}
    model = fit.init_module(nn.Sequential(nn.Linear(30, 20), nn.LayerNorm(20)), seed=1, rules=rules)
    _check_uniform(model[0].weight, math.sqrt(6 / 50), "weight")
    assert (model[0].bias == 0).all() and (model[1].weight == 1).all()


def test_callable_rule_gets_seed_and_named_stream():
    rule = functools.partial(fit.normal_, std=0.02)
    model = fit.init_module(nn.Linear(64, 32), seed=8, rules={"weight": rule})
    expected = fi.normal((32, 64), 0, 0.02, seed=8, stream=stream_id("weight"))
    assert np.array_equal(fit.numpy_view(model.weight), expected)


def test_none_rule_keeps_a_tensor():
    layer = nn.Linear(4, 4)
    with torch.no_grad():
        layer.bias.fill_(3)
    fit.init_module(layer, seed=1, rules={"bias": None})
    assert (layer.bias == 3).all()


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.full((8,), 5.0))
        self.table = nn.Parameter(torch.full((4, 8), 5.0))
        self.register_buffer("freqs", torch.arange(4.0))
        self.proj = nn.Linear(8, 8)


def test_custom_parameters_without_rules_are_an_error_listing_them():
    model = Custom()
    before = _state(model)
    with pytest.raises(ValueError, match=r"scale .*table .*freqs"):
        fit.init_module(model, seed=1)
    _assert_same_state(before, _state(model))     # nothing was written


def test_custom_parameters_with_rules_or_strict_false():
    model = fit.init_module(Custom(), seed=1, rules={"scale": "ones", "table": ("normal", {"std": 0.1}),
                                                     "freqs": None})
    assert (model.scale == 1).all() and (model.freqs == torch.arange(4.0)).all()
    relaxed = fit.init_module(Custom(), seed=1, strict=False)
    assert (relaxed.scale == 5).all() and (relaxed.table == 5).all()
    assert not (relaxed.proj.weight == 5).all()


def test_subclass_that_overrides_reset_parameters_has_no_default():
    class ZeroLinear(nn.Linear):
        def reset_parameters(self):
            nn.init.zeros_(self.weight)

    class PlainLinear(nn.Linear):
        pass

    with pytest.raises(ValueError, match="ZeroLinear"):
        fit.init_module(ZeroLinear(4, 4), seed=1)
    fit.init_module(PlainLinear(4, 4), seed=1)


def test_init_plan_describes_without_writing():
    layer = nn.Linear(8, 4)
    before = _state(layer)
    plan = fit.init_plan(layer, rules={"bias": "zeros"})
    assert [(s.name, s.scheme) for s in plan] == [("weight", "kaiming_uniform"), ("bias", "zeros")]
    assert plan[0].kwargs == {"a": math.sqrt(5)} and plan[1].origin == "rule 'bias'"
    _assert_same_state(before, _state(layer))
    tied = fit.init_plan(TinyLM())
    assert [s.aliases for s in tied if s.name == "embed.weight"] == [("head.weight",)]


def test_patterns_match_tied_aliases():
    model = fit.init_module(TinyLM(), seed=1, rules={"head.weight": ("normal", {"std": 0.02})})
    assert model.head.weight is model.embed.weight
    assert model.embed.weight.std() < 0.05


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("rules, error, match", [
    ({"*.weight": "glorot_sideways"}, ValueError, "unknown scheme"),
    ({"nothing.*": "zeros"}, ValueError, "match no"),
    ({nn.Conv2d: "zeros"}, ValueError, "match no"),
    ({"weight": ("normal", {"sd": 1})}, TypeError, "bad arguments"),
    ({"weight": ("normal", {"seed": 1})}, ValueError, "seed"),
    ({"weight": ("normal", [1])}, TypeError, "dict"),
    ({"weight": 3}, TypeError, "rule's value"),
    ({3: "zeros"}, TypeError, "rule keys"),
    ({"bias": "xavier_uniform"}, ValueError, "fewer than 2 dimensions"),
    ({"weight": ("normal", {"std": -1})}, ValueError, "std must be >= 0"),
    ({nn.Linear: {1: "zeros"}}, TypeError, "local names"),
    ({nn.Linear: {"weight": "zeros", "weigth": "ones"}}, ValueError, r"Linear\['weigth'\]"),
    ([("weight", "zeros")], TypeError, "rules must be a dict"),
])
def test_bad_rules_raise_before_anything_is_written(rules, error, match):
    layer = nn.Linear(6, 4)
    before = _state(layer)
    with pytest.raises(error, match=match):
        fit.init_module(layer, seed=1, rules=rules)
    _assert_same_state(before, _state(layer))


def test_bad_rules_on_a_meta_model_allocate_nothing():
    with torch.device("meta"):
        model = TinyLM()
    with pytest.raises(ValueError):
        fit.init_module(model, seed=1, rules={"missing": "zeros"})
    assert model.embed.weight.is_meta


def test_scheme_rule_on_an_integer_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="torch.int64"):
        fit.init_module(nn.BatchNorm1d(4), seed=1, rules={"num_batches_tracked": "zeros"})


def test_lazy_modules_are_rejected():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy = nn.LazyLinear(4)
    with pytest.raises(ValueError, match="lazy"):
        fit.init_module(lazy, seed=1)


@pytest.mark.parametrize("call, error", [
    (lambda: fit.init_module("model", 1), TypeError),
    (lambda: fit.init_module(nn.Linear(2, 2), -1), ValueError),
    (lambda: fit.init_module(nn.Linear(2, 2), 1.5), TypeError),
    (lambda: fit.init_module(nn.Linear(2, 2), 1, prefix=3), TypeError),
])
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()


# ----------------------------------------------------------------------------- all or nothing


def _raw_state(module):
    """Every parameter and buffer, bit for bit (meta tensors as their metadata)."""
    return {name: (tensor.shape, tensor.dtype, tensor.device.type,
                   None if tensor.is_meta else tensor.detach().clone().view(torch.uint8))
            for name, tensor in [*module.named_parameters(), *module.named_buffers()]}


def _assert_untouched(module, before):
    after = _raw_state(module)
    assert after.keys() == before.keys()
    for name, (shape, dtype, device, raw) in before.items():
        assert after[name][:3] == (shape, dtype, device), name
        assert (raw is None) == (after[name][3] is None), name
        if raw is not None:
            assert torch.equal(raw, after[name][3]), name


# Rules for the second layer only: the first layer's tensors come first in the plan and
# were written before the error was found.
OVERFLOWING_RULES = [
    ({"1.weight": ("xavier_uniform", {"gain": 1e6})},
     r"^init_module: 1\.weight \(float16, shape \(4, 4\)\): rule '1\.weight' -> "
     r"xavier_uniform\(gain=1000000\.0\) gives a bound of 866025\.4, beyond float16's largest "
     r"finite value 65504$"),
    ({"1.weight": ("sparse", {"sparsity": 0.5, "std": 1e6})},
     r"^init_module: 1\.weight \(float16, shape \(4, 4\)\): rule '1\.weight' -> "
     r"sparse\(sparsity=0\.5, std=1000000\.0\): std=1000000\.0 is outside the finite range of float16"),
    ({"1.weight": ("variance_scaling", {"scale": 1e12})},
     r"^init_module: 1\.weight \(float16, shape \(4, 4\)\): rule '1\.weight' -> "
     r"variance_scaling\(scale=1000000000000\.0\) gives a truncation bound of 1136847, beyond "
     r"float16's largest finite value 65504$"),
    ({"1.weight": ("variance_scaling", {"scale": 1e12, "distribution": "normal"})},
     r"gives a std of 500000, beyond float16's largest finite value 65504$"),
    ({"1.weight": ("kaiming_normal", {"a": 1e-3, "nonlinearity": "linear"}),
      "1.bias": ("normal", {"mean": 7e4})},
     r"^init_module: 1\.bias \(float16, shape \(4,\)\): rule '1\.bias' -> normal\(mean=70000\.0\): "
     r"mean=70000\.0 is outside the finite range of float16"),
    ({"1.weight": functools.partial(fit.normal_, std=1e6)},
     r"^init_module: 1\.weight \(float16, shape \(4, 4\)\): rule '1\.weight' -> "
     r"normal_\(tensor, std=1000000\.0\): std=1000000\.0 is outside the finite range of float16"),
    ({"1.weight": functools.partial(fit.xavier_uniform_, gain=1e6)},
     r"xavier_uniform_\(gain=1000000\.0\) on a float16 tensor of shape \(4, 4\) gives a bound of "
     r"866025\.4, beyond float16's largest finite value 65504$"),
    ({"1.weight": functools.partial(fit.sparse_, sparsity=2.0)},
     r"rule '1\.weight' -> sparse_\(tensor, sparsity=2\.0\): sparsity must be in \[0, 1\]"),
]


@pytest.mark.parametrize("rules, match", OVERFLOWING_RULES)
def test_an_error_anywhere_leaves_every_tensor_untouched(rules, match):
    """The issue's example: the error used to come after 0.weight and 0.bias were written."""
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)).half()
    before = _raw_state(model)
    state = torch.random.get_rng_state()
    with pytest.raises(ValueError, match=match):
        fit.init_module(model, 0, rules=rules)
    _assert_untouched(model, before)
    with pytest.raises(ValueError, match=match):
        fit.init_module(model, None, rules=rules)       # seed=None draws only after the checks
    assert torch.equal(torch.random.get_rng_state(), state)
    _assert_untouched(model, before)


@pytest.mark.parametrize("rules, match", OVERFLOWING_RULES)
def test_an_error_anywhere_leaves_a_meta_model_on_the_meta_device(rules, match):
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)).half()
    before = _raw_state(model)
    with pytest.raises(ValueError, match=match):
        fit.init_module(model, 0, rules=rules)
    _assert_untouched(model, before)
    assert all(tensor.is_meta for tensor in model.parameters())


def test_the_checks_use_each_tensors_real_shape():
    """One rule for both weights: its bound fits the first (fan_in 4000), not the second (fan_in 1)."""
    model = nn.Sequential(nn.Linear(4000, 1), nn.Linear(1, 1)).half()
    before = _raw_state(model)
    rules = {"*.weight": ("variance_scaling", {"scale": 2e9, "distribution": "uniform"})}
    with pytest.raises(ValueError, match=r"^init_module: 1\.weight \(float16, shape \(1, 1\)\): "
                                         r"rule '\*\.weight' -> .* gives a bound of 77459\.67, beyond"):
        fit.init_module(model, 0, rules=rules)
    _assert_untouched(model, before)
    rules = {"*.weight": ("variance_scaling", {"scale": 1e9, "distribution": "uniform"})}
    fit.init_module(model, 0, rules=rules)          # sqrt(3e9) = 54772 fits
    assert model[1].weight.abs().max() <= math.sqrt(3e9)


def test_inference_tensors_are_refused_before_anything_is_written():
    with torch.inference_mode():
        model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    before = _raw_state(model)
    with pytest.raises(RuntimeError, match="^Inplace update to inference tensor outside InferenceMode"):
        fit.init_module(model, 0)
    _assert_untouched(model, before)
    with torch.inference_mode():
        fit.init_module(model, 0)
    assert not torch.equal(model[0].weight, before["0.weight"][3].view(torch.float32))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_materialized_models_are_freed_when_dropped():
    """Repeated meta + init_module of a 64 MiB model: the resident set does not grow."""
    def resident_mib():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def build_and_drop():
        with torch.device("meta"):
            model = nn.Sequential(nn.Linear(2048, 4096), nn.Linear(4096, 2048))
        fit.init_module(model, seed=0)
        del model
        gc.collect()

    build_and_drop()
    before = resident_mib()
    for _ in range(6):
        build_and_drop()
    assert resident_mib() < before + 32, "six 64 MiB models left memory behind"
