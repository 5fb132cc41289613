"""The machinery behind the ``torch.nn.init`` drop-ins: check the whole call, then fill.

A drop-in is written as a *prepare* function with the drop-in's signature
that checks the call and returns a :class:`_Fill` (what to do) without
touching the tensor or any generator; :func:`_drop_in` turns it into the
drop-in, and ``init_module`` calls the same prepare function to check a rule
that is a drop-in before anything is written.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

import fastinit
from fastinit._modelplan import RANDOM_SCHEMES, explained, show_call, validate_scheme
from fastinit._registry import BY_NAME
from fastinit._validate import as_seed
from fastinit.torch._bridge import (
    _NUMPY_DTYPES, _check_fillable, _check_generator, _check_writable, _draw_seed, _fill_in_place,
)
from fastinit.torch._sharded import WHOLE_TENSOR_SCHEMES, check_same_seed, is_dtensor

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
        return f"{show_call(function_name, kwargs)} on a {dtype.name} tensor of shape {shape}"
    # The dry run repeats the fill's own checks (a second pass of Python validation, about
    # 50-100 us); it is needed only where a failing fill would leave something behind: a
    # seed drawn from a generator, an init_module plan checked ahead, or a no-op that would
    # otherwise check nothing.  An explicit seed's fill checks everything before writing.
    if _CHECKING_AHEAD.get() or (random and seed is None) or tensor.numel() == 0 or tensor.is_meta:
        validate_scheme(scheme, kwargs, tuple(tensor.shape), dtype, describe,
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
    if fill.scheme in RANDOM_SCHEMES and isinstance(fill.generator, fastinit.Generator):
        # Its next stream; the call counter moves only if the fill succeeds.
        return fill.generator._apply(
            lambda seed, stream: _execute(tensor, dataclasses.replace(fill, seed=seed, stream=stream,
                                                                      generator=None)))
    if fill.scheme in RANDOM_SCHEMES:
        key = fill.seed if fill.seed is not None else _draw_seed(fill.generator)
        if fill.seed is None and is_dtensor(tensor):
            check_same_seed(key, [tensor], fill.name)
        arguments.update(seed=key, stream=fill.stream)
    function = BY_NAME[fill.scheme].function
    try:
        # shape and region: a DTensor's shard is a block of its global shape (see _sharded).
        return _fill_in_place(tensor, lambda out, shape=None, region=None: function(
            shape, **arguments, out=out, region=region), whole=fill.scheme in WHOLE_TENSOR_SCHEMES)
    except ValueError as error:        # raised before writing: fastinit checks first
        better = explained(error, fill.scheme, fill.kwargs, tuple(tensor.shape),
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

