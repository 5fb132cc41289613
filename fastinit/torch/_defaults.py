"""PyTorch's default initialization per layer type, as fastinit scheme specs.

``init_module`` reproduces torch's default *distributions* (each layer's
``reset_parameters``) for the layer types listed in :data:`_DEFAULTS`; a
subclass that overrides that method is unknown to it.
"""

from __future__ import annotations

import math

from torch import nn

import fastinit
from fastinit._modelplan import Spec, ZERO_INTEGER



def _keeps_torch_method(module, base, method):
    """True when ``module`` runs ``base``'s own ``method`` (a subclass did not override it)."""
    return getattr(type(module), method, None) is getattr(base, method)


def _uniform_bound(bound, origin):
    return Spec("uniform", {"low": -bound, "high": bound}, None, origin)


def _linear_like(owner, local, tensor, origin):
    """Linear and Conv/ConvTranspose: kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in))."""
    if local == "weight":
        return Spec("kaiming_uniform", {"a": math.sqrt(5)}, None, origin)
    if local == "bias":
        fan_in = fastinit.compute_fans(tuple(owner.weight.shape))[0]
        return _uniform_bound(1 / math.sqrt(fan_in) if fan_in > 0 else 0.0, origin)
    return None


def _bilinear(owner, local, tensor, origin):
    if local in ("weight", "bias"):
        return _uniform_bound(1 / math.sqrt(owner.weight.size(1)), origin)
    return None


def _embedding(owner, local, tensor, origin):
    return Spec("normal", {"mean": 0.0, "std": 1.0}, None, origin) if local == "weight" else None


def _affine_norm(owner, local, tensor, origin):
    return {"weight": Spec("ones", {}, None, origin),
            "bias": Spec("zeros", {}, None, origin)}.get(local)


def _batch_norm(owner, local, tensor, origin):
    if local in ("weight", "bias"):
        return _affine_norm(owner, local, tensor, origin)
    if local == "running_mean":
        return Spec("zeros", {}, None, origin)
    if local == "running_var":
        return Spec("ones", {}, None, origin)
    if local == "num_batches_tracked":
        return Spec(ZERO_INTEGER, {}, None, origin)
    return None


def _multihead_attention(owner, local, tensor, origin):
    if local in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
        return Spec("xavier_uniform", {}, None, origin)
    if local == "in_proj_bias":
        return Spec("zeros", {}, None, origin)
    if local in ("bias_k", "bias_v"):
        return Spec("xavier_normal", {}, None, origin)
    return None


def _recurrent(owner, local, tensor, origin):
    hidden = owner.hidden_size
    return _uniform_bound(1.0 / math.sqrt(hidden) if hidden > 0 else 0.0, origin)


def _prelu(owner, local, tensor, origin):
    return Spec("constant", {"value": float(owner.init)}, None, origin) if local == "weight" else None


# (base class, the method whose initialization is reproduced, resolver); first isinstance wins.
_DEFAULTS = (
    (nn.Linear, "reset_parameters", _linear_like),
    (nn.modules.conv._ConvNd, "reset_parameters", _linear_like),
    (nn.Bilinear, "reset_parameters", _bilinear),
    (nn.Embedding, "reset_parameters", _embedding),
    (nn.EmbeddingBag, "reset_parameters", _embedding),
    (nn.modules.batchnorm._NormBase, "reset_parameters", _batch_norm),
    (nn.LayerNorm, "reset_parameters", _affine_norm),
    (nn.GroupNorm, "reset_parameters", _affine_norm),
    (nn.RMSNorm, "reset_parameters", _affine_norm),
    (nn.MultiheadAttention, "_reset_parameters", _multihead_attention),
    (nn.RNNBase, "reset_parameters", _recurrent),
    (nn.RNNCellBase, "reset_parameters", _recurrent),
    (nn.PReLU, "reset_parameters", _prelu),
)


def _default_spec(target):
    """PyTorch's default initialization of ``target``, or None if torch has none we know."""
    owner, local = target.owners[0]
    tensor = target.tensor
    # nn.Transformer re-initializes every parameter with more than one dimension.
    if target.kind == "parameter" and tensor.dim() > 1:
        for ancestor in target.ancestors:
            if isinstance(ancestor, nn.Transformer) and _keeps_torch_method(
                    ancestor, nn.Transformer, "_reset_parameters"):
                return Spec("xavier_uniform", {}, None, "default: nn.Transformer._reset_parameters")
    # MultiheadAttention zeroes its out_proj bias after out_proj's own (Linear) init.
    parent = target.ancestors[-1] if target.ancestors else None
    if (local == "bias" and isinstance(parent, nn.MultiheadAttention)
            and owner is getattr(parent, "out_proj", None) and parent.in_proj_bias is not None
            and _keeps_torch_method(parent, nn.MultiheadAttention, "_reset_parameters")):
        return Spec("zeros", {}, None, "default: nn.MultiheadAttention._reset_parameters")
    for base, method, resolve in _DEFAULTS:
        if isinstance(owner, base):
            if not _keeps_torch_method(owner, base, method):
                return None            # a subclass with its own initialization: unknown to us
            if base is nn.modules.batchnorm._NormBase and not _keeps_torch_method(
                    owner, base, "reset_running_stats"):
                return None
            return resolve(owner, local, tensor,
                           f"default: {type(owner).__name__} ({base.__name__}.{method})")
    return None
