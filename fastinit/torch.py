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
    and ``stream=``.  They fill the tensor in place (through a zero-copy NumPy
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

Only ``float16``, ``bfloat16``, ``float32`` and ``float64`` tensors can be
filled.  CPU tensors are filled in place; tensors on another device (CUDA,
...) are generated on the CPU into a staging tensor and copied over.
"""

from __future__ import annotations

import contextvars
import dataclasses
import fnmatch
import functools
import inspect
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import ml_dtypes
import numpy as np

try:
    import torch
    from torch import nn
except ImportError as exc:   # torch is an optional extra
    raise ImportError("fastinit.torch needs PyTorch, which is not installed: "
                      "pip install 'fastinit[torch]' (a CPU build, pinned)") from exc

import fastinit
from fastinit import _memory
from fastinit import _fans as _fans_module
from fastinit._validate import as_seed, stream_id

__all__ = [
    # drop-ins for torch.nn.init
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "sparse_", "calculate_gain",
    # modules
    "init_module", "init_plan", "InitStep", "InitValueError",
    # helpers
    "numpy_view", "stream_id",
]

calculate_gain = fastinit.calculate_gain

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


# --------------------------------------------------------------------------------------
# Tensors as NumPy arrays
# --------------------------------------------------------------------------------------


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
    if _is_wrapper_subclass(tensor):
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
    if tensor.device.type != "cpu":
        raise ValueError(f"numpy_view: the tensor is on {tensor.device}; only CPU tensors have a "
                         "NumPy view (copy it to the CPU first)")
    return _numpy_view_unchecked(tensor)


def _fill_in_place(tensor, function_name, fill):
    """Run ``fill(ndarray)`` on the tensor's elements; the tensor must have passed the checks."""
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


# Standard deviation of a standard normal truncated to [-2, 2] (as fastinit's variance_scaling).
_TRUNCATED_STD = 0.87962566103423978


def _show_call(scheme, kwargs):
    return f"{scheme}({', '.join(f'{key}={value!r}' for key, value in kwargs.items())})"


_DERIVING_SCHEMES = frozenset((
    "xavier_uniform", "glorot_uniform", "xavier_normal", "glorot_normal", "kaiming_uniform",
    "he_uniform", "kaiming_normal", "he_normal", "variance_scaling",
))


@functools.lru_cache(maxsize=None)
def _signature(scheme):
    return inspect.signature(getattr(fastinit, scheme))


@functools.lru_cache(maxsize=None)
def _largest_finite(dtype):
    return float(ml_dtypes.finfo(dtype).max)


def _derived_magnitudes(scheme, kwargs, shape):
    """The values a scheme derives from its arguments and the shape: ``[(what, value)]``.

    Only the derived ones (a Xavier bound, a Kaiming std, ...): a parameter the
    user gave directly is reported by the fill itself, under its own name.
    Arguments that are themselves invalid give ``[]``; the dry run reports them.
    """
    if scheme not in _DERIVING_SCHEMES:
        return []
    try:
        bound = _signature(scheme).bind(shape, **kwargs)
        bound.apply_defaults()
        args = bound.arguments
        fan_in, fan_out = fastinit.compute_fans(shape, in_axis=args.get("in_axis", 1),
                                                out_axis=args.get("out_axis", 0))
        fans = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                "fan_geo_avg": math.sqrt(fan_in * fan_out)}
        if scheme in ("xavier_uniform", "glorot_uniform", "xavier_normal", "glorot_normal"):
            if not float(args["gain"]) >= 0:
                return []              # the scheme's own error names the bad gain
            scale, mode = float(args["gain"]) ** 2, "fan_avg"
            distribution = "uniform" if scheme.endswith("uniform") else "normal"
        elif scheme in ("kaiming_uniform", "he_uniform", "kaiming_normal", "he_normal"):
            scale = _fans_module._gain(args["nonlinearity"], args["a"], "a") ** 2
            mode = args["mode"]
            distribution = "uniform" if scheme.endswith("uniform") else "normal"
        elif scheme == "variance_scaling":
            scale, mode, distribution = float(args["scale"]), args["mode"], args["distribution"]
            if not scale > 0 or distribution not in ("uniform", "truncated_normal", "normal",
                                                     "untruncated_normal"):
                return []
        else:
            return []
        variance = scale / fans[mode]
        if distribution == "uniform":
            return [("bound", math.sqrt(3.0 * variance))]
        if distribution == "truncated_normal":
            return [("truncation bound", 2.0 * math.sqrt(variance) / _TRUNCATED_STD)]
        return [("std", math.sqrt(variance))]
    except (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError):
        return []


def _overflow_error(scheme, kwargs, shape, dtype, describe):
    """A value ``scheme`` derives beyond ``dtype``'s range, as a ValueError in the caller's
    terms (``describe(call)`` says who made the call), or None."""
    limit = _largest_finite(dtype)
    for what, value in _derived_magnitudes(scheme, kwargs, shape):
        if abs(value) > limit:         # NaN (from a NaN argument) keeps fastinit's own message
            return ValueError(f"{describe(_show_call(scheme, kwargs))} gives a {what} of "
                              f"{value:.7g}, beyond {dtype.name}'s largest finite value {limit:g}")
    return None


def _explained(error, scheme, kwargs, shape, dtype, describe):
    """``error`` from fastinit, or the caller's-terms error for the derived value behind it."""
    if isinstance(error, ValueError):
        better = _overflow_error(scheme, kwargs, shape, dtype, describe)
        if better is not None:
            return better
    return error


def _validate_scheme(scheme, kwargs, shape, dtype, describe, stream=0):
    """Every check fastinit makes for ``scheme`` on ``shape``/``dtype``, writing nothing.

    A dry run of the scheme on one element of the full shape (seed 0): the
    same parameter, shape and range checks as the real fill, which only
    differs in its seed.  orthogonal is dry-run on an empty block: its checks
    all come before its QR, which a block would compute in full.  A derived
    value (a Xavier bound, a Kaiming std) beyond the dtype's range is
    reported in the caller's terms through ``describe(call)``.
    """
    if not shape or 0 in shape:
        region = None
    elif scheme == "orthogonal":
        region = tuple(slice(0, 0) for _ in shape)
    else:
        region = tuple(slice(0, 1) for _ in shape)
    arguments = dict(kwargs)
    if scheme in _RANDOM_SCHEMES:
        arguments.update(seed=0, stream=stream)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(fastinit, scheme)(shape, **arguments, dtype=dtype, region=region)
    except (TypeError, ValueError) as error:
        better = _explained(error, scheme, kwargs, shape, dtype, describe)
        if better is error:
            raise
        raise better from None
    # An empty shape skips the scheme's value checks; the derived ones are made here.
    if region is None and shape and 0 in shape:
        error = _overflow_error(scheme, kwargs, shape, dtype, describe)
        if error is not None:
            raise error


