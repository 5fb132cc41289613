"""Drop-ins generated from the scheme registry, for the schemes ``torch.nn.init`` lacks.

``torch.nn.init`` has no ``lecun_normal_`` or ``small_init_``; every scheme of
:mod:`fastinit._registry` without a ``torch_name`` gets a drop-in here,
``<name>_(tensor, <its own parameters>, generator=None, *, seed=None, stream=0)``,
checked and filled by the same machinery as the hand-written ones
(:mod:`fastinit.torch._dropin_core`).  Also here: the ``{seed}`` part that every
random drop-in's docstring shares.
"""

from __future__ import annotations

import inspect

from fastinit._docs import render
from fastinit._registry import SCHEMES
from fastinit.torch._bridge import _scalar
from fastinit.torch._dropin_core import _check_tensor, _drop_in, _prepare

__all__ = ["GENERATED"]

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

_DETERMINISTIC_DOC = """\
    seed, stream : optional
        Keyword-only; accepted and ignored (the fill is deterministic)."""


#: The parts of the drop-ins' docstrings that several of them share (see :mod:`fastinit._docs`).
#: Parts are written out in this order, so a part may name the parts after it.
TORCH_PARTS = {
    "constant_like_sections": """\
    Parameters
    ----------
{tensor_param}
{ignored_seed}

{tensor_returns}

    Raises
    ------
    TypeError, ValueError
        As :func:`constant_`.""",
    "weight_gain_params": """\
    Parameters
    ----------
{weight_tensor_param}
{gain_param}""",
    "seed_returns": """\
{seed}

{tensor_returns}""",
    "uniform_raises": """\
    Raises
    ------
    TypeError
        As :func:`uniform_`.""",
    "seed": _SEED_DOC,
    "tensor_param": """\
    tensor : torch.Tensor
        Floating tensor to fill in place.""",
    "weight_tensor_param": """\
    tensor : torch.Tensor
        Floating tensor, at least 2-D, to fill in place.""",
    "gain_param": """\
    gain : float, optional
        Scaling factor, see :func:`calculate_gain`.""",
    "ignored_seed": """\
    seed, stream : optional
        Accepted and ignored, as in :func:`constant_`.""",
    "tensor_returns": """\
    Returns
    -------
    torch.Tensor
        ``tensor``.""",
    "inference_raises": """\
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.""",
}


def with_seed_doc(function):
    """``function`` with the :data:`TORCH_PARTS` its docstring names (``{seed}``, ...) written out."""
    function.__doc__ = render(function.__doc__, TORCH_PARTS)
    return function


def _signature(info):
    """``(tensor, <positional parameters>, [generator=None,] *, <keyword-only>, seed, stream)``."""
    P = inspect.Parameter
    own = info.parameters
    parameters = [P("tensor", P.POSITIONAL_OR_KEYWORD)]
    parameters += [p for p in own if p.kind == P.POSITIONAL_OR_KEYWORD]
    if info.random:
        parameters.append(P("generator", P.POSITIONAL_OR_KEYWORD, default=None))
    parameters += [p for p in own if p.kind == P.KEYWORD_ONLY]
    parameters += [P("seed", P.KEYWORD_ONLY, default=None), P("stream", P.KEYWORD_ONLY, default=0)]
    return inspect.Signature(parameters)


def _docstring(info, name):
    shape, _, rest = info.example.partition(")")
    call = f"torch.empty{shape})" + rest
    dimensions = ", at least 2-D," if info.fan_based and info.rule is not None else ""
    return f"""{info.title}, in place: :func:`fastinit.{info.name}` of the tensor's shape.

    {info.formula}.

    ``torch.nn.init`` has no ``{name}``: this drop-in takes the arguments
    of :func:`fastinit.{info.name}` after its shape, and the ``generator``,
    ``seed`` and ``stream`` of the other drop-ins.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating tensor{dimensions} to fill in place.
{info.parameter_docs()}{_SEED_DOC if info.random else _DETERMINISTIC_DOC}

    Returns
    -------
    torch.Tensor
        ``tensor``.  A zero-element tensor is returned as is, silently.

    Raises
    ------
    TypeError
        As :func:`uniform_`, and as :func:`fastinit.{info.name}`.
    ValueError
        A meta tensor (use :func:`init_module`), and as
        :func:`fastinit.{info.name}` (torch's RuntimeErrors for bad values are
        :class:`InitValueError`, both).
    RuntimeError
        An inference tensor outside ``torch.inference_mode()``, as torch.

    Examples
    --------
    >>> import torch, fastinit as fi, fastinit.torch as fit
    >>> w = fit.{name}({call}, seed=0)
    >>> bool((w.numpy() == fi.{info.name}({info.example}, seed=0)).all())
    True
    """


def _generate(info):
    name = f"{info.name}_"
    signature = _signature(info)

    def prepare(tensor, *args, **kwargs):
        try:
            bound = signature.bind(tensor, *args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{name}() {error}") from None
        bound.apply_defaults()
        given = bound.arguments
        _check_tensor(tensor, name)
        arguments = {p.name: _scalar(given[p.name]) for p in info.parameters}
        fill = _prepare(name, tensor, info.name, arguments, random=info.random,
                        generator=given.get("generator"), seed=given["seed"],
                        stream=given["stream"])
        return None if tensor.numel() == 0 else fill

    prepare.__name__ = prepare.__qualname__ = name
    prepare.__module__ = "fastinit.torch"
    prepare.__signature__ = signature
    prepare.__doc__ = _docstring(info, name)
    return _drop_in(prepare)


#: drop-in name -> drop-in, for every registry scheme without a torch.nn.init counterpart.
GENERATED = {f"{info.name}_": _generate(info)
             for info in SCHEMES.values() if info.torch_name is None}
