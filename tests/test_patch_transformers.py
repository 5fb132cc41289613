"""patch_init against real transformers models (tiny configurations built in code, no downloads).

transformers 5 runs its init through ``transformers.initialization``, whose
wrappers call torch's functions captured at import time; patch_init must reach
those too.  For each of Llama, GPT-2, BERT and ViT: every tensor's
distribution matches the library's own init, constants and padding rows
exactly; the model runs; the same seed gives the same bits; with ``model=``
adding a layer changes no other tensor.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from _util import require_module

torch = require_module("torch")
transformers = require_module("transformers")

from _patch_checks import _same_bits, _tensors, assert_same_distributions  # noqa: E402  (needs torch)

import fastinit as fi  # noqa: E402
import fastinit.torch as fit  # noqa: E402
from fastinit._validate import stream_id  # noqa: E402

patch_init = fit.patch_init

nn = torch.nn
LAYERS = 2


def _llama(layers=LAYERS):
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=160, num_hidden_layers=layers,
                                      num_attention_heads=4, num_key_value_heads=2, vocab_size=512,
                                      max_position_embeddings=64)
    return transformers.AutoModelForCausalLM.from_config(config)


def _gpt2(layers=LAYERS):
    config = transformers.GPT2Config(n_embd=64, n_layer=layers, n_head=4, vocab_size=512, n_positions=64)
    return transformers.GPT2LMHeadModel(config)


def _bert(layers=LAYERS):
    config = transformers.BertConfig(hidden_size=64, num_hidden_layers=layers, num_attention_heads=4,
                                     intermediate_size=160, vocab_size=512, max_position_embeddings=64,
                                     pad_token_id=0)
    return transformers.BertForMaskedLM(config)


def _vit(layers=LAYERS):
    config = transformers.ViTConfig(hidden_size=64, num_hidden_layers=layers, num_attention_heads=4,
                                    intermediate_size=160, image_size=32, patch_size=8, num_labels=10)
    return transformers.ViTForImageClassification(config)


def _text_input():
    return {"input_ids": torch.randint(1, 512, (2, 12), generator=torch.Generator().manual_seed(0))}


def _image_input():
    return {"pixel_values": torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))}


MODELS = {"llama": (_llama, _text_input), "gpt2": (_gpt2, _text_input), "bert": (_bert, _text_input),
          "vit": (_vit, _image_input)}


@pytest.fixture(params=sorted(MODELS))
def family(request):
    return request.param


def test_distributions_match_library_init(family):
    build, _ = MODELS[family]
    torch.manual_seed(0)
    reference = build()
    with patch_init(seed=1):
        patched = build()
    assert_same_distributions(patched, reference)


def test_served_by_fastinit_and_restored(family):
    build, _ = MODELS[family]
    captured = transformers.initialization.TORCH_INIT_FUNCTIONS["normal_"]
    with patch_init(seed=1):
        assert transformers.initialization.TORCH_INIT_FUNCTIONS["normal_"] is not captured
        a = build()
    assert transformers.initialization.TORCH_INIT_FUNCTIONS["normal_"] is captured
    assert "normal_" not in torch.Tensor.__dict__
    with patch_init(seed=1):
        b = build()
    for name, tensor in _tensors(a).items():
        assert _same_bits(tensor, _tensors(b)[name]), name


def test_forward_pass(family):
    build, make_input = MODELS[family]
    with patch_init(seed=2):
        model = build()
    model.eval()
    with torch.no_grad():
        logits = model(**make_input()).logits
    assert torch.isfinite(logits).all() and logits.abs().max() > 0


def test_same_seed_same_bits(family):
    build, _ = MODELS[family]
    with patch_init(seed=3):
        a = build()
    with patch_init(seed=3):
        b = build()
    with patch_init(seed=4):
        c = build()
    ta, tb, tc = _tensors(a), _tensors(b), _tensors(c)
    for name in ta:
        assert _same_bits(ta[name], tb[name]), name
    assert any(not torch.equal(ta[name], tc[name]) for name in ta)


def _layer_list(model):
    return next(module for module in model.modules()
                if isinstance(module, nn.ModuleList) and len(module) == LAYERS)


def _reinit(model, seed):
    with patch_init(seed, model=model):
        model.apply(model._init_weights)
    return _tensors(model)


def test_model_named_streams_adding_a_layer(family):
    build, _ = MODELS[family]
    small = build()
    large = copy.deepcopy(small)
    layers = _layer_list(large)
    layers.append(copy.deepcopy(layers[-1]))
    before, after = _reinit(small, 5), _reinit(large, 5)
    assert set(before) < set(after)
    for name, tensor in before.items():
        assert _same_bits(tensor, after[name]), name
    # The new layer is not a copy of the last one.
    prefix = next(name for name, module in large.named_modules() if module is layers)
    new, last = f"{prefix}.{LAYERS}.", f"{prefix}.{LAYERS - 1}."
    differs = [name for name in after if name.startswith(new) and after[name].is_floating_point()
               and after[name].unique().numel() > 2]
    assert differs and all(not torch.equal(after[name], after[last + name[len(new):]]) for name in differs)
    assert_same_distributions(large, large)


def test_model_values_are_init_module_streams():
    model = _llama()
    _reinit(model, 6)
    name = "model.layers.0.self_attn.q_proj.weight"
    weight = model.get_parameter(name).detach().numpy()
    expected = fi.normal(weight.shape, std=model.config.initializer_range, seed=6, stream=stream_id(name))
    assert np.array_equal(weight, expected)