# Set while init_module checks a drop-in rule ahead: the drop-in then checks everything.
_CHECKING_AHEAD = contextvars.ContextVar("fastinit_torch_checking_ahead", default=False)


@dataclass(frozen=True)
class _Fill:
    """What a drop-in does to its tensor, decided (and checked) before anything is drawn."""

    name: str                         # the drop-in, for messages
    scheme: str | None = None         # a fastinit function; None: nothing to do
    kwargs: Mapping = field(default_factory=dict)
    seed: int | None = None           # explicit key; None: drawn from ``generator``
    generator: Any = None
    stream: int | str = 0
    torch_value: float | None = None  # constant_ with a non-finite value: torch's fill_
    describe: Callable | None = None  # who called, for errors in the caller's terms


def _check_tensor(tensor, function_name):
    """The tensor checks of a drop-in's call; meta and inference tensors are refused on writing
    (so that :func:`init_module` can check a drop-in rule on a meta tensor)."""
    _check_fillable(tensor, function_name, allow_meta=True)


def _prepare(function_name, tensor, scheme, kwargs, *, random, generator=None, seed=None, stream=0):
    """A checked :class:`_Fill` of ``tensor`` with a fastinit scheme."""
    kwargs = dict(kwargs)
    if random:
        _check_generator(generator, seed, stream)
        seed = None if seed is None else as_seed(seed)
    dtype = _NUMPY_DTYPES[tensor.dtype]

    def describe(_):                  # in the drop-in's terms, not fastinit's scheme's
        shape = tuple(tensor.shape)
        return f"{_show_call(function_name, kwargs)} on a {dtype.name} tensor of shape {shape}"
    # The dry run repeats the fill's own checks (a second pass of Python validation, about
    # 50-100 us); it is needed only where a failing fill would leave something behind: a
    # seed drawn from a generator, an init_module plan checked ahead, or a no-op that would
    # otherwise check nothing.  An explicit seed's fill checks everything before writing.
    if _CHECKING_AHEAD.get() or (random and seed is None) or tensor.numel() == 0 or tensor.is_meta:
        _validate_scheme(scheme, kwargs, tuple(tensor.shape), dtype, describe,
                         stream if random else 0)
    return _Fill(function_name, scheme, kwargs, seed, generator, stream, describe=describe)


def _execute(tensor, fill):
    """Carry out a checked fill: the only place a drop-in draws a seed or writes."""
    if fill.scheme is None and fill.torch_value is None:
        return tensor
    _check_writable(tensor, fill.name)
    if fill.torch_value is not None:
        with torch.no_grad():
            tensor.fill_(fill.torch_value)
        return tensor
    arguments = dict(fill.kwargs)
    if fill.scheme in _RANDOM_SCHEMES and isinstance(fill.generator, fastinit.Generator):
        # Its next stream; the call counter moves only if the fill succeeds.
        return fill.generator._apply(
            lambda seed, stream: _execute(tensor, dataclasses.replace(fill, seed=seed, stream=stream,
                                                                      generator=None)))
    if fill.scheme in _RANDOM_SCHEMES:
        key = fill.seed if fill.seed is not None else _draw_seed(fill.generator)
        arguments.update(seed=key, stream=fill.stream)
    function = getattr(fastinit, fill.scheme)
    try:
        return _fill_in_place(tensor, fill.name, lambda out: function(None, **arguments, out=out))
    except ValueError as error:        # raised before writing: fastinit checks first
        better = _explained(error, fill.scheme, fill.kwargs, tuple(tensor.shape),
                            _NUMPY_DTYPES[tensor.dtype], fill.describe)
        if better is error:
            raise
        raise better from None


def _drop_in(prepare):
    """A ``torch.nn.init`` drop-in from the function that checks its call and says what to do.

    ``prepare`` has the drop-in's signature and returns a :class:`_Fill` (or
    None for a no-op) without touching the tensor or any generator;
    :func:`init_module` calls it too, to check a rule that is a drop-in
    before anything is written.
    """
    @functools.wraps(prepare)
    def drop_in(tensor, *args, **kwargs):
        try:
            fill = prepare(tensor, *args, **kwargs)
            return tensor if fill is None else _execute(tensor, fill)
        except ValueError as error:
            if isinstance(error, InitValueError):
                raise
            raise InitValueError(*error.args) from None

    drop_in._prepare = prepare
    return drop_in


class InitValueError(ValueError, RuntimeError):
    """A bad value given to a ``fastinit.torch`` drop-in.

    Both a :class:`ValueError` (fastinit's rule: a bad value is a
    ValueError) and a :class:`RuntimeError`, which is what ``torch.nn.init``
    raises for many of the same calls (``uniform_(t, 2, 1)``, ``normal_``
    with ``std < 0``, a bound beyond the dtype): code written against either
    library catches it.
    """


def _wrong_dimensions(torch_text, tensor):
    return ValueError(f"{torch_text}; got a {tensor.dim()}-D tensor of shape {tuple(tensor.shape)}")


# --------------------------------------------------------------------------------------
# Drop-ins for torch.nn.init
# --------------------------------------------------------------------------------------

_SEED_DOC = """\
    generator : torch.Generator or fastinit.Generator, optional
        A torch.Generator is used only when ``seed`` is None: the seed is
        drawn from it (63 random bits); without it, from torch's default
        generator, so ``torch.manual_seed`` makes the values reproducible.
        A :class:`fastinit.Generator` supplies both seed and stream (its next
        stream, as its own methods), and then ``seed`` and ``stream`` must
        not be given (TypeError).
    seed : int, optional
        Keyword-only.  Key in ``[0, 2**64)``; when given, no torch generator
        is used and the values are ``fastinit``'s for ``(seed, stream)``.
    stream : int or str, optional
        Keyword-only.  Stream id in ``[0, 2**64)`` or a name
        (``stream_id(name)``)."""


@_drop_in
def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, stream=0):
    r"""Fill ``tensor`` with values from :math:`\mathcal{U}(a, b)`, as ``torch.nn.init.uniform_``.

    Values are :func:`fastinit.uniform` of the tensor's shape: in
    :math:`[a, b]` (``b`` itself only through rounding).

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor to fill in place.
    a, b : float, optional
        Bounds, ``a <= b``.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        Non-tensor, unsupported dtype (int, complex, ...) or layout; a bound
        that is not a number or 0-d tensor (a bool too, which torch takes).
    ValueError
        A meta tensor (use :func:`init_module`), ``a > b`` (torch:
        RuntimeError), non-finite bounds or bounds outside the dtype's range.
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.

    Notes
    -----
    Everything is checked before the seed is drawn: a call that raises
    leaves every generator as it was.  The differences from torch are listed
    in ``docs/schemes.md`` ("fastinit.torch and torch.nn.init").

    Examples
    --------
    >>> import torch, fastinit.torch as fit
    >>> w = fit.uniform_(torch.empty(3, 5), -1, 1, seed=0)
    >>> bool(w.abs().max() <= 1)
    True
    """
    _check_tensor(tensor, "uniform_")
    return _prepare("uniform_", tensor, "uniform", {"low": _scalar(a), "high": _scalar(b)}, random=True,
                    generator=generator, seed=seed, stream=stream)


