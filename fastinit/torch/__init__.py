r"""PyTorch integration: ``torch.nn.init`` drop-ins and whole-module initialization.

Import it explicitly (``import fastinit`` never imports torch)::

    import fastinit.torch as fit

    fit.kaiming_uniform_(layer.weight, a=5 ** 0.5)        # like torch.nn.init
    fit.init_module(model, seed=1234)                    # every parameter and buffer

Drop-ins
    ``uniform_``, ``normal_``, ``trunc_normal_``, ``constant_``, ``ones_``,
    ``zeros_``, ``eye_``, ``dirac_``, ``xavier_uniform_``, ``xavier_normal_``,
    ``kaiming_uniform_``, ``kaiming_normal_``, ``orthogonal_`` and ``sparse_``
    take exactly ``torch.nn.init``'s arguments, plus keyword-only ``seed=``
    and ``stream=``.  The schemes torch lacks (``lecun_normal_``,
    ``variance_scaling_``, ``small_init_``, ``wang_init_``, ``scaled_normal_``,
    ...) have drop-ins too, generated from the scheme registry.  They fill the tensor in place (through a zero-copy NumPy
    view of its storage, under ``torch.no_grad()``) and return it.  With
    ``seed`` omitted the seed is drawn from ``generator`` or torch's default
    generator, so ``torch.manual_seed`` makes a run reproducible as usual.

Whole modules
    :func:`init_module` materializes a module built on the meta device and
    initializes every parameter and buffer, each from its own named stream
    ``stream_id(qualified_name)``, with PyTorch's default distributions or
    user rules.

They behave as ``torch.nn.init`` on every input torch accepts (0-d tensor
arguments, zero-element tensors, inference tensors, torch's error messages
as prefixes), except for deliberate differences listed in
``docs/schemes.md`` ("fastinit.torch and torch.nn.init"): bad values are
ValueErrors before anything is drawn, never NaN/inf fills; bools are not
numbers; meta tensors point to :func:`init_module`.

Layout: ``_bridge`` (tensors as NumPy arrays), ``_dropin_core``,
``_dropins`` and ``_generated`` (the drop-ins), ``_defaults`` (torch's default init per layer
type), ``_module`` (``init_module``), ``_patch`` (``patch_init``) and ``_sharded`` (DTensor shards filled
by region: FSDP2, tensor parallelism); the framework-neutral rules, specs,
stream naming and plan checks live in :mod:`fastinit._modelplan`.

Only ``float16``, ``bfloat16``, ``float32`` and ``float64`` tensors can be
filled.  CPU tensors are filled in place; tensors on another device (CUDA,
...) are generated on the CPU into a staging tensor and copied over.
"""

try:
    import torch  # noqa: F401
except ImportError as exc:   # torch is an optional extra
    raise ImportError("fastinit.torch needs PyTorch, which is not installed: "
                      "pip install 'fastinit[torch]' (a CPU build, pinned)") from exc

from fastinit._modelplan import SCHEMES, InitStep
from fastinit._validate import stream_id
from fastinit.torch._bridge import numpy_view
from fastinit.torch._dropin_core import InitValueError
from fastinit.torch._dropins import (
    calculate_gain, constant_, dirac_, eye_, kaiming_normal_, kaiming_uniform_, normal_, ones_,
    orthogonal_, sparse_, trunc_normal_, uniform_, xavier_normal_, xavier_uniform_, zeros_,
)
from fastinit.torch._generated import GENERATED as _GENERATED
from fastinit.torch._module import init_module, init_plan
from fastinit.torch._patch import patch_init

__all__ = [
    # drop-ins for torch.nn.init
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "sparse_", "calculate_gain",
    # modules
    "init_module", "init_plan", "patch_init", "InitStep", "InitValueError", "SCHEMES",
    # helpers
    "numpy_view", "stream_id",
]

# The drop-ins of the registry's schemes that torch.nn.init lacks: lecun_uniform_,
# lecun_normal_, variance_scaling_, small_init_, wang_init_, scaled_normal_, ...
globals().update(_GENERATED)
__all__ += list(_GENERATED)
del _GENERATED
