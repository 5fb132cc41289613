"""Argument checking for every public fill: the one place input is validated.

Kernels assume what this module guarantees: a supported dtype, an aligned or
staged writable output, in-range seed/stream/region, finite parameters.
Everything is checked before anything is written.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import operator
import secrets
import sys
from typing import NamedTuple

import ml_dtypes
import numpy as np

from . import _core

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)

# Floating dtype -> kernel dtype code (src_c/fastinit.h's fi_dtype, by name through
# _core); uint32 is random_raw's own.  Names are what error messages show.
_KINDS = {(BFLOAT16 if name == "bfloat16" else np.dtype(name)): code
          for name, code in _core.DTYPE_CODES.items() if name != "uint32"}
SUPPORTED_DTYPES = "float16, float32, float64, bfloat16"
# Seeds, streams and word indices are 64-bit: each lies in [0, U64_LIMIT).
U64_LIMIT = 1 << 64
_MAX_LOGICAL_ELEMENTS = (1 << 63) - 1


def as_dtype(dtype) -> np.dtype:
    """A supported floating dtype from anything NumPy (or 'bfloat16') accepts."""
    if isinstance(dtype, str) and dtype.lower() == "bfloat16":
        return BFLOAT16
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype must be one of {SUPPORTED_DTYPES}; got {dtype!r}, which is not a NumPy dtype"
        ) from None
    if dt.newbyteorder("=") in _KINDS and not dt.isnative:
        raise TypeError(
            f"dtype must be in native byte order; got {dt.str!r} (use {dt.newbyteorder('=').name})"
        )
    if dt not in _KINDS:
        raise TypeError(f"dtype must be one of {SUPPORTED_DTYPES}; got {dt.name}")
    return dt


def kind_of(dtype: np.dtype) -> int:
    return _KINDS[dtype]


def _integer(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    return int(value)


def as_seed(seed) -> int:
    """A 64-bit Philox key; None draws 64 bits of OS entropy."""
    if seed is None:
        return secrets.randbits(64)
    seed = _integer(seed, "seed")
    if not 0 <= seed < U64_LIMIT:
        raise ValueError(f"seed must be in [0, 2**64); got {seed}")
    return seed


# Domain separation: no other use of BLAKE2b can produce fastinit's stream ids.
_STREAM_HASH_PERSON = b"fastinit.strm.v1"


def stream_id(*names) -> int:
    """The 64-bit stream id of a name, or of a sequence of names.

    Each name is encoded as UTF-8 and prefixed with its byte length (8 bytes,
    little-endian), the pieces are concatenated, and the id is the first 8
    bytes (little-endian) of their BLAKE2b digest, personalized with
    ``b"fastinit.strm.v1"``.  The length prefixes make the encoding
    unambiguous: ``stream_id("ab", "c") != stream_id("a", "bc")``.  The
    mapping is part of stream v1 and never changes.

    Parameters
    ----------
    *names : str
        One or more names, e.g. ``stream_id("encoder.layers.0.attn.q_proj.weight")``
        or ``stream_id("run-7", "embedding")``.

    Returns
    -------
    int
        A stream id in ``[0, 2**64)``.

    Raises
    ------
    TypeError
        If a name is not a str.
    ValueError
        If no name is given.

    Examples
    --------
    >>> import fastinit as fi
    >>> fi.stream_id("a", "bc") == fi.stream_id("ab", "c")
    False
    """
    if not names:
        raise ValueError("stream_id needs at least one name")
    digest = hashlib.blake2b(digest_size=8, person=_STREAM_HASH_PERSON)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"stream names must be str; got {type(name).__name__} {name!r}")
        data = name.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return int.from_bytes(digest.digest(), "little")


def as_stream(stream) -> int:
    """A stream id: an int in [0, 2**64), or a str name (see :func:`stream_id`)."""
    if isinstance(stream, str):
        return stream_id(stream)
    if isinstance(stream, (bool, np.bool_)) or not isinstance(stream, (numbers.Integral, np.integer)):
        raise TypeError(f"stream must be an integer or a str; got {type(stream).__name__} {stream!r}")
    stream = int(stream)
    if not 0 <= stream < U64_LIMIT:
        raise ValueError(f"stream must be in [0, 2**64); got {stream}")
    return stream


def as_count(value, name) -> int:
    value = _integer(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0; got {value}")
    return value


def as_shape(shape) -> tuple:
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(
            f"shape must be an int or a tuple of ints; got {shape!r}"
        ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape dimensions must be >= 0; got {dims}")
    if len(dims) > _core.MAX_NDIM:
        raise ValueError(f"shape may have at most {_core.MAX_NDIM} dimensions; got {len(dims)}")
    if math.prod(dims) > _MAX_LOGICAL_ELEMENTS:
        raise ValueError(f"shape {dims} has more than 2**63 - 1 elements")
    return dims


# ml_dtypes' real scalar types (bfloat16, float8_*, int4, ...): NumPy scalars of kind "V".
_ML_DTYPES_REALS = frozenset(
    np.dtype(getattr(ml_dtypes, n)) for n in dir(ml_dtypes)
    if n.startswith(("bfloat", "float", "int", "uint")) and isinstance(getattr(ml_dtypes, n), type)
)


def as_real(value, name) -> float:
    """A finite float64 from a real number: every float parameter goes through here.

    Accepts Python and NumPy reals (ml_dtypes' bfloat16 and float8 types
    included) and 0-d arrays of a real dtype (JAX and NumPy code passes
    those, e.g. ``np.array(1.0, ml_dtypes.bfloat16)``); bools, complex
    numbers, other objects and arrays with dimensions are a TypeError.  A value
    that is not finite as a float64 (an int beyond float64's range, inf,
    NaN) is a ValueError.
    """
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise TypeError(f"{name} must be a real number; got ndarray of shape {value.shape} "
                            "(only 0-d arrays are accepted)")
        value = value[()]                                # the NumPy scalar (or object) it holds
    if isinstance(value, np.generic):
        real = value.dtype.kind in "fiu" or value.dtype in _ML_DTYPES_REALS
    else:
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real:
        raise TypeError(f"{name} must be a real number; got {type(value).__name__} {value!r}")
    try:
        value = float(value)
    except OverflowError:
        # An int (or Fraction) beyond float64: its str may be too long to print, so give its size.
        digits = int(abs(int(value)).bit_length() * math.log10(2)) + 1
        raise ValueError(
            f"{name} must be finite and within float64's range (|x| <= {sys.float_info.max:g}); "
            f"got {type(value).__name__} value of about {digits} digits, which overflows float64"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return value


def check_representable(dtype: np.dtype, **values) -> None:
    """Parameters must lie inside the output type's finite range."""
    limit = float(ml_dtypes.finfo(dtype).max)
    for name, value in values.items():
        if abs(value) > limit:
            raise ValueError(
                f"{name}={value} is outside the finite range of {dtype.name} (|x| <= {limit:g})"
            )