@_drop_in
def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, stream=0):
    r"""Fill ``tensor`` with values from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`, as ``torch.nn.init.normal_``.

    Values are :func:`fastinit.normal` of the tensor's shape.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor to fill in place.
    mean : float, optional
        Mean.
    std : float, optional
        Standard deviation, ``>= 0``.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        As :func:`uniform_`.
    ValueError
        A meta tensor, a negative ``std`` (torch: RuntimeError), a non-finite
        ``mean`` or ``std`` or one outside the dtype's range (torch fills NaN
        or inf).
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.

    Examples
    --------
    >>> import torch, fastinit.torch as fit
    >>> w = fit.normal_(torch.empty(1000, 1000), std=0.02, seed=0)
    >>> round(float(w.std()), 3)
    0.02
    """
    _check_tensor(tensor, "normal_")
    return _prepare("normal_", tensor, "normal", {"mean": _scalar(mean), "std": _scalar(std)},
                    random=True, generator=generator, seed=seed, stream=stream)


@_drop_in
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None, stream=0):
    r"""Fill ``tensor`` from a truncated normal distribution, as ``torch.nn.init.trunc_normal_``.

    Values follow :math:`\mathcal{N}(\text{mean}, \text{std}^2)` conditioned on
    :math:`a \le x \le b` (absolute bounds, torch semantics), drawn by inverse
    CDF (:func:`fastinit.trunc_normal`), never by rejection.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor to fill in place.
    mean, std : float, optional
        Parameters of the untruncated normal, ``std > 0``.
    a, b : float, optional
        Bounds, ``a <= b``; the interval must hold probability mass of at
        least 1e-30 (torch only warns when ``mean`` is more than 2 std away).
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        As :func:`uniform_`.
    ValueError
        A meta tensor, ``std <= 0``, ``a > b``, an interval too far in a tail.
        (torch warns when ``mean`` is more than 2 std from ``[a, b]``, where
        its rejection sampler is poor; this inverse-CDF draw is exact there
        and does not warn.)
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.

    Examples
    --------
    >>> import torch, fastinit.torch as fit
    >>> w = fit.trunc_normal_(torch.empty(768, 768), std=0.02, a=-0.04, b=0.04, seed=0)
    >>> bool(w.abs().max() <= 0.04)
    True
    """
    _check_tensor(tensor, "trunc_normal_")
    arguments = {"mean": _scalar(mean), "std": _scalar(std), "a": _scalar(a), "b": _scalar(b)}
    return _prepare("trunc_normal_", tensor, "trunc_normal", arguments, random=True,
                    generator=generator, seed=seed, stream=stream)


@_drop_in
def constant_(tensor, val, *, seed=None, stream=0):
    r"""Fill ``tensor`` with ``val``, as ``torch.nn.init.constant_``.

    .. math:: W_{ij\ldots} = \text{val}

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor to fill in place.
    val : float
        Finite value, rounded once to the tensor's dtype.
    seed, stream : optional
        Keyword-only; accepted (and ignored: the fill is deterministic) so
        that every drop-in can be called the same way, e.g. as an
        :func:`init_module` rule.

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        Non-tensor, unsupported dtype (fastinit fills floating tensors only,
        including for the constant fills, which torch also allows on integer
        tensors), a ``val`` that is not a real number or 0-d tensor (a bool
        too).
    ValueError
        A meta tensor, a finite ``val`` outside the dtype's range (torch:
        RuntimeError).  ``inf``, ``-inf`` and NaN are filled as asked, as torch.
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.
    """
    _check_tensor(tensor, "constant_")
    val = _scalar(val)
    if (isinstance(val, (int, float, np.floating)) and not isinstance(val, bool)
            and not math.isfinite(val)):
        # inf/-inf/nan exactly as asked (attention masks are filled with -inf): torch's fill_.
        return _Fill("constant_", torch_value=float(val))
    return _prepare("constant_", tensor, "constant", {"value": val}, random=False)


@_drop_in
def ones_(tensor, *, seed=None, stream=0):
    r"""Fill ``tensor`` with ones, as ``torch.nn.init.ones_``.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor to fill in place.
    seed, stream : optional
        Accepted and ignored, as in :func:`constant_`.

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError, ValueError
        As :func:`constant_`.
    """
    _check_tensor(tensor, "ones_")
    return _prepare("ones_", tensor, "ones", {}, random=False)


@_drop_in
def zeros_(tensor, *, seed=None, stream=0):
    r"""Fill ``tensor`` with zeros, as ``torch.nn.init.zeros_``.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor to fill in place.
    seed, stream : optional
        Accepted and ignored, as in :func:`constant_`.

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError, ValueError
        As :func:`constant_`.
    """
    _check_tensor(tensor, "zeros_")
    return _prepare("zeros_", tensor, "zeros", {}, random=False)


@_drop_in
def eye_(tensor, *, seed=None, stream=0):
    r"""Fill a 2-D ``tensor`` with the identity matrix, as ``torch.nn.init.eye_``.

    .. math:: W_{ij} = [i = j]

    Parameters
    ----------
    tensor : torch.Tensor
        2-D floating tensor to fill in place.
    seed, stream : optional
        Accepted and ignored, as in :func:`constant_`.

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        As :func:`constant_`.
    ValueError
        A meta tensor or one that is not 2-D (torch's message, then the shape).
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.
    """
    _check_tensor(tensor, "eye_")
    if tensor.dim() != 2:
        raise _wrong_dimensions("Only tensors with 2 dimensions are supported", tensor)
    return _prepare("eye_", tensor, "eye", {}, random=False)


@_drop_in
def dirac_(tensor, groups=1, *, seed=None, stream=0):
    r"""Fill a 3-, 4- or 5-D ``tensor`` with the Dirac delta, as ``torch.nn.init.dirac_``.

    .. math::

        W[g p + d,\, d,\, \lfloor k_1/2 \rfloor, \ldots] = 1, \quad
        p = \text{out\_channels} / \text{groups}

    and 0 elsewhere: the convolution passes as many input channels through as
    possible, per group.

    Parameters
    ----------
    tensor : torch.Tensor
        3-, 4- or 5-D floating tensor to fill in place.
    groups : int, optional
        Number of convolution groups, dividing ``tensor.shape[0]``.
    seed, stream : optional
        Accepted and ignored, as in :func:`constant_`.

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        As :func:`constant_`, non-integer ``groups``.
    ValueError
        A meta tensor, wrong number of dimensions, ``groups`` not dividing
        ``shape[0]`` (torch's messages first), ``groups <= 0`` (torch: a
        ZeroDivisionError, or an all-zero tensor for a negative ``groups``).
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.
    """
    _check_tensor(tensor, "dirac_")
    if tensor.dim() not in (3, 4, 5):
        raise _wrong_dimensions("Only tensors with 3, 4, or 5 dimensions are supported", tensor)
    groups = _scalar(groups)
    if (isinstance(groups, (int, np.integer)) and not isinstance(groups, bool) and groups >= 1
            and tensor.shape[0] % groups):
        raise ValueError(f"dim 0 must be divisible by groups; got groups={groups} for a tensor of "
                         f"shape {tuple(tensor.shape)}")
    return _prepare("dirac_", tensor, "dirac", {"groups": groups}, random=False)


