"""orthogonal, sparse, eye, dirac, zeros, ones.

* eye and dirac: exactly torch's output, for several shapes and groups.
* orthogonal: rows or columns orthonormal times gain, for wide, tall, square
  and flattened 3-D+ shapes; the documented algorithm on fi.normal's matrix.
* sparse: exactly ceil(sparsity * rows) zeros per column, the others the
  dense normal fill's values with std ~ std, the choice of rows uniform.
* region == full[region] bit for bit, everywhere.
* Bad input raises and writes nothing.
"""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest

import fastinit as fi
import fastinit._structured as structured
from _util import optional_module, requires

# torch is optional: only the tests comparing with torch need it (see _util).
torch = optional_module("torch")
needs_torch = requires("torch")

BF16 = np.dtype(ml_dtypes.bfloat16)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        np.ascontiguousarray(a).view(uint), np.ascontiguousarray(b).view(uint))


# ------------------------------------------------------------------------- eye, dirac

EYE_SHAPES = [(1, 1), (3, 3), (3, 5), (5, 3), (1, 7), (7, 1), (64, 48), (2, 100)]


@needs_torch
@pytest.mark.parametrize("shape", EYE_SHAPES, ids=str)
def test_eye_equals_torch(shape):
    expected = torch.nn.init.eye_(torch.empty(shape)).numpy()
    assert same_bits(fi.eye(shape), expected)
    out = np.full(shape, 7.0, dtype=np.float64)
    assert fi.eye(out=out) is out
    np.testing.assert_array_equal(out, expected)


DIRAC_CASES = [
    ((4, 4, 3), 1), ((6, 3, 5), 1), ((3, 6, 1), 1), ((6, 2, 4), 2), ((6, 6, 3), 3),
    ((8, 4, 3, 3), 1), ((8, 4, 3, 3), 2), ((8, 8, 2, 4), 4), ((5, 2, 1, 1), 5), ((4, 3, 5, 4), 1),
    ((4, 4, 3, 3, 3), 1), ((6, 3, 2, 3, 4), 3), ((4, 1, 1, 1, 1), 2),
]


@needs_torch
@pytest.mark.parametrize("shape, groups", DIRAC_CASES, ids=str)
def test_dirac_equals_torch(shape, groups):
    expected = torch.nn.init.dirac_(torch.empty(shape), groups=groups).numpy()
    assert same_bits(fi.dirac(shape, groups), expected)
    out = np.full(shape, np.nan, dtype=np.float16)
    assert fi.dirac(out=out, groups=groups) is out
    np.testing.assert_array_equal(out.astype(np.float32), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, BF16])
def test_eye_dirac_regions_are_blocks(dtype):
    for shape in [(9, 5), (5, 9), (6, 6)]:
        full = fi.eye(shape, dtype=dtype)
        for region in [(slice(1, 4), slice(2, 5)), (slice(3, None),), (slice(0, 0),),
                       (slice(None), slice(4, 5))]:
            assert same_bits(fi.eye(shape, dtype=dtype, region=region), full[region])
    for shape, groups in [((8, 4, 3, 3), 2), ((6, 3, 2, 3, 4), 3), ((6, 2, 5), 2)]:
        full = fi.dirac(shape, groups, dtype=dtype)
        for region in [(slice(1, 5), slice(0, 2), slice(1, 2)), (slice(3, None),),
                       (slice(None), slice(1, 2))]:
            block = fi.dirac(shape, groups, dtype=dtype, region=region)
            assert same_bits(block, full[region])


