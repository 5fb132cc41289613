"""patch_init against real timm models (create_model(pretrained=False), tiny shapes, no downloads).

timm initializes ViTs with its own ``trunc_normal_`` (torch ops on the
tensor), ``lecun_normal_``/``trunc_normal_tf_`` in the JAX mode, and ResNets
with ``nn.init.kaiming_normal_``; patch_init serves all of them.

timm needs torchvision, which cannot be installed beside the pinned CPU torch
of the main test environment (torch==2.13.0): these tests run in a second
environment with timm, with ``FASTINIT_TEST_TIMM=1`` (then timm must import),
and skip wherever timm is not installed otherwise -- in CI too, unlike the
other extras, since the main environment cannot have it.
"""

from __future__ import annotations

import copy
import importlib
import os

import numpy as np
import pytest

from _util import require_module

torch = require_module("torch")
if os.environ.get("FASTINIT_TEST_TIMM") == "1":
    timm = importlib.import_module("timm")          # the timm environment: must be there
else:
    try:
        timm = importlib.import_module("timm")
    except ModuleNotFoundError as error:
        if error.name not in ("timm", "torchvision"):
            raise
        pytest.skip("needs timm (and torchvision), which cannot be installed beside the pinned torch; "
                    "run this file in a timm environment with FASTINIT_TEST_TIMM=1",
                    allow_module_level=True)

from _patch_checks import _same_bits, _tensors, assert_same_distributions  # noqa: E402

import fastinit as fi  # noqa: E402
import fastinit.torch as fit  # noqa: E402
from fastinit._validate import stream_id  # noqa: E402

patch_init = fit.patch_init

nn = torch.nn
VIT = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, num_classes=10)


def _vit(depth=2):
    return timm.create_model("vit_base_patch16_224", pretrained=False, **{**VIT, "depth": depth})


def _vit_jax(depth=2):
    # The JAX mode: xavier_uniform_, lecun_normal_ (trunc_normal_tf_), normal_(std=1e-6).
    return timm.create_model("vit_base_patch16_224", pretrained=False, weight_init="jax",
                             **{**VIT, "depth": depth})


def _resnet(depth=1):
    return timm.create_model("resnet18", pretrained=False, layers=[1, 1, 1, depth], num_classes=10)


MODELS = {"vit": _vit, "vit_jax": _vit_jax, "resnet": _resnet}


@pytest.fixture(params=sorted(MODELS))
def family(request):
    return request.param


def test_distributions_match_library_init(family):
    torch.manual_seed(0)
    reference = MODELS[family]()
    with patch_init(seed=1):
        patched = MODELS[family]()
    assert_same_distributions(patched, reference)


def test_timm_functions_are_served_and_restored():
    from timm.layers import weight_init
    from timm.models import vision_transformer
    originals = {"trunc_normal_": weight_init.trunc_normal_, "tf": weight_init.trunc_normal_tf_}
    with patch_init(seed=2):
        assert vision_transformer.trunc_normal_ is not originals["trunc_normal_"]
        assert weight_init.trunc_normal_tf_ is not originals["tf"]
        cls_token = torch.empty(1, 1, 64)
        vision_transformer.trunc_normal_(cls_token, std=0.02)
        tf = torch.empty(32, 16)
        weight_init.lecun_normal_(tf)
    assert vision_transformer.trunc_normal_ is originals["trunc_normal_"]
    assert weight_init.trunc_normal_tf_ is originals["tf"]
    rng = fi.default_rng(2).child("patch_init")
    expected = fi.trunc_normal((1, 1, 64), 0.0, 0.02, -2.0, 2.0, seed=2, stream=rng.stream_at(0))
    assert np.array_equal(cls_token.numpy(), expected)
    # trunc_normal_tf_: the standard normal truncated to [-2, 2], times std: lecun's std is
    # sqrt(1 / fan_in) / 0.8796...
    std = np.sqrt(1 / 16) / 0.87962566103423978
    expected = fi.trunc_normal((32, 16), 0.0, std, -2 * std, 2 * std, seed=2, stream=rng.stream_at(1))
    assert np.array_equal(tf.numpy(), expected)


def test_forward_pass(family):
    with patch_init(seed=3):
        model = MODELS[family]().eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_same_seed_same_bits(family):
    with patch_init(seed=4):
        a = MODELS[family]()
    with patch_init(seed=4):
        b = MODELS[family]()
    ta, tb = _tensors(a), _tensors(b)
    assert all(_same_bits(ta[name], tb[name]) for name in ta)


def _blocks(model):
    return model.blocks if hasattr(model, "blocks") else model.layer4


def _reinit(model, seed):
    with patch_init(seed, model=model):
        model.init_weights()
    return _tensors(model)


def test_model_named_streams_adding_a_layer(family):
    small = MODELS[family]()
    large = copy.deepcopy(small)
    _blocks(large).append(copy.deepcopy(_blocks(large)[-1]))
    before, after = _reinit(small, 5), _reinit(large, 5)
    assert set(before) < set(after)
    for name, tensor in before.items():
        assert _same_bits(tensor, after[name]), name


def test_model_values_are_init_module_streams():
    model = _vit()
    _reinit(model, 6)
    name = "blocks.1.mlp.fc1.weight"
    expected = fi.trunc_normal(tuple(model.get_parameter(name).shape), 0.0, 0.02, -2.0, 2.0, seed=6,
                               stream=stream_id(name))
    assert np.array_equal(model.get_parameter(name).detach().numpy(), expected)