@_drop_in
def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, stream=0):
    r"""Xavier (Glorot) uniform initialization, as ``torch.nn.init.xavier_uniform_``.

    .. math::

        W \sim \mathcal{U}(-\ell, \ell), \quad
        \ell = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    with torch's fans (``(out, in, *kernel)`` layout).  Also known as Glorot
    uniform initialization.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor, at least 2-D, to fill in place.
    gain : float, optional
        Scaling factor, see :func:`calculate_gain`.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        As :func:`uniform_`.
    ValueError
        A meta tensor, fewer than 2 dimensions, a negative or non-finite
        ``gain`` (torch: RuntimeError), a bound beyond the dtype's range.
        A zero-element tensor is returned silently, as torch.
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.
    """
    _check_tensor(tensor, "xavier_uniform_")
    fill = _prepare("xavier_uniform_", tensor, "xavier_uniform", {"gain": _scalar(gain)}, random=True,
                    generator=generator, seed=seed, stream=stream)
    return None if tensor.numel() == 0 else fill      # torch: silent for zero elements


@_drop_in
def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, stream=0):
    r"""Xavier (Glorot) normal initialization, as ``torch.nn.init.xavier_normal_``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad
        \sigma = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}

    Also known as Glorot normal initialization (untruncated, as torch).

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor, at least 2-D, to fill in place.
    gain : float, optional
        Scaling factor, see :func:`calculate_gain`.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError, ValueError
        As :func:`xavier_uniform_`.
    """
    _check_tensor(tensor, "xavier_normal_")
    fill = _prepare("xavier_normal_", tensor, "xavier_normal", {"gain": _scalar(gain)}, random=True,
                    generator=generator, seed=seed, stream=stream)
    return None if tensor.numel() == 0 else fill


def _prepare_kaiming(function_name, scheme, tensor, a, mode, nonlinearity, generator, seed, stream):
    """torch's kaiming checks, in torch's order, then fastinit's."""
    _check_tensor(tensor, function_name)
    if 0 in tensor.shape:
        # torch returns before checking anything else; the warning points at the caller.
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)
        return None
    if isinstance(mode, str):
        mode = mode.lower()           # as torch: "FAN_IN" is "fan_in"
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fastinit.compute_fans(tuple(tensor.shape))        # torch's "Fan in and fan out ..." error first
    calculate_gain(nonlinearity, a)                   # then torch's gain errors, as ValueError
    return _prepare(function_name, tensor, scheme, {"a": a, "mode": mode, "nonlinearity": nonlinearity},
                    random=True, generator=generator, seed=seed, stream=stream)


@_drop_in
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                     seed=None, stream=0):
    r"""Kaiming (He) uniform initialization, as ``torch.nn.init.kaiming_uniform_``.

    .. math::

        W \sim \mathcal{U}(-\ell, \ell), \quad
        \ell = \text{gain} \times \sqrt{\frac{3}{\text{fan\_mode}}}, \quad
        \text{gain} = \text{calculate\_gain}(\text{nonlinearity}, a)

    Also known as He uniform initialization.  ``a=math.sqrt(5)`` (what
    ``nn.Linear`` and ``nn.Conv*d`` use) gives
    :math:`\mathcal{U}(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor, at least 2-D, to fill in place.
    a : float, optional
        Negative slope of the rectifier after this layer (leaky_relu only).
    mode : {"fan_in", "fan_out"}, optional
        Which fan keeps its variance (forward or backward pass).
    nonlinearity : str, optional
        A name :func:`calculate_gain` knows.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.  A zero-element tensor is returned as is, with a warning.

    Raises
    ------
    TypeError
        As :func:`uniform_`; a non-string ``mode``.
    ValueError
        A meta tensor, fewer than 2 dimensions, unknown ``mode`` (any case,
        as torch), what :func:`calculate_gain` refuses (an unknown
        ``nonlinearity``, a slope that is not a number, with torch's
        messages), a NaN slope (torch: RuntimeError).  Zero-element tensors
        warn and return before any check, as torch.
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.
    """
    return _prepare_kaiming("kaiming_uniform_", "kaiming_uniform", tensor, a, mode, nonlinearity,
                            generator, seed, stream)


@_drop_in
def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                    seed=None, stream=0):
    r"""Kaiming (He) normal initialization, as ``torch.nn.init.kaiming_normal_``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad
        \sigma = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}, \quad
        \text{gain} = \text{calculate\_gain}(\text{nonlinearity}, a)

    Also known as He normal initialization (untruncated, as torch).

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor, at least 2-D, to fill in place.
    a, mode, nonlinearity
        As in :func:`kaiming_uniform_`.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError, ValueError
        As :func:`kaiming_uniform_`.
    """
    return _prepare_kaiming("kaiming_normal_", "kaiming_normal", tensor, a, mode, nonlinearity,
                            generator, seed, stream)


@_drop_in
def orthogonal_(tensor, gain=1, generator=None, *, seed=None, stream=0):
    r"""A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_``.

    The tensor is viewed as ``shape[0]`` rows by ``numel / shape[0]`` columns;
    with :math:`A = QR` the QR decomposition of a standard normal matrix,
    :math:`W = \text{gain} \cdot Q\,\operatorname{diag}(\operatorname{sign} R_{ii})`
    (Saxe et al., 2013).  See :func:`fastinit.orthogonal` (QR in float64).

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor, at least 2-D, to fill in place.
    gain : float, optional
        Multiplier.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        As :func:`uniform_`.
    ValueError
        A meta tensor, fewer than 2 dimensions, a non-finite ``gain`` or one
        outside the dtype's range (torch fills NaN or inf).
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.
    """
    _check_tensor(tensor, "orthogonal_")
    if tensor.dim() < 2:
        raise _wrong_dimensions("Only tensors with 2 or more dimensions are supported", tensor)
    return _prepare("orthogonal_", tensor, "orthogonal", {"gain": _scalar(gain)}, random=True,
                    generator=generator, seed=seed, stream=stream)


