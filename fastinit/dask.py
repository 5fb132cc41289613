r"""Dask integration: fastinit's schemes as lazily generated ``dask.array`` arrays.

Import it explicitly (``import fastinit`` never imports dask)::

    import fastinit.dask as fid

    w = fid.kaiming_normal((200_000, 50_000), chunks=(8192, 8192), seed=0)
    w.to_zarr("weights.zarr")          # generated block by block, never whole in memory

Every function takes the arguments of its NumPy namesake in :mod:`fastinit`
(``fid.normal(shape, mean, std, ...)``) without ``out`` and ``region``, plus
``chunks=`` (anything ``dask.array`` accepts: an int, a tuple per axis,
explicit block sizes, ``"auto"``, a dict).  Each block is produced by the
region API, ``fastinit.<scheme>(shape, ..., region=<the block>)``, so the
assembled array is **bit-identical** to the in-memory one for any chunking,
scheduler or worker count.  Chunks that do not tile the shape raise dask's
``ValueError`` ("Chunks do not add up to shape").

Arguments are validated when the array is built, not when it is computed.  A
``seed`` of None is drawn once, at build time, so all blocks share it.

Costs: a block of :func:`sparse` ranks the whole columns it touches (so a
column split into many row-chunks is ranked once per chunk); :func:`orthogonal`
needs a QR of the whole matrix, so it is computed once, in one task holding
the full array, and the blocks are cut from it.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.array.core import normalize_chunks
    from dask.base import tokenize
except ImportError as exc:   # dask is an optional extra
    raise ImportError("fastinit.dask needs Dask, which is not installed: "
                      "pip install 'fastinit[dask]'") from exc

import fastinit
from fastinit._registry import SCHEMES
from fastinit._validate import as_dtype, as_seed, as_shape, as_stream


def _fill_block(function_name, shape, arguments, dtype, block_info=None):
    """One block: the scheme's region API on the block's location in the full array."""
    location = block_info[None]["array-location"]
    region = tuple(slice(start, stop) for start, stop in location)
    function = SCHEMES[function_name].function
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # zero-element warnings were given at build time
        return function(shape, **arguments, dtype=dtype, region=region)


def _validate(function, shape, arguments, dtype):
    """Run the scheme on an empty block: every argument is checked, nothing is drawn."""
    region = tuple(slice(0, 0) for _ in shape) if shape else None
    function(shape, **arguments, dtype=dtype, region=region)


def _lazy(function_name, shape, arguments, *, chunks, dtype, seed=None, stream=None, random=True):
    function = SCHEMES[function_name].function
    shape = as_shape(shape)
    dtype = as_dtype(np.float32 if dtype is None else dtype)
    arguments = dict(arguments)
    if random:
        arguments["seed"] = as_seed(seed)           # drawn once: every block shares it
        arguments["stream"] = as_stream(stream)
    _validate(function, shape, arguments, dtype)
    chunks = normalize_chunks(chunks, shape, dtype=dtype)
    name = "fastinit-{}-{}".format(
        function_name.replace("_", "-"),
        tokenize(fastinit.STREAM_VERSION, function_name, shape, sorted(arguments.items()),
                 dtype.str, dtype.name, chunks),
    )
    meta = np.empty((0,) * len(shape), dtype=dtype)
    return da.map_blocks(_fill_block, function_name, shape, arguments, dtype, name=name,
                         chunks=chunks, dtype=dtype, meta=meta)


_COMMON = """\
    chunks : int, tuple, str or dict, optional
        Block sizes, as ``dask.array`` accepts them (default ``"auto"``).
    dtype : dtype, optional
        float32 (default), float64, float16 or bfloat16.
    seed : int, optional
        Key in ``[0, 2**64)``; None draws one (once, when the array is built).
    stream : int or str, optional
        Stream id or name."""

_DETERMINISTIC = """\
    chunks : int, tuple, str or dict, optional
        Block sizes, as ``dask.array`` accepts them (default ``"auto"``).
    dtype : dtype, optional
        float32 (default), float64, float16 or bfloat16."""

_RETURNS = """\
    Returns
    -------
    dask.array.Array
        Lazily generated; ``.compute()`` equals the in-memory
        ``fastinit.{name}`` bit for bit, whatever the chunks.

    Raises
    ------
    TypeError, ValueError
        As ``fastinit.{name}`` (raised when the array is built); ValueError
        for chunks that do not tile the shape."""


def _lazy_whole(function_name, shape, arguments, *, chunks, dtype, seed, stream):
    """A scheme whose blocks need the whole matrix (orthogonal's QR): one task computes it."""
    function = SCHEMES[function_name].function
    shape = as_shape(shape)
    dtype = as_dtype(np.float32 if dtype is None else dtype)
    arguments = {**arguments, "seed": as_seed(seed), "stream": as_stream(stream)}
    _validate(function, shape, arguments, dtype)
    chunks = normalize_chunks(chunks, shape, dtype=dtype)
    whole = dask.delayed(function, pure=True)(shape, **arguments, dtype=dtype)
    full = da.from_delayed(whole, shape=shape, dtype=dtype,
                           meta=np.empty((0,) * len(shape), dtype=dtype))
    return full.rechunk(chunks)


def _signature(info):
    """The NumPy function's, without ``out`` and ``region``: ``(shape, <its own positional
    parameters>, *, <its keyword-only ones>, chunks="auto", dtype=None[, seed=None, stream=0])``.
    A parameter the function requires through a None default (sparse's ``sparsity``) has no
    default here."""
    P = inspect.Parameter
    own = info.parameters
    required = set(info.required)
    parameters = [P("shape", P.POSITIONAL_OR_KEYWORD)]
    parameters += [p.replace(default=P.empty) if p.name in required else p
                   for p in own if p.kind == P.POSITIONAL_OR_KEYWORD]
    parameters += [p for p in own if p.kind == P.KEYWORD_ONLY]
    parameters += [P("chunks", P.KEYWORD_ONLY, default="auto"),
                   P("dtype", P.KEYWORD_ONLY, default=None)]
    if info.random:
        parameters += [P("seed", P.KEYWORD_ONLY, default=None),
                       P("stream", P.KEYWORD_ONLY, default=0)]
    return inspect.Signature(parameters)


def _docstring(info):
    also = f"  Also known as {', '.join(info.aliases)}." if info.aliases else ""
    cost = ("  A block needs the whole matrix: one task computes the whole array and the "
            "blocks are sliced from it." if info.whole_matrix else
            "  A block costs the whole columns it touches." if info.whole_columns else "")
    formula = f"  {info.formula}." if info.formula else ""
    return (f"{info.title} as a dask array.\n\n    Lazy version of :func:`fastinit.{info.name}`."
            f"{formula}{also}{cost}\n\n"
            f"    Parameters\n    ----------\n    shape : int or tuple of int\n"
            f"        Shape of the array.\n{info.parameter_docs()}"
            f"{_COMMON if info.random else _DETERMINISTIC}\n\n" + _RETURNS.format(name=info.name))


def _wrapper(info):
    """The lazy version of a registry scheme: its arguments checked at build time, its blocks
    generated by its region API (or, for a whole-matrix scheme, sliced from one task)."""
    signature = _signature(info)

    def wrapper(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{info.name}() {error}") from None
        bound.apply_defaults()
        given = bound.arguments
        arguments = {p.name: given[p.name] for p in info.parameters}
        options = {"chunks": given["chunks"], "dtype": given["dtype"]}
        if info.random:
            options.update(seed=given["seed"], stream=given["stream"])
        if info.whole_matrix:
            return _lazy_whole(info.name, given["shape"], arguments, **options)
        return _lazy(info.name, given["shape"], arguments, random=info.random, **options)

    wrapper.__name__ = wrapper.__qualname__ = info.name
    wrapper.__signature__ = signature
    wrapper.__doc__ = _docstring(info)
    return wrapper


# Every scheme of the registry, under each of its names (aliases are the same function).
_WRAPPERS = {info.name: _wrapper(info) for info in SCHEMES.values()}
globals().update({name: _WRAPPERS[info.name] for info in SCHEMES.values() for name in info.names})
__all__ = [name for info in SCHEMES.values() for name in info.names]