@pytest.mark.parametrize("fill, value", [(fi.zeros, 0.0), (fi.ones, 1.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, BF16])
def test_zeros_ones(fill, value, dtype):
    w = fill((5, 7, 3), dtype=dtype)
    assert w.dtype == np.dtype(dtype) and w.shape == (5, 7, 3)
    assert np.all(w.astype(np.float64) == value)
    assert same_bits(w, np.full((5, 7, 3), value, dtype=dtype))
    out = np.full((4, 6), 3.0, dtype=dtype).T
    assert fill(out=out) is out and np.all(out.astype(np.float64) == value)
    assert fill((5, 7), dtype=dtype, region=(slice(1, 3),)).shape == (2, 7)
    assert np.all(fill(1000, dtype=dtype).astype(np.float64) == value)


@needs_torch
def test_zeros_ones_equal_torch():
    for fill, torch_fill in [(fi.zeros, torch.nn.init.zeros_), (fi.ones, torch.nn.init.ones_)]:
        assert same_bits(fill((3, 4, 5)), torch_fill(torch.empty(3, 4, 5)).numpy())


@pytest.mark.parametrize("call", [
    lambda: fi.eye((0, 3)), lambda: fi.eye((3, 0)), lambda: fi.dirac((0, 3, 3)),
    lambda: fi.dirac((4, 0, 3, 3), groups=2), lambda: fi.dirac((2, 2, 0)),
    lambda: fi.zeros((0, 4)), lambda: fi.ones((3, 0, 2)),
    lambda: fi.orthogonal((0, 4), seed=1), lambda: fi.orthogonal((4, 3, 0), seed=1),
])
def test_zero_element_structured_fills_are_no_ops(call):
    w = call()
    assert w.size == 0


@pytest.mark.parametrize("fill, shape", [
    (fi.eye, (0, 3)), (fi.dirac, (0, 2, 3)), (fi.zeros, (2, 0)), (fi.ones, (0,)),
    (lambda **k: fi.orthogonal(seed=1, **k), (3, 0, 2)),
])
def test_zero_element_out_is_returned(fill, shape):
    out = np.empty(shape, dtype=np.float32)
    assert fill(out=out) is out


# --------------------------------------------------------------------------- orthogonal

ORTHOGONAL_SHAPES = [(8, 8), (5, 40), (40, 5), (1, 10), (10, 1), (16, 4, 3, 3), (6, 3, 2, 2, 2),
                     (3, 2, 5), (200, 50)]


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("shape", ORTHOGONAL_SHAPES, ids=str)
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    for dtype, tol in [(np.float32, 5e-6), (np.float64, 1e-12)]:
        w = fi.orthogonal(shape, gain, dtype=dtype, seed=3)
        assert w.shape == shape and w.dtype == np.dtype(dtype)
        m = w.reshape(shape[0], -1).astype(np.float64)
        rows, cols = m.shape
        gram = m @ m.T if rows <= cols else m.T @ m
        np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=tol * gain ** 2)


def test_orthogonal_is_the_documented_algorithm_on_fi_normal():
    # torch's algorithm, with the normal matrix from fi.normal(float64, seed, stream).
    for shape in [(6, 20), (20, 6), (4, 3, 3)]:
        rows, cols = shape[0], math.prod(shape[1:])
        a = fi.normal((rows, cols), dtype=np.float64, seed=42, stream=5)
        a = a.T if rows < cols else a
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        q = q.T if rows < cols else q
        expected = (1.5 * q).reshape(shape)
        assert same_bits(fi.orthogonal(shape, 1.5, dtype=np.float64, seed=42, stream=5), expected)


def test_orthogonal_float32_is_float64_rounded_once():
    w64 = fi.orthogonal((30, 50), seed=8, dtype=np.float64)
    assert same_bits(fi.orthogonal((30, 50), seed=8), w64.astype(np.float32))
    assert same_bits(fi.orthogonal((30, 50), seed=8, dtype=BF16), w64.astype(BF16))