@_drop_in
def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None, stream=0):
    r"""A sparse 2-D matrix, as ``torch.nn.init.sparse_``.

    In every column :math:`\lceil \text{sparsity} \cdot \text{rows} \rceil`
    entries are zero, the others :math:`\mathcal{N}(0, \text{std}^2)`
    (Martens, 2010).  See :func:`fastinit.sparse`.

    Parameters
    ----------
    tensor : torch.Tensor
        2-D floating tensor to fill in place.
    sparsity : float
        Fraction of each column set to zero, in ``[0, 1]``.
    std : float, optional
        Standard deviation of the non-zero entries.
{seed}

    Returns
    -------
    torch.Tensor
        ``tensor``.

    Raises
    ------
    TypeError
        As :func:`uniform_`.
    ValueError
        A meta tensor, a tensor that is not 2-D, ``sparsity`` outside
        ``[0, 1]`` (torch zeroes every row, or all but a few), a negative
        ``std`` or one outside the dtype's range.  A zero-element tensor is
        returned silently, as torch.
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.
    """
    _check_tensor(tensor, "sparse_")
    if tensor.dim() != 2:
        raise _wrong_dimensions("Only tensors with 2 dimensions are supported", tensor)
    fill = _prepare("sparse_", tensor, "sparse", {"sparsity": _scalar(sparsity), "std": _scalar(std)},
                    random=True, generator=generator, seed=seed, stream=stream)
    return None if tensor.numel() == 0 else fill      # torch: silent for zero elements


for _function in (uniform_, normal_, trunc_normal_, xavier_uniform_, xavier_normal_,
                  kaiming_uniform_, kaiming_normal_, orthogonal_, sparse_):
    _function.__doc__ = _function.__doc__.replace("{seed}", _SEED_DOC)
del _function

_DROP_INS = frozenset((uniform_, normal_, trunc_normal_, constant_, ones_, zeros_, eye_, dirac_,
                       xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_,
                       orthogonal_, sparse_))


# --------------------------------------------------------------------------------------
# init_module: rules
# --------------------------------------------------------------------------------------

# Scheme names a rule may use (torch spellings with a trailing "_" are accepted too).
_RANDOM_SCHEMES = (
    "uniform", "normal", "trunc_normal", "xavier_uniform", "xavier_normal", "kaiming_uniform",
    "kaiming_normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal", "variance_scaling", "orthogonal", "sparse",
)
_DETERMINISTIC_SCHEMES = ("constant", "zeros", "ones", "eye", "dirac")
SCHEMES = _RANDOM_SCHEMES + _DETERMINISTIC_SCHEMES
# Arguments init_module passes itself.
_RESERVED_ARGUMENTS = ("shape", "out", "dtype", "seed", "stream", "region")
_KEEP = "keep"
_ZERO_INTEGER = "zero"      # integer buffers (BatchNorm's num_batches_tracked)
_CALLABLE = "callable"


@dataclass(frozen=True)
class _Spec:
    """How one tensor is filled: a fastinit scheme, a user callable, or left alone."""

    scheme: str                      # a name in SCHEMES, or _KEEP / _ZERO_INTEGER / _CALLABLE
    kwargs: Mapping = field(default_factory=dict)
    function: Callable | None = None
    origin: str = ""


def _scheme_spec(scheme, kwargs, origin):
    """A validated spec for a fastinit scheme name and its keyword arguments."""
    if not isinstance(scheme, str):
        raise TypeError(f"{origin}: a scheme must be named by a str; got {type(scheme).__name__} {scheme!r}")
    name = scheme[:-1] if scheme.endswith("_") else scheme
    if name not in SCHEMES:
        raise ValueError(f"{origin}: unknown scheme {scheme!r}; known schemes: {', '.join(SCHEMES)}")
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{origin}: the arguments of {name!r} must be a dict; got {type(kwargs).__name__}")
    reserved = sorted(set(kwargs) & set(_RESERVED_ARGUMENTS))
    if reserved:
        raise ValueError(f"{origin}: {', '.join(reserved)} cannot be given in a rule: init_module "
                         "takes the shape, dtype and output from the tensor, the seed from its "
                         "seed argument and the stream from the tensor's name")
    try:
        inspect.signature(getattr(fastinit, name)).bind(None, **kwargs)
    except TypeError as error:
        raise TypeError(f"{origin}: bad arguments for {name!r}: {error}") from None
    return _Spec(name, dict(kwargs), None, origin)


def _parse_spec(value, origin):
    """A rule's value: None, a scheme name, (name, kwargs), or a callable."""
    if value is None:
        return _Spec(_KEEP, {}, None, origin)
    if isinstance(value, str):
        return _scheme_spec(value, {}, origin)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return _scheme_spec(value[0], value[1], origin)
    if callable(value) and not isinstance(value, type):
        return _Spec(_CALLABLE, {}, value, origin)
    raise TypeError(
        f"{origin}: a rule's value must be a scheme name, (name, kwargs), a callable "
        f"fn(tensor, *, seed, stream) or None; got {type(value).__name__} {value!r}"
    )


@dataclass
class _Rule:
    key: Any                         # fnmatch pattern (str) or nn.Module subclass
    spec: _Spec | None               # for a pattern, or a type applying to all its tensors
    by_local_name: dict | None       # for a type: {local name: _Spec}
    matched: bool = False
    matched_local_names: set = field(default_factory=set)

    def spec_for(self, target):
        if isinstance(self.key, str):
            if any(fnmatch.fnmatchcase(name, self.key) for name in target.names):
                return self.spec
            return None
        for owner, local in target.owners:
            if isinstance(owner, self.key):
                if self.by_local_name is None:
                    return self.spec
                if local in self.by_local_name:
                    self.matched_local_names.add(local)
                    return self.by_local_name[local]
        return None

    def unmatched(self):
        """How this rule is shown if (part of) it matched nothing, else None."""
        if isinstance(self.key, str):
            return None if self.matched else repr(self.key)
        if self.by_local_name is None:
            return None if self.matched else self.key.__name__
        missing = [local for local in self.by_local_name if local not in self.matched_local_names]
        return f"{self.key.__name__}[{', '.join(map(repr, missing))}]" if missing else None


def _parse_rules(rules):
    if rules is None:
        return []
    if not isinstance(rules, Mapping):
        raise TypeError(f"rules must be a dict {{pattern or module type: scheme}}; got {type(rules).__name__}")
    parsed = []
    for key, value in rules.items():
        if isinstance(key, str):
            origin = f"rule {key!r}"
            parsed.append(_Rule(key, _parse_spec(value, origin), None))
        elif isinstance(key, type) and issubclass(key, nn.Module):
            origin = f"rule {key.__name__}"
            if isinstance(value, Mapping):
                by_local = {}
                for local, spec in value.items():
                    if not isinstance(local, str):
                        raise TypeError(f"{origin}: keys of a per-tensor dict must be local names "
                                        f"such as 'weight'; got {local!r}")
                    by_local[local] = _parse_spec(spec, f"{origin}[{local!r}]")
                parsed.append(_Rule(key, None, by_local))
            else:
                parsed.append(_Rule(key, _parse_spec(value, origin), None))
        else:
            raise TypeError(
                f"rule keys must be fnmatch patterns (str) or nn.Module subclasses; got {key!r}"
            )
    return parsed


