"""Structured initializers: orthogonal, sparse, identity-like and constant arrays.

Each follows its ``torch.nn.init`` namesake.  The random ones take their
numbers from the core stream (:func:`fastinit.normal`, :func:`fastinit.random_raw`),
so they are pure functions of ``(seed, stream)`` and a ``region`` is always
the same block of the whole array.
"""

from __future__ import annotations

import math

import numpy as np

from ._docs import PARTS, fill_doc, render
from ._fans import _warn_if_empty
from ._sampling import constant, normal, random_raw
from ._validate import (
    _integer, as_logical_target, as_real, as_region, as_seed, as_stream, check_representable,
)

__all__ = ["orthogonal", "sparse", "eye", "dirac", "zeros", "ones"]

# sparse() ranks the rows of each column by raw words from this index on, so its
# choice of zeros never reuses a word of the values: a fill of fewer than 2**62
# elements (any dtype) reads only words below 2**63.
_SPARSE_KEY_WORDS_START = 1 << 63
# Columns are ranked in chunks of about this many elements, to bound the memory.
_SPARSE_CHUNK_ELEMENTS = 1 << 22


def _block_slices(region, shape):
    """The step-1 slices of ``region`` with explicit, non-negative bounds."""
    starts, extents = as_region(region, shape)
    return tuple(slice(start, start + extent) for start, extent in zip(starts, extents))


@fill_doc
def orthogonal(shape=None, gain=1.0, *, out=None, dtype=None, seed=None, stream=0, region=None):
    r"""A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_``.

    The array is viewed as a matrix of ``rows = shape[0]`` by
    ``cols = prod(shape[1:])``.  With :math:`A` that matrix of standard normal
    samples (transposed when ``rows < cols``) and :math:`A = QR` its reduced QR
    decomposition,

    .. math::

        W = \text{gain} \cdot Q \, \operatorname{diag}(\operatorname{sign} R_{ii})

    (transposed back when ``rows < cols``).  Multiplying by the signs of
    :math:`R`'s diagonal makes :math:`Q` Haar-distributed (Mezzadri, 2007).
    The rows of :math:`W / \text{gain}` are orthonormal when ``rows <= cols``,
    its columns when ``rows >= cols``.

    Also known as ``jax.nn.initializers.orthogonal`` and Keras ``Orthogonal``,
    which flatten the other way (``(prod(shape[:-1]), shape[-1])``); see
    ``docs/schemes.md``.

    :math:`A` is ``fastinit.normal((rows, cols), dtype=float64, seed=seed,
    stream=stream)``; QR runs in float64 and the result is rounded once to
    the output dtype, so float32 output is the float64 output rounded.

    Parameters
    ----------
    shape : int or tuple of int, optional
        Shape of the array, at least 2-D (trailing dimensions are flattened).
        Optional when ``out`` is given.
    gain : float, optional
        Finite multiplier.
    out, dtype, seed, stream, region
        As in :func:`fastinit.normal`.  A ``region`` still costs the whole
        matrix: the full :math:`A` is drawn and factorized (``O(rows * cols *
        min(rows, cols))`` time, ``rows * cols`` float64 memory, twice) and the
        block is cut out of it, so it equals ``orthogonal(shape, ...)[region]``.

{array_returns}  A zero-element array is
        returned as is.

    Raises
    ------
    TypeError
        Non-real ``gain``, unsupported dtype, non-integer seed/stream.
    ValueError
        A shape with fewer than 2 dimensions, non-finite ``gain`` (or one
        outside the dtype's range), bad ``out``/region/seed/stream.

    Notes
    -----
    The QR is NumPy's (LAPACK ``geqrf``).  Results are reproducible with the
    same NumPy/LAPACK build, but unlike the other fills they are not
    guaranteed bit-identical across BLAS/LAPACK implementations.

    References
    ----------
    .. [1] A. M. Saxe, J. L. McClelland and S. Ganguli, "Exact solutions to the
       nonlinear dynamics of learning in deep linear neural networks", 2013,
       arXiv:1312.6120.
    .. [2] F. Mezzadri, "How to generate random matrices from the classical
       compact groups", 2007, arXiv:math-ph/0609050.

    Examples
    --------
    >>> import numpy as np
    >>> import fastinit as fi
    >>> w = fi.orthogonal((64, 256), seed=0)
    >>> bool(np.allclose(w @ w.T, np.eye(64), atol=1e-5))
    True
    """
    gain = as_real(gain, "gain")
    seed, stream = as_seed(seed), as_stream(stream)
    logical, target = as_logical_target(shape, out, dtype, region)
    if len(logical) < 2:
        raise ValueError(
            f"orthogonal needs a shape with at least 2 dimensions; got shape {logical}"
        )
    check_representable(target.dtype, gain=gain)
    if 0 in logical or target.out.size == 0:   # torch: a silent no-op
        return target.out
    rows = logical[0]
    cols = math.prod(logical[1:])
    gaussian = normal((rows, cols), 0.0, 1.0, dtype=np.float64, seed=seed, stream=stream)
    wide = rows < cols
    if wide:                    # factor the tall orientation so Q has the full shape
        gaussian = gaussian.T
    q, r = np.linalg.qr(gaussian)
    # torch multiplies by sign(diag(R)), which is 0 for an (improbable) exactly
    # zero diagonal entry; +1 keeps Q orthogonal in that case too.
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if wide:
        q = q.T
    q *= gain
    target.out[...] = q.reshape(logical)[_block_slices(region, logical)]
    return target.out


