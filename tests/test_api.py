"""Public call conventions of ``uniform``, ``normal`` and ``random_raw``.

Defaults (dtype, parameters, stream), what is returned (a new array or ``out``
itself), the ways to spell a dtype and a shape, how ``dtype`` follows ``out``,
keyword-only arguments, and ``seed=None`` drawing fresh entropy.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import fastinit as fi

from _util import DISTS, DTYPES, KINDS, bits, fill, reference_bits


@pytest.mark.parametrize("dist", DISTS)
def test_defaults(dist):
    """float32, (low, high) = (0, 1) or (mean, std) = (0, 1), stream 0."""
    got = fill(dist, 1000, seed=5)
    assert got.dtype == np.float32 and got.shape == (1000,)
    assert got.flags.c_contiguous and got.flags.writeable
    expected = reference_bits(dist, 5, 0, 0, 1000, 0.0, 1.0, "float32")
    np.testing.assert_array_equal(bits(got), expected)
    np.testing.assert_array_equal(bits(fill(dist, 1000, 0.0, 1.0, dtype=np.float32, seed=5, stream=0)), expected)


@pytest.mark.parametrize("dist", DISTS)
def test_parameters_by_keyword(dist):
    names = ("low", "high") if dist == "uniform" else ("mean", "std")
    by_position = fill(dist, 50, 0.25, 3.0, seed=1)
    by_keyword = fill(dist, 50, **{names[0]: 0.25, names[1]: 3.0}, seed=1)
    np.testing.assert_array_equal(bits(by_position), bits(by_keyword))


@pytest.mark.parametrize("spelling, kind", [
    (np.float32, "float32"), ("float32", "float32"), ("f4", "float32"), (np.dtype("=f4"), "float32"),
    (np.float64, "float64"), ("float64", "float64"), (float, "float64"), ("<f8" if np.little_endian else ">f8", "float64"),
    (np.float16, "float16"), ("f2", "float16"), ("half", "float16"),
    (ml_dtypes.bfloat16, "bfloat16"), ("bfloat16", "bfloat16"), ("BFloat16", "bfloat16"),
    (np.dtype(ml_dtypes.bfloat16), "bfloat16"),
], ids=str)
def test_dtype_spellings(spelling, kind):
    got = fi.normal(33, dtype=spelling, seed=2)
    assert got.dtype == DTYPES[kind]
    np.testing.assert_array_equal(bits(got), reference_bits("normal", 2, 0, 0, 33, 0.0, 1.0, kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dist", DISTS)
def test_out_is_filled_in_place_and_returned(dist, kind):
    out = np.zeros((4, 25), dtype=DTYPES[kind])
    returned = fill(dist, out=out, seed=8, stream=2)
    assert returned is out
    np.testing.assert_array_equal(bits(out).ravel(), reference_bits(dist, 8, 2, 0, 100, 0.0, 1.0, kind))
    # Passing the matching shape and dtype explicitly is the same call.
    again = np.zeros_like(out)
    assert fill(dist, (4, 25), out=again, dtype=DTYPES[kind], seed=8, stream=2) is again
    np.testing.assert_array_equal(bits(again), bits(out))


def test_out_is_filled_by_its_own_logical_c_order():
    """A Fortran-ordered out gets the same values at the same indices as a C-ordered one."""
    f_out = np.zeros((6, 7), dtype=np.float32, order="F")
    fi.uniform(out=f_out, seed=3)
    np.testing.assert_array_equal(bits(f_out), bits(fi.uniform((6, 7), seed=3)))


@pytest.mark.parametrize("shape, expected", [
    (5, (5,)), ((5,), (5,)), ([2, 3], (2, 3)), (np.int64(4), (4,)), (np.array([2, 3]), (2, 3)),
    ((), ()), ((1, 1, 1), (1, 1, 1)),
], ids=str)
def test_shape_spellings(shape, expected):
    got = fi.uniform(shape, seed=1)
    assert got.shape == expected
    np.testing.assert_array_equal(bits(got).ravel(), bits(fi.uniform(int(np.prod(expected)), seed=1)))


def test_seed_and_friends_are_keyword_only():
    with pytest.raises(TypeError):
        fi.uniform(3, 0.0, 1.0, np.float32)             # dtype is keyword-only
    with pytest.raises(TypeError):
        fi.random_raw(3, 1)                              # seed is keyword-only
    with pytest.raises(TypeError, match="seed"):
        fi.random_raw(3)                                 # and required for random_raw


@pytest.mark.parametrize("dist", DISTS)
def test_seed_none_draws_fresh_entropy(dist):
    draws = [fill(dist, 64, seed=None) for _ in range(3)]
    assert not np.array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[1], draws[2])
    assert all(np.isfinite(d).all() for d in draws)


def test_same_arguments_same_values():
    for dist in DISTS:
        a = fill(dist, (30, 30), 1.0, 2.0, dtype=np.float64, seed=123, stream=9)
        b = fill(dist, (30, 30), 1.0, 2.0, dtype=np.float64, seed=123, stream=9)
        np.testing.assert_array_equal(bits(a), bits(b))


def test_uniform_and_normal_use_the_same_words_differently():
    """Both distributions read the same stream: different values, but from the same words."""
    u = fi.uniform(8, seed=1)
    words = fi.random_raw(8, seed=1)
    np.testing.assert_array_equal(u, (words >> 8).astype(np.float32) * np.float32(2**-24))
    assert not np.array_equal(fi.normal(8, seed=1), u)