# --------------------------------------------------------------------------------------
# init_module: PyTorch's defaults
# --------------------------------------------------------------------------------------


def _keeps_torch_method(module, base, method):
    """True when ``module`` runs ``base``'s own ``method`` (a subclass did not override it)."""
    return getattr(type(module), method, None) is getattr(base, method)


def _uniform_bound(bound, origin):
    return _Spec("uniform", {"low": -bound, "high": bound}, None, origin)


def _linear_like(owner, local, tensor, origin):
    """Linear and Conv/ConvTranspose: kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in))."""
    if local == "weight":
        return _Spec("kaiming_uniform", {"a": math.sqrt(5)}, None, origin)
    if local == "bias":
        fan_in = fastinit.compute_fans(tuple(owner.weight.shape))[0]
        return _uniform_bound(1 / math.sqrt(fan_in) if fan_in > 0 else 0.0, origin)
    return None


def _bilinear(owner, local, tensor, origin):
    if local in ("weight", "bias"):
        return _uniform_bound(1 / math.sqrt(owner.weight.size(1)), origin)
    return None


def _embedding(owner, local, tensor, origin):
    return _Spec("normal", {"mean": 0.0, "std": 1.0}, None, origin) if local == "weight" else None


def _affine_norm(owner, local, tensor, origin):
    return {"weight": _Spec("ones", {}, None, origin),
            "bias": _Spec("zeros", {}, None, origin)}.get(local)


def _batch_norm(owner, local, tensor, origin):
    if local in ("weight", "bias"):
        return _affine_norm(owner, local, tensor, origin)
    if local == "running_mean":
        return _Spec("zeros", {}, None, origin)
    if local == "running_var":
        return _Spec("ones", {}, None, origin)
    if local == "num_batches_tracked":
        return _Spec(_ZERO_INTEGER, {}, None, origin)
    return None


def _multihead_attention(owner, local, tensor, origin):
    if local in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
        return _Spec("xavier_uniform", {}, None, origin)
    if local == "in_proj_bias":
        return _Spec("zeros", {}, None, origin)
    if local in ("bias_k", "bias_v"):
        return _Spec("xavier_normal", {}, None, origin)
    return None


def _recurrent(owner, local, tensor, origin):
    hidden = owner.hidden_size
    return _uniform_bound(1.0 / math.sqrt(hidden) if hidden > 0 else 0.0, origin)


def _prelu(owner, local, tensor, origin):
    return _Spec("constant", {"value": float(owner.init)}, None, origin) if local == "weight" else None


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
                return _Spec("xavier_uniform", {}, None, "default: nn.Transformer._reset_parameters")
    # MultiheadAttention zeroes its out_proj bias after out_proj's own (Linear) init.
    parent = target.ancestors[-1] if target.ancestors else None
    if (local == "bias" and isinstance(parent, nn.MultiheadAttention)
            and owner is getattr(parent, "out_proj", None) and parent.in_proj_bias is not None
            and _keeps_torch_method(parent, nn.MultiheadAttention, "_reset_parameters")):
        return _Spec("zeros", {}, None, "default: nn.MultiheadAttention._reset_parameters")
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


# --------------------------------------------------------------------------------------
# init_module: planning and filling
# --------------------------------------------------------------------------------------


@dataclass
class _Target:
    name: str                        # canonical qualified name (the first one torch lists)
    names: list                      # every qualified name of the tensor (tied weights)
    kind: str                        # "parameter" or "buffer"
    owners: list                     # [(module, local name)] for every name
    ancestors: list                  # modules from the root down to the first owner's parent
    tensor: torch.Tensor


@dataclass(frozen=True)
class InitStep:
    """One tensor of :func:`init_plan`: what :func:`init_module` does to it.

    Attributes
    ----------
    name : str
        Qualified name (``prefix`` included), as ``named_parameters`` /
        ``named_buffers`` list it; the tensor's stream is ``stream_id(name)``.
    kind : str
        ``"parameter"`` or ``"buffer"``.
    shape : tuple of int
    dtype : torch.dtype
    scheme : str
        A fastinit scheme name, ``"callable"`` (a user function),
        ``"keep"`` (left as it is) or ``"zero"`` (an integer buffer).
    kwargs : dict
        The scheme's arguments.
    origin : str
        The rule or default that chose it.
    aliases : tuple of str
        Other names of the same tensor (tied weights), initialized once.
    """

    name: str
    kind: str
    shape: tuple
    dtype: torch.dtype
    scheme: str
    kwargs: dict
    origin: str
    aliases: tuple = ()


def _collect_targets(module, prefix):
    """Every parameter and buffer once, in named_parameters() then named_buffers() order."""
    targets = {"parameter": {}, "buffer": {}}

    def visit(mod, path, ancestors, on_stack):
        for kind, table in (("parameter", mod._parameters), ("buffer", mod._buffers)):
            for local, tensor in table.items():
                if tensor is None:
                    continue
                name = prefix + path + local
                seen = targets[kind].get(id(tensor))
                if seen is None:
                    targets[kind][id(tensor)] = _Target(name, [name], kind, [(mod, local)],
                                                        list(ancestors), tensor)
                else:
                    seen.names.append(name)
                    seen.owners.append((mod, local))
        for child_name, child in mod._modules.items():
            if child is None or id(child) in on_stack:
                continue
            visit(child, f"{path}{child_name}.", ancestors + [mod], on_stack | {id(child)})

    visit(module, "", [], frozenset({id(module)}))
    return list(targets["parameter"].values()) + list(targets["buffer"].values())


def _check_spec(spec, target):
    """Every check of ``spec`` on ``target`` that can be made without writing: the full plan.

    Scheme rules are checked with the tensor's real shape and dtype, including
    the values they derive (a bound, a std) against the dtype's range; a rule
    that is a drop-in (or a ``functools.partial`` of one) is checked as the
    drop-in itself checks its call.  Other callables cannot be checked ahead.
    """
    tensor = target.tensor
    shape = tuple(tensor.shape)
    where = f"init_module: {target.name} ({str(tensor.dtype).removeprefix('torch.')}, shape {shape})"
    if spec.scheme in SCHEMES:
        call = f"{spec.origin} -> {_show_call(spec.scheme, spec.kwargs)}"
        try:
            _validate_scheme(spec.scheme, spec.kwargs, shape, _NUMPY_DTYPES[tensor.dtype],
                             lambda shown: f"{where}: {spec.origin} -> {shown}",
                             stream_id(target.name))
        except (TypeError, ValueError) as error:
            if str(error).startswith(where):
                raise
            raise type(error)(f"{where}: {call}: {error}") from None
    elif spec.scheme == _CALLABLE:
        function, args, kwargs = spec.function, (), {}
        while isinstance(function, functools.partial):
            args, kwargs = function.args + args, {**function.keywords, **kwargs}
            function = function.func
        if function not in _DROP_INS:
            return                      # an arbitrary callable can only be run, not checked
        shown = ", ".join([*map(repr, args), *(f"{key}={value!r}" for key, value in kwargs.items())])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                token = _CHECKING_AHEAD.set(True)
                try:
                    function._prepare(tensor, *args, **{**kwargs, "seed": 0,
                                                        "stream": stream_id(target.name)})
                finally:
                    _CHECKING_AHEAD.reset(token)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: {spec.origin} -> {function.__name__}(tensor"
                              f"{', ' if shown else ''}{shown}): {error}") from None