def test_orthogonal_is_haar_distributed():
    # The sign correction makes Q Haar: then an entry of a random n x n orthogonal
    # matrix times sqrt(n) is close to N(0, 1), and diag(Q) has no sign bias
    # (without the correction, QR from LAPACK gives diag(R) < 0 and biased diag(Q)).
    n = 64
    diagonals = np.concatenate([np.diag(fi.orthogonal((n, n), seed=s, dtype=np.float64))
                                for s in range(40)])
    assert abs(diagonals.mean()) * math.sqrt(n) < 5 / math.sqrt(diagonals.size)
    entries = fi.orthogonal((512, 512), seed=0, dtype=np.float64).ravel() * math.sqrt(512)
    assert entries.std() == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_orthogonal_region_is_the_block(dtype):
    shape = (12, 5, 3)
    full = fi.orthogonal(shape, 0.5, dtype=dtype, seed=2, stream=9)
    for region in [(slice(2, 7), slice(1, 4)), (slice(11, 12),), (slice(None), slice(None), slice(2, 3))]:
        assert same_bits(fi.orthogonal(shape, 0.5, dtype=dtype, seed=2, stream=9, region=region), full[region])
    out = np.empty((5, 4, 3), dtype=dtype)
    assert fi.orthogonal(shape, 0.5, out=out, seed=2, stream=9, region=(slice(3, 8), slice(1, 5))) is out
    assert same_bits(out, full[3:8, 1:5])


def test_orthogonal_seed_and_stream_select_the_matrix():
    a = fi.orthogonal((10, 10), seed=1)
    assert same_bits(a, fi.orthogonal((10, 10), seed=1))
    assert not np.array_equal(a, fi.orthogonal((10, 10), seed=1, stream=1))
    assert not np.array_equal(a, fi.orthogonal((10, 10), seed=2))


# ------------------------------------------------------------------------------ sparse

@pytest.mark.parametrize("rows, sparsity", [(10, 0.0), (10, 0.1), (10, 0.3), (37, 0.5), (37, 0.99),
                                            (37, 1.0), (1, 0.5), (100, 0.9), (3, 1 / 3)])
def test_sparse_zeros_exactly_ceil_sparsity_rows_per_column(rows, sparsity):
    w = fi.sparse((rows, 50), sparsity, seed=4)
    zeros = math.ceil(sparsity * rows)     # torch's count, float rounding included (0.3*10 -> 4)
    np.testing.assert_array_equal((w == 0).sum(axis=0), np.full(50, zeros))
    dense = fi.normal((rows, 50), 0.0, 0.01, seed=4)
    kept = w != 0
    assert same_bits(w[kept], dense[kept]), "kept entries must be the dense fill's values"


@needs_torch
def test_sparse_matches_torch_zero_count():
    for rows, sparsity in [(10, 0.3), (7, 0.5), (100, 0.25), (9, 0.1)]:
        t = torch.nn.init.sparse_(torch.empty(rows, 20), sparsity)
        assert np.array_equal((fi.sparse((rows, 20), sparsity, seed=1) == 0).sum(axis=0),
                              (t.numpy() == 0).sum(axis=0))


def test_sparse_nonzero_std():
    w = fi.sparse((1000, 2100), 0.5, std=0.02, seed=6)
    kept = w[w != 0]
    assert kept.size == 500 * 2100 >= 10 ** 6
    assert float(kept.std()) == pytest.approx(0.02, rel=0.01)
    assert abs(float(kept.mean())) < 5 * 0.02 / math.sqrt(kept.size)


def test_sparse_choice_of_rows_is_uniform():
    rows, cols, sparsity = 40, 20_000, 0.25
    per_row = (fi.sparse((rows, cols), sparsity, seed=12) == 0).sum(axis=1)
    p = math.ceil(sparsity * rows) / rows
    expected, sd = cols * p, math.sqrt(cols * p * (1 - p))
    assert np.all(np.abs(per_row - expected) < 6 * sd), per_row


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.float64])
def test_sparse_region_is_the_block(dtype):
    shape = (30, 50)
    full = fi.sparse(shape, 0.4, std=1.0, dtype=dtype, seed=13, stream=3)
    for region in [(slice(5, 20), slice(7, 33)), (slice(29, 30),), (slice(None), slice(49, 50)),
                   (slice(0, 0),)]:
        block = fi.sparse(shape, 0.4, std=1.0, dtype=dtype, seed=13, stream=3, region=region)
        assert same_bits(block, full[region])
    out = np.empty((50, 30), dtype=dtype).T
    assert fi.sparse(out=out, sparsity=0.4, std=1.0, seed=13, stream=3) is out
    assert same_bits(out, full)


