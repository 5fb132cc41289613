"""Recorded init calls as fills of boxes of a named tensor: :class:`InitOp` and their replay.

A model's own init code (``torch.nn.init.normal_(w, std=0.02)``,
``w[pad].zero_()``, ...) is recorded by :mod:`fastinit.torch._record` as a
list of :class:`InitOp` per tensor, in call order.  This module is
framework-neutral: it only needs NumPy arrays.  :func:`fill_ops` replays a
tensor's ops on any block of it, so a tensor can be written block by block in
bounded memory; a random op draws from the tensor's own stream
(``tensor_stream(name)``) at each element's index in the *whole* tensor, so
the values depend only on ``(seed, name, shape, dtype, ops)``, never on the
blocks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fastinit
from fastinit._modelplan import RANDOM_SCHEMES, _derived_magnitudes, show_call
from fastinit._registry import BY_NAME, WHOLE_MATRIX_MAX_ELEMENTS

SCHEME = "scheme"     # a fastinit scheme over the box
FILL = "fill"         # one value over the box (non-finite floats, integer tensors)
DATA = "data"         # values given by the model code (a copy_ from a real tensor)

# Schemes that need the whole matrix (or whole columns) at once: a block of them is not
# computable on its own.  Read from the scheme registry, as WHOLE_MATRIX_MAX_ELEMENTS.
WHOLE_MATRIX_SCHEMES = tuple(name for name, info in BY_NAME.items()
                             if info.whole_matrix or info.whole_columns)
# Largest data op (a copy_ from a real tensor) kept in memory.
DATA_MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class InitOp:
    """One recorded init call, as a fill of a box of a named tensor.

    Attributes
    ----------
    call : str
        The call as the model code made it, for messages and provenance
        (``"torch.nn.init.normal_(mean=0.0, std=0.02)"``).
    kind : str
        ``"scheme"`` (``scheme(**kwargs)`` over the box), ``"fill"`` (``value``
        everywhere in the box) or ``"data"`` (``data``, of the box's extents).
    box : tuple of (int, int)
        ``(start, stop)`` per dimension of the tensor.
    scheme : str or None
        A fastinit function name (``kind == "scheme"``).
    kwargs : Mapping
        Its arguments (no shape, dtype, seed, stream or region).
    whole : bool
        The call saw the whole tensor in its own shape: ``scheme`` is applied
        to the tensor's shape (so fan-based schemes use its fans, and the
        values are exactly ``fastinit.<scheme>(shape, **kwargs, seed=S,
        stream=tensor_stream(name))``).  For a part of a tensor, random
        schemes are stored in their explicit form (``uniform``, ``normal``,
        ``trunc_normal`` with the bound or std the call derived from the
        part's shape) and still drawn at each element's index in the whole
        tensor.
    value, data
        For ``"fill"`` and ``"data"``.
    """

    call: str
    kind: str
    box: tuple
    scheme: str | None = None
    kwargs: Mapping = field(default_factory=dict)
    whole: bool = False
    value: Any = None
    data: Any = None

    @property
    def random(self) -> bool:
        return self.kind == SCHEME and self.scheme in RANDOM_SCHEMES

    def covers(self, other: "InitOp") -> bool:
        """Whether this op's box contains ``other``'s (so ``other`` before it is overwritten)."""
        return all(a0 <= b0 and b1 <= a1 for (a0, a1), (b0, b1) in zip(self.box, other.box))

    def provenance(self) -> dict:
        entry = {"call": self.call, "kind": self.kind, "box": [list(pair) for pair in self.box]}
        if self.kind == SCHEME:
            entry.update(scheme=self.scheme, params=dict(self.kwargs))
        elif self.kind == FILL:
            entry["value"] = self.value if isinstance(self.value, (int, bool)) else repr(self.value)
        return entry


def part_op(call, scheme, kwargs, box, part_shape):
    """The op of a random ``scheme`` applied to a part of a tensor (``part_shape``, at ``box``).

    Distributions that do not depend on the shape are kept; fan-based ones
    become the uniform or normal distribution with the bound or std that the
    call derives from the part's own shape.  Whole-matrix schemes
    (orthogonal, sparse) have no meaning on a part and raise ValueError.
    """
    if scheme in ("uniform", "normal", "trunc_normal"):
        return InitOp(call, SCHEME, box, scheme, dict(kwargs))
    if scheme in WHOLE_MATRIX_SCHEMES:
        raise ValueError(f"{call} on a part of a tensor cannot be recorded: {scheme} needs the whole "
                         "matrix the call saw")
    derived = _derived_magnitudes(scheme, kwargs, tuple(part_shape))
    if len(derived) != 1 or derived[0][0] not in ("bound", "std"):
        raise ValueError(f"{call} on a part of a tensor (shape {tuple(part_shape)}) cannot be "
                         "expressed as a fastinit distribution")
    what, magnitude = derived[0]
    if what == "bound":
        return InitOp(call, SCHEME, box, "uniform", {"low": -magnitude, "high": magnitude})
    return InitOp(call, SCHEME, box, "normal", {"mean": 0.0, "std": magnitude})


def drop_overwritten(ops: list) -> list:
    """``ops`` without those that a later op overwrites entirely (tied weights initialized twice,
    a default init followed by the model's own)."""
    return [op for index, op in enumerate(ops)
            if not any(later.covers(op) for later in ops[index + 1:])]


def uncovered_element(shape: tuple, ops: list):
    """An index of ``shape`` that no op writes, or None when the ops cover the whole tensor.

    Exact, by coordinate compression: the boxes' bounds cut every axis into
    intervals, and a cell of those intervals is either inside a box or not.
    """
    if math.prod(shape) == 0:
        return None
    if any(all(start == 0 and stop == size for (start, stop), size in zip(op.box, shape)) for op in ops):
        return None
    cuts = [sorted({0, size, *(b for op in ops for b in op.box[axis])}) for axis, size in enumerate(shape)]
    covered = np.zeros([len(c) - 1 for c in cuts], dtype=bool)
    for op in ops:
        covered[tuple(slice(cut.index(start), cut.index(stop)) for cut, (start, stop) in zip(cuts, op.box))] = True
    missing = np.argwhere(~covered)
    if missing.size == 0:
        return None
    return tuple(int(cuts[axis][cell]) for axis, cell in enumerate(missing[0]))


def check_op(op: InitOp, shape: tuple, dtype: np.dtype, where: str) -> None:
    """Everything that could make :func:`fill_ops` fail for ``op``, raised before any file exists."""
    size = math.prod(shape)
    if op.kind == SCHEME and op.scheme in WHOLE_MATRIX_SCHEMES and size > WHOLE_MATRIX_MAX_ELEMENTS:
        raise ValueError(f"{where}: {op.call} needs the whole {shape} matrix in memory "
                         f"({size:,} elements; at most {WHOLE_MATRIX_MAX_ELEMENTS:,} are computed)")
    if op.kind == SCHEME and not (op.whole and op.scheme in WHOLE_MATRIX_SCHEMES):
        # (a whole-matrix scheme was checked by the drop-in on the tensor's shape)
        one = tuple((start, start + 1) for start, _ in op.box)
        block = np.empty((1,) * len(shape), dtype=dtype)
        try:
            _fill_scheme(op, block, one, shape, dtype, 0, 0, {})
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: {op.call} -> {show_call(op.scheme, op.kwargs)}: {error}") from None


def _fill_scheme(op, out, cell, shape, dtype, seed, stream, cache):
    """``op``'s scheme over ``cell`` (a box inside ``op.box``) into ``out`` (cell's extents)."""
    function = getattr(fastinit, op.scheme)
    arguments = dict(op.kwargs)
    if op.scheme in RANDOM_SCHEMES:
        arguments.update(seed=seed, stream=stream)
    if op.whole:
        if op.scheme in WHOLE_MATRIX_SCHEMES:
            key = id(op)
            if key not in cache:                  # the QR once per tensor, not once per block
                cache[key] = function(shape, **arguments, dtype=dtype)
            out[...] = cache[key][tuple(slice(a, b) for a, b in cell)]
            return
        function(shape, **arguments, out=out, region=tuple(slice(a, b) for a, b in cell))
    elif op.random:
        # A part: drawn at the elements' indices in the whole tensor, on its stream.
        function(shape, **arguments, out=out, region=tuple(slice(a, b) for a, b in cell))
    else:
        # constant / zeros / ones do not depend on where they are.
        function(None, **arguments, out=out)


def fill_ops(ops: list, out: np.ndarray, region: tuple, *, shape: tuple, seed: int, stream: int,
             cache: dict | None = None) -> None:
    """Write the block ``region`` of a tensor of ``shape`` initialized by ``ops`` into ``out``.

    Parameters
    ----------
    ops : list of InitOp
        In call order (a later op overwrites an earlier one where they meet);
        together they must cover the tensor.
    out : numpy.ndarray
        The block, of the region's extents and the tensor's dtype.
    region : tuple of slice
        The block's slices of the leading axes (the others whole).
    shape : tuple of int
        The whole tensor's shape.
    seed, stream : int
        The random ops' key and the tensor's stream.
    cache : dict, optional
        Kept between the blocks of one tensor (whole-matrix schemes).
    """
    cache = {} if cache is None else cache
    bounds = [(s.start, s.stop) for s in region] + [(0, size) for size in shape[len(region):]]
    out = out.reshape([b - a for a, b in bounds])
    for op in ops:
        cell = tuple((max(a, c), min(b, d)) for (a, b), (c, d) in zip(bounds, op.box))
        if any(start >= stop for start, stop in cell):
            continue
        target = out[tuple(slice(a - o, b - o) for (a, b), (o, _) in zip(cell, bounds))]
        if op.kind == SCHEME:
            _fill_scheme(op, target, cell, shape, out.dtype, seed, stream, cache)
        elif op.kind == FILL:
            target[...] = op.value
        else:
            target[...] = op.data[tuple(slice(a - o, b - o) for (a, b), (o, _) in zip(cell, op.box))]
