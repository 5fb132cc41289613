"""Torch tensors as NumPy arrays: what can be filled, the zero-copy view, in-place fills.

The only place ``fastinit.torch`` reaches into a tensor's storage.
"""

from __future__ import annotations

import inspect

import ml_dtypes
import numpy as np
import torch
from torch import nn

import fastinit
from fastinit.torch._sharded import check_placements, fill_dtensor, is_dtensor

_FILLABLE_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_NUMPY_DTYPES = {
    torch.float16: np.dtype(np.float16),
    torch.bfloat16: np.dtype(ml_dtypes.bfloat16),
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
}
_INIT_MODULE_HINT = (
    "a meta tensor has no storage to fill; build the model on the meta device and call "
    "fastinit.torch.init_module(model, seed) to materialize and initialize it in one step"
)



_PLAIN_TORCH_FUNCTIONS = (inspect.getattr_static(torch.Tensor, "__torch_function__"),
                          torch._C._disabled_torch_function_impl)
_PLAIN_TORCH_DISPATCH = inspect.getattr_static(torch.Tensor, "__torch_dispatch__", None)


def _is_wrapper_subclass(tensor):
    """A tensor subclass that redefines torch functions or dispatch (DTensor, FakeTensor, ...).

    Their storage is not their logical elements, so a NumPy view would be wrong.  (A
    check of the class, not ``has_torch_function``: that is also true for plain tensors
    while a mode such as ``with torch.device(...)`` is active.)
    """
    cls = type(tensor)
    if cls in (torch.Tensor, nn.Parameter):
        return False
    return (inspect.getattr_static(cls, "__torch_function__", None) not in _PLAIN_TORCH_FUNCTIONS
            or inspect.getattr_static(cls, "__torch_dispatch__", None) is not _PLAIN_TORCH_DISPATCH)