def _plan(module, rules, strict, prefix):
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str; got {type(prefix).__name__}")
    parsed = _parse_rules(rules)
    targets = _collect_targets(module, prefix)
    plan, uncovered, lazy = [], [], []
    for target in targets:
        if isinstance(target.tensor, nn.parameter.UninitializedTensorMixin):
            lazy.append(target.name)
            continue
        spec = None
        for rule in parsed:
            found = rule.spec_for(target)
            if found is not None:
                rule.matched = True
                if spec is None:
                    spec = found       # first match wins; later rules are still marked as used
        if spec is None:
            spec = _default_spec(target)
        if spec is None:
            owner = type(target.owners[0][0]).__name__
            if strict:
                uncovered.append(f"{target.name} ({target.kind} of {owner}, shape {tuple(target.tensor.shape)})")
                continue
            spec = _Spec(_KEEP, {}, None, "strict=False: no rule and no default")
        plan.append((target, spec))

    if lazy:
        raise ValueError("init_module: lazy modules have uninitialized parameters "
                         f"({', '.join(lazy)}); run a forward pass first so their shapes are known")
    unmatched = [shown for shown in (rule.unmatched() for rule in parsed) if shown is not None]
    if unmatched:
        raise ValueError("init_module: these rules match no parameter or buffer: "
                         + ", ".join(unmatched))
    if uncovered:
        raise ValueError(
            "init_module: no rule and no PyTorch default for: " + "; ".join(uncovered)
            + ".  Add rules for them, e.g. rules={'<name pattern>': ('normal', {'std': 0.02})}, "
            "None to keep a tensor as it is, or pass strict=False to leave all of them"
        )

    # The whole plan is checked before init_module allocates or writes anything.
    for target, spec in plan:
        dtype = target.tensor.dtype
        if spec.scheme != _KEEP and not target.tensor.is_meta:
            _check_writable(target.tensor, f"init_module: {target.name}")
        if spec.scheme == _ZERO_INTEGER:
            continue
        if spec.scheme in SCHEMES:
            if dtype not in _FILLABLE_DTYPES:
                raise TypeError(f"init_module: {target.name} has dtype {dtype}; fastinit fills "
                                f"float16, bfloat16, float32 and float64 tensors ({spec.origin})")
            tensor = target.tensor
            if tensor.layout != torch.strided or _is_wrapper_subclass(tensor):
                raise TypeError(f"init_module: {target.name} is a {type(tensor).__name__} with "
                                f"layout {tensor.layout}; only dense tensors without "
                                "__torch_function__ can be filled")
        _check_spec(spec, target)
    return plan


def init_plan(module, rules=None, *, strict=True, prefix=""):
    """What :func:`init_module` would do to each tensor, without touching any.

    Parameters
    ----------
    module, rules, strict, prefix
        As in :func:`init_module`.

    Returns
    -------
    list of InitStep
        One per parameter and buffer, parameters first, in
        ``named_parameters()`` / ``named_buffers()`` order.

    Raises
    ------
    TypeError, ValueError
        As :func:`init_module`.

    Examples
    --------
    >>> import torch.nn as nn, fastinit.torch as fit
    >>> [(s.name, s.scheme) for s in fit.init_plan(nn.Linear(4, 2))]
    [('weight', 'kaiming_uniform'), ('bias', 'uniform')]
    """
    return [
        InitStep(target.name, target.kind, tuple(target.tensor.shape), target.tensor.dtype,
                 spec.scheme, dict(spec.kwargs), spec.origin, tuple(target.names[1:]))
        for target, spec in _plan(module, rules, strict, prefix)
    ]


def _materialize(module, plan, device):
    """``to_empty`` a module with meta tensors, keeping tied tensors tied.

    On the CPU the storage comes from ``fastinit._memory`` (torch's own
    allocator unless huge pages are opted into for a measurement).
    """
    if torch.device(device).type == "cpu":
        module._apply(_memory.fresh_cpu_tensor)
    else:
        module.to_empty(device=device)
    # to_empty gives every module its own new tensor, which unties shared
    # parameters (e.g. an embedding tied to the output layer); tie them again.
    for target, _ in plan:
        first_owner, first_local = target.owners[0]
        table = first_owner._parameters if target.kind == "parameter" else first_owner._buffers
        tensor = table[first_local]
        for owner, local in target.owners[1:]:
            setattr(owner, local, tensor)


def _current_tensor(target):
    owner, local = target.owners[0]
    return (owner._parameters if target.kind == "parameter" else owner._buffers)[local]


def _fill_target(target, spec, seed):
    tensor = _current_tensor(target)
    stream = stream_id(target.name)
    if spec.scheme == _KEEP:
        return
    if spec.scheme == _ZERO_INTEGER:
        with torch.no_grad():
            tensor.zero_()
        return
    if spec.scheme == _CALLABLE:
        with torch.no_grad():
            spec.function(tensor, seed=seed, stream=stream)
    else:
        function = getattr(fastinit, spec.scheme)
        arguments = dict(spec.kwargs)
        if spec.scheme in _RANDOM_SCHEMES:
            arguments.update(seed=seed, stream=stream)
        _fill_in_place(tensor, target.name, lambda out: function(None, **arguments, out=out))
    # torch keeps an Embedding's padding row at zero whatever fills the rest.
    owner, local = target.owners[0]
    if local == "weight" and isinstance(owner, (nn.Embedding, nn.EmbeddingBag)):
        if owner.padding_idx is not None:
            with torch.no_grad():
                tensor[owner.padding_idx].fill_(0)