@fill_doc
def sparse(shape=None, sparsity=None, std=0.01, *, out=None, dtype=None, seed=None, stream=0,
           region=None):
    r"""A sparse 2-D matrix, as ``torch.nn.init.sparse_``.

    In every column exactly :math:`k = \lceil \text{sparsity} \cdot \text{rows} \rceil`
    entries are zero; the others are

    .. math::

        W_{ij} \sim \mathcal{N}(0, \text{std}^2).

    The values are ``fastinit.normal(shape, 0, std, seed=seed, stream=stream)``
    (so a kept entry is the same number as in the dense fill).  Which rows of
    column :math:`j` are zeroed is a function of ``(seed, stream, j)`` only:
    row :math:`i` gets the key ``random_raw(1, seed=seed, stream=stream,
    start=2**63 + j*rows + i)`` and the :math:`k` smallest keys of the column
    are zeroed, ties going to the lower row.  Keys are raw words at indices
    :math:`\ge 2^{63}`, which no fill of fewer than :math:`2^{62}` elements
    reads, so they are independent of the values.  A ``region`` ranks the
    whole columns it touches (``rows`` keys each) and equals
    ``sparse(shape, ...)[region]``.

    Parameters
    ----------
    shape : tuple of int, optional
        ``(rows, cols)``.  Optional when ``out`` is given.
    sparsity : float
        Fraction of each column to zero, in ``[0, 1]`` (required).
    std : float, optional
        Standard deviation of the non-zero entries, ``>= 0``.
    out, dtype, seed, stream, region
        As in :func:`fastinit.normal`.

{array_returns}  A zero-element array is
        returned as is, with a warning.

    Raises
    ------
    TypeError
        Missing or non-real ``sparsity``/``std``, and as :func:`fastinit.normal`.
    ValueError
        ``sparsity`` outside ``[0, 1]``, a shape that is not 2-D, and as
        :func:`fastinit.normal`.

    References
    ----------
    .. [1] J. Martens, "Deep learning via Hessian-free optimization", ICML 2010.

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.sparse((100, 20), sparsity=0.9, seed=0)
    >>> (w == 0).sum(axis=0).tolist() == [90] * 20
    True
    """
    if sparsity is None:
        raise TypeError("sparsity is required: the fraction of each column to zero, in [0, 1]")
    sparsity = as_real(sparsity, "sparsity")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparsity must be in [0, 1]; got {sparsity}")
    std = as_real(std, "std")
    seed, stream = as_seed(seed), as_stream(stream)   # one seed for both values and keys
    logical, target = as_logical_target(shape, out, dtype, region)
    if len(logical) != 2:
        raise ValueError(f"sparse needs a 2-D shape (rows, cols); got shape {logical}")
    if _warn_if_empty(logical, stacklevel=2):
        return target.out
    # Checks std against the dtype even for an empty region (fastinit.dask validates with one).
    normal(logical, 0.0, std, out=target.out, seed=seed, stream=stream, region=region)
    if target.out.size == 0:
        return target.out

    rows, cols = logical
    zeros_per_column = math.ceil(sparsity * rows)   # torch's count, float rounding included
    if zeros_per_column == 0:
        return target.out
    row_block, col_block = _block_slices(region, logical)
    chunk = max(1, _SPARSE_CHUNK_ELEMENTS // rows)
    for first in range(col_block.start, col_block.stop, chunk):
        stop = min(first + chunk, col_block.stop)
        zeroed = _zeroed_rows(seed, stream, rows, first, stop, zeros_per_column)
        block = target.out[:, first - col_block.start:stop - col_block.start]
        block[zeroed[row_block]] = 0
    return target.out


def _zeroed_rows(seed, stream, rows, first_col, stop_col, k):
    """Boolean (rows, stop_col - first_col) mask of the entries sparse() zeroes.

    Column j's keys are the consecutive words 2**63 + j*rows + (0 .. rows-1),
    so a run of columns is one random_raw call.  Its k smallest keys are
    zeroed; among keys equal to the k-th smallest, the lowest rows are taken.
    """
    width = stop_col - first_col
    keys = random_raw(rows * width, seed=seed, stream=stream,
                      start=_SPARSE_KEY_WORDS_START + first_col * rows).reshape(width, rows)
    kth_smallest = np.partition(keys, k - 1, axis=1)[:, k - 1:k]
    below = keys < kth_smallest
    tied = keys == kth_smallest
    ties_to_take = k - below.sum(axis=1, keepdims=True)
    zeroed = below | (tied & (np.cumsum(tied, axis=1) <= ties_to_take))
    return zeroed.T


@fill_doc
def eye(shape=None, *, out=None, dtype=None, region=None):
    r"""The identity matrix, as ``torch.nn.init.eye_``.

    .. math::

        W_{ij} = \begin{cases} 1 & i = j \\ 0 & \text{otherwise} \end{cases}

    For a non-square shape, the leading square block is the identity and the
    rest is zero (as many inputs as possible are preserved by a ``Linear``
    layer).  Also known as Keras ``Identity`` (which multiplies by a gain).

    Parameters
    ----------
    shape : tuple of int, optional
        ``(rows, cols)``.  Optional when ``out`` is given.
{constant_fill_params}

{array_returns}

    Raises
    ------
    TypeError
        Unsupported dtype, bad ``out``.
    ValueError
        A shape that is not 2-D, bad ``out`` or region.

    Examples
    --------
    >>> import fastinit as fi
    >>> fi.eye((2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    logical, target = as_logical_target(shape, out, dtype, region)
    if len(logical) != 2:
        raise ValueError(f"eye needs a 2-D shape (rows, cols); got shape {logical}")
    if target.out.size == 0:
        return target.out
    constant(logical, 0.0, out=target.out, region=region)
    row_block, col_block = _block_slices(region, logical)
    diagonal = np.arange(max(row_block.start, col_block.start), min(row_block.stop, col_block.stop))
    target.out[diagonal - row_block.start, diagonal - col_block.start] = 1
    return target.out


@fill_doc
def dirac(shape=None, groups=1, *, out=None, dtype=None, region=None):
    r"""The Dirac delta of a convolution kernel, as ``torch.nn.init.dirac_``.

    For a kernel of shape ``(out_channels, in_channels, *spatial)`` with
    ``p = out_channels / groups`` output channels per group,

    .. math::

        W[g p + d,\, d,\, \lfloor s_1/2 \rfloor, \ldots] = 1
        \quad (0 \le g < \text{groups},\ 0 \le d < \min(p, \text{in\_channels}))

    and every other entry is 0: a convolution with it passes as many input
    channels through unchanged as possible, within each group.

    Also known as the delta (identity) initialization of convolutions.

    Parameters
    ----------
    shape : tuple of int, optional
        3-, 4- or 5-D kernel shape (PyTorch layout).  Optional when ``out``
        is given.
    groups : int, optional
        Number of convolution groups, ``>= 1``, dividing ``shape[0]``.
{constant_fill_params}

{array_returns}

    Raises
    ------
    TypeError
        Non-integer ``groups``, unsupported dtype, bad ``out``.
    ValueError
        A shape that is not 3-, 4- or 5-D, ``groups < 1`` or not dividing
        ``shape[0]``, bad ``out`` or region.

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.dirac((2, 2, 3))
    >>> w[:, :, 1].tolist(), float(w.sum())
    ([[1.0, 0.0], [0.0, 1.0]], 2.0)
    """
    groups = _integer(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be >= 1; got {groups}")
    logical, target = as_logical_target(shape, out, dtype, region)
    if len(logical) not in (3, 4, 5):
        raise ValueError(f"dirac needs a 3-, 4- or 5-D shape; got shape {logical}")
    out_channels, in_channels = logical[:2]
    if out_channels % groups:
        raise ValueError(
            f"groups must divide the number of output channels (shape[0] = {out_channels}); "
            f"got groups={groups}"
        )
    if target.out.size == 0:
        return target.out
    constant(logical, 0.0, out=target.out, region=region)

    per_group = out_channels // groups
    channel = np.arange(min(per_group, in_channels))
    out_index = (np.arange(groups)[:, None] * per_group + channel).ravel()
    in_index = np.tile(channel, groups)
    centre = [np.full_like(out_index, size // 2) for size in logical[2:]]
    ones_at = (out_index, in_index, *centre)
    block = _block_slices(region, logical)
    inside = np.logical_and.reduce(
        [(index >= s.start) & (index < s.stop) for index, s in zip(ones_at, block)]
    )
    target.out[tuple(index[inside] - s.start for index, s in zip(ones_at, block))] = 1
    return target.out


_FILLED_DOC = r"""Fill an array with {what} (in parallel), as ``torch.nn.init.{what}_``.

    .. math:: W_{ij\ldots} = {value}

    Also known as ``jax.nn.initializers.{what}`` and Keras ``{keras}``.

    Parameters
    ----------
    shape : int or tuple of int, optional
        Shape of the array.  Optional when ``out`` is given.
{constant_fill_params}

{array_returns}

    Raises
    ------
    TypeError, ValueError
        As :func:`fastinit.constant`.

    Examples
    --------
    >>> import fastinit as fi
    >>> {example}
    {result}
    """


def _filled(value, what, example, result):
    """The public ``zeros``/``ones``: :func:`constant` of ``value``, documented from one text."""
    def fill(shape=None, *, out=None, dtype=None, region=None):
        return constant(shape, value, out=out, dtype=dtype, region=region)

    fill.__name__ = fill.__qualname__ = what
    fill.__doc__ = render(_FILLED_DOC, PARTS, what=what, value=str(int(value)),
                          keras=what.capitalize(), example=example, result=result)
    return fill


zeros = _filled(0.0, "zeros", "fi.zeros((2, 2)).tolist()", "[[0.0, 0.0], [0.0, 0.0]]")
ones = _filled(1.0, "ones", 'fi.ones(3, dtype="bfloat16").astype(float).tolist()', "[1.0, 1.0, 1.0]")
