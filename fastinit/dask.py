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
from fastinit._validate import as_dtype, as_seed, as_shape, as_stream

__all__ = [
    "uniform", "normal", "trunc_normal", "constant", "zeros", "ones", "eye", "dirac",
    "xavier_uniform", "xavier_normal", "glorot_uniform", "glorot_normal",
    "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal", "variance_scaling", "orthogonal", "sparse",
]


def _fill_block(function_name, shape, arguments, dtype, block_info=None):
    """One block: the scheme's region API on the block's location in the full array."""
    location = block_info[None]["array-location"]
    region = tuple(slice(start, stop) for start, stop in location)
    function = getattr(fastinit, function_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # zero-element warnings were given at build time
        return function(shape, **arguments, dtype=dtype, region=region)


def _validate(function, shape, arguments, dtype):
    """Run the scheme on an empty block: every argument is checked, nothing is drawn."""
    region = tuple(slice(0, 0) for _ in shape) if shape else None
    function(shape, **arguments, dtype=dtype, region=region)


def _lazy(function_name, shape, arguments, *, chunks, dtype, seed=None, stream=None, random=True):
    function = getattr(fastinit, function_name)
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


def _document(function, summary, formula="", parameters=""):
    name = function.__name__
    function.__doc__ = (
        f"{summary}\n\n    Lazy version of :func:`fastinit.{name}`.{formula}\n\n"
        f"    Parameters\n    ----------\n    shape : int or tuple of int\n"
        f"        Shape of the array.\n{parameters}{_COMMON if 'seed' in function.__code__.co_varnames else _DETERMINISTIC}\n\n"
        + _RETURNS.format(name=name)
    )
    return function


_DETERMINISTIC = """\
    chunks : int, tuple, str or dict, optional
        Block sizes, as ``dask.array`` accepts them (default ``"auto"``).
    dtype : dtype, optional
        float32 (default), float64, float16 or bfloat16."""


def uniform(shape, low=0.0, high=1.0, *, chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("uniform", shape, {"low": low, "high": high}, chunks=chunks, dtype=dtype, seed=seed,
                 stream=stream)


def normal(shape, mean=0.0, std=1.0, *, chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("normal", shape, {"mean": mean, "std": std}, chunks=chunks, dtype=dtype, seed=seed,
                 stream=stream)


def trunc_normal(shape, mean=0.0, std=1.0, a=-2.0, b=2.0, *, chunks="auto", dtype=None, seed=None,
                 stream=0):
    return _lazy("trunc_normal", shape, {"mean": mean, "std": std, "a": a, "b": b}, chunks=chunks,
                 dtype=dtype, seed=seed, stream=stream)


def constant(shape, value=0.0, *, chunks="auto", dtype=None):
    return _lazy("constant", shape, {"value": value}, chunks=chunks, dtype=dtype, random=False)


def zeros(shape, *, chunks="auto", dtype=None):
    return _lazy("zeros", shape, {}, chunks=chunks, dtype=dtype, random=False)


def ones(shape, *, chunks="auto", dtype=None):
    return _lazy("ones", shape, {}, chunks=chunks, dtype=dtype, random=False)


def eye(shape, *, chunks="auto", dtype=None):
    return _lazy("eye", shape, {}, chunks=chunks, dtype=dtype, random=False)


def dirac(shape, groups=1, *, chunks="auto", dtype=None):
    return _lazy("dirac", shape, {"groups": groups}, chunks=chunks, dtype=dtype, random=False)


def xavier_uniform(shape, gain=1.0, *, in_axis=1, out_axis=0, chunks="auto", dtype=None, seed=None,
                   stream=0):
    return _lazy("xavier_uniform", shape, {"gain": gain, "in_axis": in_axis, "out_axis": out_axis},
                 chunks=chunks, dtype=dtype, seed=seed, stream=stream)


def xavier_normal(shape, gain=1.0, *, in_axis=1, out_axis=0, chunks="auto", dtype=None, seed=None,
                  stream=0):
    return _lazy("xavier_normal", shape, {"gain": gain, "in_axis": in_axis, "out_axis": out_axis},
                 chunks=chunks, dtype=dtype, seed=seed, stream=stream)


def kaiming_uniform(shape, a=0, mode="fan_in", nonlinearity="leaky_relu", *, in_axis=1, out_axis=0,
                    chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("kaiming_uniform", shape,
                 {"a": a, "mode": mode, "nonlinearity": nonlinearity, "in_axis": in_axis,
                  "out_axis": out_axis}, chunks=chunks, dtype=dtype, seed=seed, stream=stream)


def kaiming_normal(shape, a=0, mode="fan_in", nonlinearity="leaky_relu", *, in_axis=1, out_axis=0,
                   chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("kaiming_normal", shape,
                 {"a": a, "mode": mode, "nonlinearity": nonlinearity, "in_axis": in_axis,
                  "out_axis": out_axis}, chunks=chunks, dtype=dtype, seed=seed, stream=stream)


def lecun_uniform(shape, *, in_axis=1, out_axis=0, chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("lecun_uniform", shape, {"in_axis": in_axis, "out_axis": out_axis}, chunks=chunks,
                 dtype=dtype, seed=seed, stream=stream)


def lecun_normal(shape, *, in_axis=1, out_axis=0, chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("lecun_normal", shape, {"in_axis": in_axis, "out_axis": out_axis}, chunks=chunks,
                 dtype=dtype, seed=seed, stream=stream)


def variance_scaling(shape, scale=1.0, mode="fan_in", distribution="truncated_normal", *, in_axis=1,
                     out_axis=0, chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("variance_scaling", shape,
                 {"scale": scale, "mode": mode, "distribution": distribution, "in_axis": in_axis,
                  "out_axis": out_axis}, chunks=chunks, dtype=dtype, seed=seed, stream=stream)


def sparse(shape, sparsity, std=0.01, *, chunks="auto", dtype=None, seed=None, stream=0):
    return _lazy("sparse", shape, {"sparsity": sparsity, "std": std}, chunks=chunks, dtype=dtype,
                 seed=seed, stream=stream)


def orthogonal(shape, gain=1.0, *, chunks="auto", dtype=None, seed=None, stream=0):
    shape = as_shape(shape)
    dtype = as_dtype(np.float32 if dtype is None else dtype)
    arguments = {"gain": gain, "seed": as_seed(seed), "stream": as_stream(stream)}
    _validate(fastinit.orthogonal, shape, arguments, dtype)
    chunks = normalize_chunks(chunks, shape, dtype=dtype)
    # The QR needs the whole matrix: one task computes it, the blocks are slices of it.
    whole = dask.delayed(fastinit.orthogonal, pure=True)(shape, **arguments, dtype=dtype)
    full = da.from_delayed(whole, shape=shape, dtype=dtype,
                           meta=np.empty((0,) * len(shape), dtype=dtype))
    return full.rechunk(chunks)


glorot_uniform = xavier_uniform
glorot_normal = xavier_normal
he_uniform = kaiming_uniform
he_normal = kaiming_normal

_document(uniform, r"Samples of :math:`\mathcal{U}(\text{low}, \text{high})` as a dask array.",
          parameters="    low, high : float\n        Bounds, ``low <= high``.\n")
_document(normal, r"Samples of :math:`\mathcal{N}(\text{mean}, \text{std}^2)` as a dask array.",
          parameters="    mean, std : float\n        Mean and standard deviation.\n")
_document(trunc_normal, r"A normal truncated to :math:`[a, b]` (absolute bounds) as a dask array.",
          parameters="    mean, std, a, b : float\n        As in :func:`fastinit.trunc_normal`.\n")
_document(constant, "A constant array as a dask array.",
          parameters="    value : float\n        The value.\n")
_document(zeros, "Zeros as a dask array.")
_document(ones, "Ones as a dask array.")
_document(eye, r"The identity matrix (:math:`W_{ij} = [i = j]`) as a dask array.")
_document(dirac, "The Dirac delta of a convolution kernel as a dask array.",
          parameters="    groups : int\n        Number of convolution groups.\n")
_document(xavier_uniform,
          "Xavier (Glorot) uniform initialization as a dask array.",
          r"  :math:`\mathcal{U}(\pm\ell)`, :math:`\ell = \text{gain}\sqrt{6/(\text{fan\_in}+\text{fan\_out})}`,"
          " fans from the full shape.  Also known as glorot_uniform.",
          "    gain : float\n        Gain.\n    in_axis, out_axis : int\n        Fan layout.\n")
_document(xavier_normal,
          "Xavier (Glorot) normal initialization as a dask array.",
          r"  :math:`\mathcal{N}(0, \sigma^2)`, :math:`\sigma = \text{gain}\sqrt{2/(\text{fan\_in}+\text{fan\_out})}`."
          "  Also known as glorot_normal.",
          "    gain : float\n        Gain.\n    in_axis, out_axis : int\n        Fan layout.\n")
_document(kaiming_uniform,
          "Kaiming (He) uniform initialization as a dask array.",
          r"  :math:`\mathcal{U}(\pm\ell)`, :math:`\ell = \text{gain}\sqrt{3/\text{fan\_mode}}`."
          "  Also known as he_uniform.",
          "    a, mode, nonlinearity\n        As in :func:`fastinit.kaiming_uniform`.\n"
          "    in_axis, out_axis : int\n        Fan layout.\n")
_document(kaiming_normal,
          "Kaiming (He) normal initialization as a dask array.",
          r"  :math:`\mathcal{N}(0, \sigma^2)`, :math:`\sigma = \text{gain}/\sqrt{\text{fan\_mode}}`."
          "  Also known as he_normal.",
          "    a, mode, nonlinearity\n        As in :func:`fastinit.kaiming_normal`.\n"
          "    in_axis, out_axis : int\n        Fan layout.\n")
_document(lecun_uniform, "LeCun uniform initialization as a dask array.",
          r"  :math:`\mathcal{U}(\pm\sqrt{3/\text{fan\_in}})`.",
          "    in_axis, out_axis : int\n        Fan layout.\n")
_document(lecun_normal, "LeCun (truncated) normal initialization as a dask array.",
          r"  Variance :math:`1/\text{fan\_in}`.",
          "    in_axis, out_axis : int\n        Fan layout.\n")
_document(variance_scaling, "Variance-scaling initialization as a dask array.",
          r"  Variance :math:`\text{scale}/n`, :math:`n` the fan named by ``mode``.",
          "    scale, mode, distribution\n        As in :func:`fastinit.variance_scaling`.\n"
          "    in_axis, out_axis : int\n        Fan layout.\n")
_document(sparse, "A sparse 2-D matrix (exact zeros per column) as a dask array.",
          "  A block ranks the whole columns it touches.",
          "    sparsity : float\n        Fraction of each column set to zero.\n"
          "    std : float\n        Standard deviation of the non-zero entries.\n")
_document(orthogonal, "A (semi-)orthogonal matrix times ``gain`` as a dask array.",
          "  The QR needs the whole matrix: one task computes it (``rows * cols`` float64,"
          " twice) and the blocks are sliced from it.",
          "    gain : float\n        Multiplier.\n")