def init_module(module, seed, rules=None, *, device="cpu", strict=True, prefix=""):
    r"""Initialize every parameter and buffer of a module, each from its own named stream.

    Tensor ``name`` (its qualified name, as ``module.named_parameters()`` or
    ``named_buffers()`` gives it) is drawn with key ``seed`` from stream
    ``stream_id(prefix + name)``.  Its values therefore depend only on
    ``(seed, name, shape, dtype, scheme)``: adding, removing or reordering
    other layers never changes them, and a model built on the meta device gets
    exactly the values of the same model built eagerly.

    A module with tensors on the meta device (``with torch.device("meta"):
    model = ...``) is first materialized with ``module.to_empty(device=device)``,
    which allocates without initializing, then filled once; tied parameters
    (the same Parameter under several names) stay tied and are filled once,
    under their first name.

    **Default rules** reproduce PyTorch's default initialization
    *distributions* (the values differ; each framework has its own generator):

    =======================================  ==================================================================
    module                                   tensors
    =======================================  ==================================================================
    Linear, Conv{1,2,3}d,                    ``weight``: ``kaiming_uniform_(a=sqrt(5))``, i.e.
    ConvTranspose{1,2,3}d                    :math:`\mathcal{U}(\pm 1/\sqrt{\text{fan\_in}})` with torch's fans of the
                                             weight's own layout; ``bias``: :math:`\mathcal{U}(\pm 1/\sqrt{\text{fan\_in}})`
    Bilinear                                 ``weight``, ``bias``: :math:`\mathcal{U}(\pm 1/\sqrt{\text{in1\_features}})`
    Embedding, EmbeddingBag                  ``weight``: :math:`\mathcal{N}(0, 1)`, row ``padding_idx`` zero
    LayerNorm, GroupNorm, RMSNorm,           ``weight`` 1, ``bias`` 0; ``running_mean`` 0, ``running_var`` 1,
    BatchNorm*, InstanceNorm*                ``num_batches_tracked`` 0
    MultiheadAttention                       ``in_proj_weight`` (or ``q/k/v_proj_weight``): ``xavier_uniform_``;
                                             ``in_proj_bias``, ``out_proj.bias``: 0; ``out_proj.weight`` as
                                             Linear; ``bias_k``, ``bias_v``: ``xavier_normal_``
    RNN, LSTM, GRU, RNNCell, LSTMCell,       every parameter: :math:`\mathcal{U}(\pm 1/\sqrt{\text{hidden\_size}})`
    GRUCell
    PReLU                                    ``weight``: ``init`` (0.25 by default)
    Transformer                              every parameter with more than one dimension ``xavier_uniform_``,
                                             the others through their submodules
    TransformerEncoder(Decoder)Layer, ...    through their submodules (MultiheadAttention, Linear, LayerNorm)
    =======================================  ==================================================================

    A subclass keeps its base's default only if it does not override the
    base's ``reset_parameters`` (``_reset_parameters`` for attention).

    Parameters
    ----------
    module : torch.nn.Module
        The model, built eagerly or on the meta device.
    seed : int or None
        Key in ``[0, 2**64)``; None draws one from torch's default generator.
    rules : dict, optional
        ``{key: value}``, tried in order before the defaults (the first
        matching rule wins).  A key is an ``fnmatch`` pattern matched against
        the qualified names (``"*.weight"``, ``"layers.*.mlp.*"``), or an
        ``nn.Module`` subclass matching the tensors its instances own
        directly.  A value is

        * a fastinit scheme name: ``"xavier_uniform"``, ``"zeros"``, ...
          (torch spellings such as ``"xavier_uniform_"`` too);
        * ``(name, kwargs)``: ``("trunc_normal", {"std": 0.02})``;
        * a callable ``fn(tensor, *, seed, stream)`` that fills the tensor in
          place, e.g. ``functools.partial(fastinit.torch.normal_, std=0.02)``
          (all the drop-ins accept ``seed`` and ``stream``);
        * None: leave the tensor as it is (after materialization from the
          meta device, which reallocates every tensor, that is
          uninitialized memory: use a callable for computed buffers);
        * for a module-type key only, a dict from local names to any of the
          above: ``{nn.Linear: {"weight": "xavier_uniform", "bias": "zeros"}}``
          (the other tensors of those modules fall through to later rules and
          the defaults).

        An Embedding's ``padding_idx`` row is zeroed after any rule or
        callable fills the weight, as torch keeps it.
    device : str or torch.device, optional
        Where a module with meta tensors is materialized (``"cpu"`` by
        default).  Tensors that already have storage are filled where they
        are.  Non-CPU tensors are generated on the CPU and copied over.
    strict : bool, optional
        With True (default), a parameter or buffer with no rule and no
        default (a custom module's ``nn.Parameter``, a ``ParameterList``, a
        buffer such as rotary frequencies) is an error listing all of them:
        give them rules (None keeps one as it is).  With False they are left
        as they are: after materialization from the meta device that is
        uninitialized memory, to be filled by the caller.
    prefix : str, optional
        Prepended to every name (for streams and patterns): a pipeline stage
        holding ``layers.12`` as its root can be initialized with
        ``prefix="layers.12."`` and gets the whole model's values.

    Returns
    -------
    torch.nn.Module
        ``module``, initialized in place.

    Raises
    ------
    TypeError
        ``module`` is not a Module, malformed rules, bad scheme arguments, a
        scheme rule for a tensor of unsupported dtype (int, complex).
    ValueError
        Unknown scheme names, rules that match no tensor, tensors with no
        rule and no default (with ``strict``), a scheme that does not fit a
        tensor (e.g. xavier for a 1-D bias) or gives values beyond its dtype
        (a bound, a std), a drop-in rule whose call the drop-in refuses, lazy
        (uninitialized) modules.  The error names the tensor and the rule.
    RuntimeError
        Inference tensors outside ``torch.inference_mode()``, as torch.

    Every tensor's whole plan is checked (with its real shape and dtype)
    before anything is allocated, drawn or written: after an error the
    module is exactly as it was, a meta model still on the meta device, and
    with ``seed=None`` no seed has been drawn.  Callables other than the
    drop-ins (and ``functools.partial`` of them) cannot be checked ahead;
    they run in plan order after all the checks.

    Notes
    -----
    Streams are named by the qualified names relative to ``module`` (plus
    ``prefix``): initializing a submodule alone gives it other values than
    initializing the whole model, unless ``prefix`` restores its full names.
    num_batches_tracked and other integer buffers are zeroed with torch.

    Examples
    --------
    >>> import torch, torch.nn as nn, fastinit.torch as fit
    >>> with torch.device("meta"):
    ...     model = nn.Sequential(nn.Embedding(100, 16), nn.Linear(16, 16))
    >>> model = fit.init_module(model, seed=0)
    >>> model[1].weight.device.type
    'cpu'
    >>> fit.init_module(model, 0, rules={"*.weight": ("trunc_normal", {"std": 0.02})}) is model
    True
    """
    seed = None if seed is None else as_seed(seed)
    device = torch.device(device)
    plan = _plan(module, rules, strict, prefix)
    if seed is None:
        seed = _draw_seed(None)   # only now: a call that raises leaves torch's generator alone
    if any(target.tensor.is_meta for target, _ in plan):
        _materialize(module, plan, device)
    for target, spec in plan:
        _fill_target(target, spec, seed)
    return module