def test_sparse_columns_are_chunk_independent(monkeypatch):
    # Ranking columns in chunks of 1 column or of all columns gives the same choice.
    full = fi.sparse((25, 30), 0.6, seed=21)
    monkeypatch.setattr(structured, "_SPARSE_CHUNK_ELEMENTS", 1)
    assert same_bits(fi.sparse((25, 30), 0.6, seed=21), full)


def test_sparse_zeroed_rows_come_from_the_documented_keys():
    rows, cols, k = 9, 6, 4
    w = fi.sparse((rows, cols), k / rows, seed=77, stream=8)
    keys = fi.random_raw(rows * cols, seed=77, stream=8, start=2 ** 63).reshape(cols, rows)
    for j in range(cols):
        order = np.argsort(keys[j], kind="stable")    # ties to the lower row
        np.testing.assert_array_equal(np.flatnonzero(w[:, j] == 0), np.sort(order[:k]))


def test_sparse_ties_go_to_the_lowest_rows(monkeypatch):
    # All keys equal: the k lowest rows of every column are zeroed.
    monkeypatch.setattr(structured, "random_raw",
                        lambda n, *, seed, stream, start: np.full(n, 5, dtype=np.uint32))
    w = fi.sparse((6, 4), 0.5, seed=1)
    np.testing.assert_array_equal(w[:3] == 0, np.ones((3, 4), bool))
    assert np.all(w[3:] != 0)


def test_sparse_seed_and_stream_select_the_pattern():
    a = fi.sparse((50, 50), 0.5, seed=1) == 0
    assert np.array_equal(a, fi.sparse((50, 50), 0.5, seed=1) == 0)
    assert not np.array_equal(a, fi.sparse((50, 50), 0.5, seed=1, stream=1) == 0)
    assert not np.array_equal(a, fi.sparse((50, 50), 0.5, seed=2) == 0)


def test_named_stream_is_its_stream_id():
    from fastinit._validate import stream_id
    for fill in (lambda **k: fi.orthogonal((12, 8), **k), lambda **k: fi.sparse((12, 8), 0.5, **k)):
        assert same_bits(fill(seed=2, stream="blocks.3.mlp"), fill(seed=2, stream=stream_id("blocks.3.mlp")))


def test_sparse_zero_element_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        assert fi.sparse((0, 5), 0.5, seed=1).shape == (0, 5)


# --------------------------------------------------------------------------- bad input

OUT = object()


def _guarded_out(shape):
    out = np.empty(shape, dtype=np.float32)
    out.view(np.uint32)[...] = 0x5A5A5A5A
    return out


NAN = float("nan")