def as_region(region, shape):
    """(starts, extents) of a box of `shape` given by step-1 slices."""
    if region is None:
        return (0,) * len(shape), shape
    if isinstance(region, slice):
        region = (region,)
    if not isinstance(region, tuple) or not all(isinstance(s, slice) for s in region):
        raise TypeError(f"region must be a tuple of slices; got {region!r}")
    if len(region) > len(shape):
        raise ValueError(
            f"region has {len(region)} slices but the array has {len(shape)} dimensions (shape {shape})"
        )
    starts, extents = [], []
    for axis, n in enumerate(shape):
        s = region[axis] if axis < len(region) else slice(None)
        if s.step not in (None, 1):
            raise ValueError(f"region slices must have step 1; axis {axis} has step {s.step!r}")
        bounds = []
        for value, default in ((s.start, 0), (s.stop, n)):
            if value is None:
                bounds.append(default)
                continue
            value = _integer(value, f"region[{axis}] bound")
            bounds.append(value + n if value < 0 else value)
        start, stop = bounds
        if not 0 <= start <= stop <= n:
            raise ValueError(
                f"region[{axis}] = {s!r} is out of bounds: it must give 0 <= start <= stop <= {n} "
                f"for axis {axis} of shape {shape}; got start={start}, stop={stop}"
            )
        starts.append(start)
        extents.append(stop - start)
    return tuple(starts), tuple(extents)