def _check_fillable(tensor, function_name, *, allow_meta=False):
    """Everything that makes a tensor unfillable, raised before anything is drawn."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{function_name}: expected a torch.Tensor; got {type(tensor).__name__}")
    if tensor.layout != torch.strided:
        raise TypeError(
            f"{function_name}: only dense (strided) tensors can be filled; got layout {tensor.layout}"
        )
    if tensor.dtype not in _FILLABLE_DTYPES:
        raise TypeError(
            f"{function_name}: fastinit fills float16, bfloat16, float32 and float64 tensors; "
            f"got dtype {tensor.dtype}"
        )
    if tensor.is_meta and not allow_meta:
        raise ValueError(f"{function_name}: {_INIT_MODULE_HINT}")
    if is_dtensor(tensor):            # filled shard by shard, by region (see _sharded)
        check_placements(tensor, function_name)
    elif _is_wrapper_subclass(tensor):
        raise TypeError(
            f"{function_name}: tensor subclasses that redefine __torch_function__ or __torch_dispatch__ "
            f"({type(tensor).__name__}) are not supported; fill the local tensor, e.g. "
            "fastinit.kaiming_normal(global_shape, out=numpy_view(local), region=...)"
        )
    if tensor.is_neg() or tensor.is_conj():
        raise TypeError(f"{function_name}: the tensor has its negative/conjugate bit set; "
                        "fill a resolved tensor (tensor.resolve_neg())")


def _numpy_view_unchecked(tensor) -> np.ndarray:
    detached = tensor.detach()
    if detached.dtype == torch.bfloat16:
        # NumPy has no bfloat16: reinterpret the 2-byte elements, strides unchanged.
        return detached.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return detached.numpy()


def numpy_view(tensor) -> np.ndarray:
    """A writable, zero-copy NumPy view of a CPU floating tensor's elements.

    The view has the tensor's shape and strides (non-contiguous tensors
    included); bfloat16 tensors are viewed as ``ml_dtypes.bfloat16``.  Writing
    to it bypasses autograd: do it under ``torch.no_grad()`` semantics, as the
    drop-ins do.  Useful for sharded initialization, where a local shard is
    one block of a larger logical array::

        fastinit.kaiming_normal((4096, 1024), out=numpy_view(shard),
                                region=(slice(r0, r1),), seed=0, stream="w")

    Parameters
    ----------
    tensor : torch.Tensor
        A dense CPU tensor of dtype float16, bfloat16, float32 or float64
        (a Parameter that requires grad is fine).

    Returns
    -------
    numpy.ndarray
        Shares memory with ``tensor``.

    Raises
    ------
    TypeError
        Not a tensor, unsupported dtype or layout, a ``__torch_function__``
        subclass.
    ValueError
        A meta tensor, or a tensor that is not on the CPU.
    """
    _check_fillable(tensor, "numpy_view")
    if is_dtensor(tensor):
        raise TypeError("numpy_view: a DTensor's elements are spread over ranks; view its local "
                        "shard, numpy_view(tensor.to_local()), and fill it with region=..., or let "
                        "a fastinit.torch drop-in or init_module do that")
    if tensor.device.type != "cpu":
        raise ValueError(f"numpy_view: the tensor is on {tensor.device}; only CPU tensors have a "
                         "NumPy view (copy it to the CPU first)")
    return _numpy_view_unchecked(tensor)


def _fill_in_place(tensor, fill, *, whole=False):
    """Run ``fill(ndarray)`` on the tensor's elements; the tensor must have passed the checks.

    A DTensor's local shard is filled box by box as
    ``fill(block, shape=global_shape, region=box)`` (see
    :func:`fastinit.torch._sharded.fill_dtensor`; ``whole`` for whole-tensor
    schemes), so ``fill`` must accept those keywords when given one.
    """
    if is_dtensor(tensor):
        return fill_dtensor(tensor, fill, whole=whole)
    with torch.no_grad():
        if tensor.device.type == "cpu":
            fill(_numpy_view_unchecked(tensor))
            # Writes through NumPy are invisible to autograd's version counter; bump it as
            # an in-place torch op would, so a stale saved tensor is still detected.
            torch.autograd.graph.increment_version(tensor)
        else:
            staging = torch.empty(tuple(tensor.shape), dtype=tensor.dtype, device="cpu")
            fill(_numpy_view_unchecked(staging))
            tensor.copy_(staging)
    return tensor


def _check_generator(generator, seed=None, stream=0):
    if generator is not None and not isinstance(generator, (torch.Generator, fastinit.Generator)):
        raise TypeError(f"generator must be a torch.Generator, a fastinit.Generator or None; "
                        f"got {type(generator).__name__}")
    # A fastinit Generator supplies both the seed and the stream; a second source for
    # either would be ignored or would repeat streams, so it is refused.
    if isinstance(generator, fastinit.Generator) and (seed is not None or stream != 0):
        given = f"seed={seed!r}" if seed is not None else f"stream={stream!r}"
        raise TypeError(f"a fastinit.Generator supplies seed and stream; got it with {given} "
                        f"(drop it, or use generator.child(name) for a named stream)")


def _draw_seed(generator):
    """63 random bits from ``generator`` (torch's default one when None).

    Drawn only once every argument has been checked, so a call that raises
    leaves the generator as it was; ``torch.manual_seed(s)`` fixes every later draw.
    """
    if generator is None:
        generator = torch.default_generator
    drawn = torch.empty((), dtype=torch.int64, device=generator.device).random_(generator=generator)
    return int(drawn)


def _scalar(value):
    """A 0-d tensor as the Python number it holds (torch accepts them for its float arguments)."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_meta:
        return value.item()
    return value


def _check_writable(tensor, function_name):
    """What makes an otherwise fillable tensor unwritable now: torch's own rules."""
    if tensor.is_meta:
        raise ValueError(f"{function_name}: {_INIT_MODULE_HINT}")
    if tensor.is_inference() and not torch.is_inference_mode_enabled():
        # torch's in-place ops refuse this; writing through NumPy would bypass the check.
        raise RuntimeError(
            "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
            "clone to get a normal tensor before doing inplace update.See "
            f"https://github.com/pytorch/rfcs/pull/17 for more details. ({function_name})"
        )


