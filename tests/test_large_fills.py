"""Fills large enough for the streaming-store path, and arrays past 2**31 elements."""

import numpy as np
import pytest

import fastinit as fi
from fastinit import _core, reference

STREAMING_BYTES = _core.STREAMING_BYTES     # src_c/fill.c: outputs this large bypass the cache


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("dist", [fi.uniform, fi.normal])
@pytest.mark.parametrize("offset", [0, 1, 3, 8])
def test_streaming_fill_equals_small_fills(simd, dist, dtype, offset):
    itemsize = np.dtype(fi._validate.as_dtype(dtype)).itemsize
    n = STREAMING_BYTES // itemsize + 4099
    # An element offset inside a bigger buffer moves the start off 32-byte alignment.
    buffer = np.empty(n + offset, dtype=fi._validate.as_dtype(dtype))
    big = buffer[offset:]
    dist(out=big, seed=77, stream=5)
    piece = 1 << 20
    for start in range(0, n, piece):
        small = dist((n,), seed=77, stream=5, dtype=dtype, region=(slice(start, min(start + piece, n)),))
        assert small.nbytes < STREAMING_BYTES
        assert big[start:start + piece].tobytes() == small.tobytes(), f"differs in [{start}, {start + piece})"


def test_streaming_raw_words_equal_reference_at_the_ends():
    n = STREAMING_BYTES // 4 + 13
    words = fi.random_raw(n, seed=3, stream=1, start=2**40 + 1)
    np.testing.assert_array_equal(words[:64], reference.raw_words(3, 1, 2**40 + 1, 64))
    np.testing.assert_array_equal(words[-64:], reference.raw_words(3, 1, 2**40 + 1 + n - 64, 64))


@pytest.mark.slow
def test_more_than_2_31_elements_are_filled_to_the_last():
    n = 2**31 + 37                              # 4 GiB of float16
    out = np.full(n, np.nan, dtype=np.float16)
    fi.uniform(out=out, low=-1.0, high=1.0, seed=5, stream=2)
    for start in (0, 2**31 - 3, n - 40):
        want = reference.uniform_flat(5, 2, start, 40, -1.0, 1.0, "float16")
        np.testing.assert_array_equal(out[start:start + 40].view(np.uint16), want.view(np.uint16))
    chunk = 1 << 26
    for i in range(0, n, chunk):
        assert not np.isnan(out[i:i + chunk]).any(), f"unfilled element after index {i}"