def check_no_self_overlap(out: np.ndarray) -> None:
    """ValueError if two elements of ``out`` may share memory.

    Writing such an array would make the result depend on which write lands
    last, i.e. on the thread count.  The test is the standard sufficient one:
    with the axes of extent > 1 sorted by ``|stride|``, each stride must clear
    the span of all smaller axes (``sum((n - 1) * |stride|) + itemsize``).
    Every layout NumPy's slicing, transposing and reshaping produce from a
    non-overlapping array passes (negative strides, Fortran order, gaps);
    zero strides, broadcast views and self-overlapping ``as_strided`` views fail.
    """
    if out.size <= 1:
        return
    axes = sorted((abs(st), n) for st, n in zip(out.strides, out.shape) if n > 1)
    if axes[0][0] == 0:
        raise ValueError(
            f"out has a zero stride (strides {out.strides}, shape {out.shape}): its elements "
            "overlap in memory (more than one element refers to a single memory location); "
            "pass an array whose elements are distinct"
        )
    span = out.itemsize
    for stride, n in axes:
        if stride < span:
            raise ValueError(
                f"out's elements may overlap in memory (strides {out.strides}, shape {out.shape}, "
                f"itemsize {out.itemsize}): an axis's stride {stride} is smaller than the "
                f"{span}-byte span of the axes with smaller strides, so more than one element can "
                "refer to a single memory location and the result would depend on the order of "
                "the writes; pass an array whose elements are distinct (e.g. a copy)"
            )
        span += (n - 1) * stride


class Target(NamedTuple):
    out: np.ndarray
    dtype: np.dtype
    logical_strides: tuple
    logical_offset: int


def as_target(shape, out, dtype, region) -> Target:
    """Resolve shape/out/dtype/region into the array to fill and its logical placement."""
    return _resolve_target(shape, out, dtype, region)[0]


def _resolve_target(shape, out, dtype, region):
    """``(Target, logical shape)``: :func:`as_target` and the full shape it checked."""
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray; got {type(out).__name__}")
        out_dtype = as_dtype(out.dtype)
        if dtype is not None and as_dtype(dtype) != out_dtype:
            raise TypeError(f"dtype={as_dtype(dtype).name} does not match out.dtype={out_dtype.name}")
        dtype = out_dtype
        if not out.flags.writeable:
            raise ValueError("out is read-only; pass a writable array")
        check_no_self_overlap(out)
    else:
        dtype = as_dtype(np.float32 if dtype is None else dtype)

    if shape is None:
        if out is None:
            raise TypeError("give shape or out (or both)")
        if region is not None:
            raise ValueError("region needs shape: the logical array's full shape")
        logical = out.shape
    else:
        logical = as_shape(shape)
    starts, extents = as_region(region, logical)

    if out is None:
        out = np.empty(extents, dtype=dtype)
    elif out.shape != extents:
        what = "region of shape" if region is not None else "shape"
        raise ValueError(f"out has shape {out.shape} but the {what} {logical} asks for {extents}")

    strides, acc = [], 1
    for n in reversed(logical):
        strides.append(acc)
        acc *= n
    strides = tuple(reversed(strides))
    offset = sum(s * st for s, st in zip(starts, strides))
    return Target(out, dtype, strides, offset), logical


def quoted(names):
    """'a', 'b', 'c': the allowed values as error messages list them."""
    return ", ".join(repr(name) for name in names)


def as_choice(value, name, allowed):
    """``value`` if it is one of the strings ``allowed``; TypeError/ValueError otherwise."""
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a string, one of {quoted(allowed)}; got {type(value).__name__} {value!r}"
        )
    if value not in allowed:
        raise ValueError(f"{name} must be one of {quoted(allowed)}; got {value!r}")
    return value


def as_logical_target(shape, out, dtype, region):
    """Validate the output arguments before anything else is computed.

    Returns the full logical shape (``out.shape`` when only ``out`` is given)
    and the resolved :class:`fastinit._validate.Target`; schemes pass
    ``target.out`` on to the core samplers so the array is allocated only once.
    """
    target, logical = _resolve_target(shape, out, dtype, region)   # the shape is checked once
    return logical, target