# (id, function, kwargs, out shape or None, exception, pattern)
BAD_INPUT = [
    ("ortho-1d", fi.orthogonal, dict(seed=1), (5,), ValueError,
     r"orthogonal needs a shape with at least 2 dimensions; got shape \(5,\)"),
    ("ortho-gain-nan", fi.orthogonal, dict(gain=NAN, seed=1), (3, 3), ValueError, "gain must be finite; got nan"),
    ("ortho-gain-str", fi.orthogonal, dict(gain="2", seed=1), (3, 3), TypeError, "gain must be a real number"),
    ("ortho-gain-f16", fi.orthogonal, dict(gain=1e5, seed=1, out=np.zeros((3, 3), np.float16)), None,
     ValueError, "gain=100000.0 is outside the finite range of float16"),
    ("ortho-seed", fi.orthogonal, dict(seed=0.5), (3, 3), TypeError, "seed must be an integer"),
    ("ortho-stream", fi.orthogonal, dict(seed=1, stream=-1), (3, 3), ValueError, "stream must be in"),
    ("sparse-missing", fi.sparse, dict(seed=1), (4, 4), TypeError, "sparsity is required"),
    ("sparse-negative", fi.sparse, dict(sparsity=-0.1, seed=1), (4, 4), ValueError,
     r"sparsity must be in \[0, 1\]; got -0\.1"),
    ("sparse-above-1", fi.sparse, dict(sparsity=1.5, seed=1), (4, 4), ValueError,
     r"sparsity must be in \[0, 1\]; got 1\.5"),
    ("sparse-nan", fi.sparse, dict(sparsity=NAN, seed=1), (4, 4), ValueError, "sparsity must be finite; got nan"),
    ("sparse-str", fi.sparse, dict(sparsity="0.5", seed=1), (4, 4), TypeError,
     "sparsity must be a real number; got str '0.5'"),
    ("sparse-3d", fi.sparse, dict(sparsity=0.5, seed=1), (4, 4, 2), ValueError,
     r"sparse needs a 2-D shape \(rows, cols\); got shape \(4, 4, 2\)"),
    ("sparse-1d", fi.sparse, dict(sparsity=0.5, seed=1), (4,), ValueError, "sparse needs a 2-D shape"),
    ("sparse-std-negative", fi.sparse, dict(sparsity=0.5, std=-1.0, seed=1), (4, 4), ValueError,
     r"std must be >= 0; got -1\.0"),
    ("sparse-std-inf", fi.sparse, dict(sparsity=0.5, std=float("inf"), seed=1), (4, 4), ValueError,
     "std must be finite; got inf"),
    ("sparse-seed", fi.sparse, dict(sparsity=0.5, seed=2 ** 64), (4, 4), ValueError, "seed must be in"),
    ("eye-3d", fi.eye, {}, (2, 2, 2), ValueError, r"eye needs a 2-D shape \(rows, cols\); got shape \(2, 2, 2\)"),
    ("eye-1d", fi.eye, {}, (3,), ValueError, "eye needs a 2-D shape"),
    ("eye-dtype", fi.eye, dict(out=None, shape=(2, 2), dtype=np.int32), None, TypeError, "dtype must be one of"),
    ("dirac-2d", fi.dirac, {}, (3, 3), ValueError, r"dirac needs a 3-, 4- or 5-D shape; got shape \(3, 3\)"),
    ("dirac-6d", fi.dirac, {}, (1,) * 6, ValueError, "dirac needs a 3-, 4- or 5-D shape"),
    ("dirac-groups-zero", fi.dirac, dict(groups=0), (4, 4, 3), ValueError, "groups must be >= 1; got 0"),
    ("dirac-groups-not-dividing", fi.dirac, dict(groups=3), (4, 4, 3), ValueError,
     r"groups must divide the number of output channels \(shape\[0\] = 4\); got groups=3"),
    ("dirac-groups-float", fi.dirac, dict(groups=2.0), (4, 4, 3), TypeError, "groups must be an integer; got float"),
    ("dirac-groups-bool", fi.dirac, dict(groups=True), (4, 4, 3), TypeError, "groups must be an integer; got bool"),
    ("zeros-dtype", fi.zeros, dict(out=None, shape=(2,), dtype="int8"), None, TypeError, "dtype must be one of"),
    ("ones-region", fi.ones, dict(shape=(4,), region=(slice(0, 9),)), (4,), ValueError, "out of bounds"),
    ("eye-out-mismatch", fi.eye, dict(shape=(3, 3)), (3, 4), ValueError, r"out has shape \(3, 4\)"),
]


@pytest.mark.parametrize("func, kwargs, out_shape, exc, pattern", [c[1:] for c in BAD_INPUT],
                         ids=[c[0] for c in BAD_INPUT])
def test_bad_input_raises_and_writes_nothing(func, kwargs, out_shape, exc, pattern):
    if out_shape is not None:
        kwargs = {"out": _guarded_out(out_shape), **kwargs}
    out = kwargs.get("out")
    before = out.copy() if isinstance(out, np.ndarray) else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc, match=pattern):
            func(**kwargs)
    if before is not None:
        assert same_bits(out, before), "out was written although the call failed"
