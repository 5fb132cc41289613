"""Philox4x32 and the raw word stream.

* Known-answer vectors (Random123 kat_vectors) through ``reference.philox4x32``
  and, where the counter is reachable, through the C kernels (``random_raw``).
* The word -> (counter, key) mapping of stream v1, checked against explicit
  ``philox4x32`` calls rather than ``reference.raw_words``.
* ``random_raw`` equals ``reference.raw_words`` on every kernel table at odd
  starts and lengths, across the carry of the block counter from its low to
  its high 32-bit word, and at the very end of the 2**64-word stream.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastinit as fi
from fastinit import reference

U64_MAX = 2**64 - 1
PI_COUNTER = (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344)
PI_KEY = (0xA4093822, 0x299F31D0)

# (counter c0..c3, key k0 k1, rounds, expected output)
KNOWN_ANSWERS = [
    pytest.param((0, 0, 0, 0), (0, 0), 10,
                 (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8), id="zeros-10"),
    pytest.param((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), 10,
                 (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD), id="ones-10"),
    pytest.param(PI_COUNTER, PI_KEY, 10,
                 (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1), id="pi-10"),
    pytest.param((0, 0, 0, 0), (0, 0), 7,
                 (0x5F6FB709, 0x0D893F64, 0x4F121F81, 0x4F730A48), id="zeros-7"),
]


def _c_path_block(counter, key):
    """The C kernels' output for one Philox block, through random_raw."""
    c0, c1, c2, c3 = counter
    block = c0 | c1 << 32
    return fi.random_raw(4, seed=key[0] | key[1] << 32, stream=c2 | c3 << 32, start=4 * block)


@pytest.mark.parametrize("counter, key, rounds, expected", KNOWN_ANSWERS)
def test_reference_known_answers(counter, key, rounds, expected):
    out = reference.philox4x32(np.array([counter], dtype=np.uint32), key, rounds=rounds)
    assert out.dtype == np.uint32
    assert out.shape == (1, 4)
    assert out[0].tolist() == list(expected)


def test_reference_default_is_ten_rounds():
    counter = np.array([PI_COUNTER], dtype=np.uint32)
    assert reference.PHILOX_ROUNDS == 10
    np.testing.assert_array_equal(reference.philox4x32(counter, PI_KEY),
                                  reference.philox4x32(counter, PI_KEY, rounds=10))


def test_reference_many_counters_at_once():
    """Vectorised evaluation: each row is the block of its own counter."""
    counters = np.array([(0, 0, 0, 0), (0xFFFFFFFF,) * 4, PI_COUNTER], dtype=np.uint32)
    # One key per call, so check the zero-key row and the row-wise independence.
    out = reference.philox4x32(counters, (0, 0))
    assert out[0].tolist() == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    for i in range(3):
        np.testing.assert_array_equal(out[i], reference.philox4x32(counters[i:i + 1], (0, 0))[0])


def test_c_path_known_answer_zeros(simd):
    """Counter 0 with key 0 is block 0 of stream 0, seed 0."""
    assert _c_path_block((0, 0, 0, 0), (0, 0)).tolist() == [
        0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


def test_docstring_example():
    assert fi.random_raw(4, seed=0).tolist() == [1713891541, 3781805453, 3159862348, 2600524760]


def test_ones_and_pi_counters_are_beyond_the_word_limit():
    """The ones and pi vectors have block index >= 2**62: word 4*block is past 2**64.

    The C path cannot reach them (random_raw rejects the start), so they are
    covered through the reference only, and the reference through parity below.
    """
    for counter in ((0xFFFFFFFF,) * 4, PI_COUNTER):
        block = counter[0] | counter[1] << 32
        assert 4 * block + 4 > 2**64
        with pytest.raises(ValueError, match=r"start \+ n must be <= 2\*\*64"):
            _c_path_block(counter, PI_KEY)


@pytest.mark.parametrize("seed, stream, block", [
    (0, 0, 1),
    (PI_KEY[0] | PI_KEY[1] << 32, PI_COUNTER[2] | PI_COUNTER[3] << 32, 0x243F6A88),
    (U64_MAX, U64_MAX, 2**62 - 1),          # the highest reachable block: c0 = c2 = c3 = ffffffff
    (U64_MAX, 0, 2**32 - 1),
    (0, U64_MAX, 2**32),
    (2**32, 2**32 - 1, 2**33 + 7),          # seed's low word 0, high word 1; stream's high word 0
])
def test_word_to_counter_and_key_mapping(simd, seed, stream, block):
    """Word w = lane w % 4 of block w // 4; counter (j lo, j hi, s lo, s hi); key (seed lo, seed hi)."""
    mask = 0xFFFFFFFF
    counter = np.array([[block & mask, block >> 32, stream & mask, stream >> 32]], dtype=np.uint32)
    expected = reference.philox4x32(counter, (seed & mask, seed >> 32))[0]
    got = fi.random_raw(4, seed=seed, stream=stream, start=4 * block)
    np.testing.assert_array_equal(got, expected)
    # Lane by lane, from an unaligned start.
    for lane in range(4):
        word = fi.random_raw(1, seed=seed, stream=stream, start=4 * block + lane)
        assert word.tolist() == [int(expected[lane])]


SEEDS_STREAMS = [(0, 0), (42, 7), (U64_MAX, U64_MAX), (U64_MAX - 12345, 2**63), (2**32 + 1, 2**32 - 1)]
LENGTHS = (0, 1, 2, 3, 4, 5, 7, 31, 127, 128, 129, 513, 4099)


@pytest.mark.parametrize("seed, stream", SEEDS_STREAMS)
@pytest.mark.parametrize("start", [0, 1, 2, 3, 5, 127, 129, 4 * 31 + 3, 1001])
def test_raw_words_match_reference(simd, seed, stream, start):
    for n in LENGTHS:
        got = fi.random_raw(n, seed=seed, stream=stream, start=start)
        assert got.dtype == np.uint32 and got.shape == (n,)
        np.testing.assert_array_equal(got, reference.raw_words(seed, stream, start, n), err_msg=f"n={n}")


@pytest.mark.parametrize("seed, stream", SEEDS_STREAMS)
@pytest.mark.parametrize("blocks_before_carry", [1, 2, 3, 7, 8, 9, 17, 31, 32, 33, 40])
def test_raw_words_across_32bit_block_carry(simd, seed, stream, blocks_before_carry):
    """Blocks 2**32 - k .. : the low counter word wraps inside a SIMD batch at every lane."""
    n = 4 * 80 + 1
    for offset in (0, 1, 3):
        start = 4 * (2**32 - blocks_before_carry) + offset
        got = fi.random_raw(n, seed=seed, stream=stream, start=start)
        np.testing.assert_array_equal(got, reference.raw_words(seed, stream, start, n),
                                      err_msg=f"start={start}")


@pytest.mark.parametrize("high_word", [1, 0xFFFF, 0x3FFFFFFE])
def test_raw_words_across_later_carries(simd, high_word):
    """The carry from block (h, ffffffff) to (h+1, 0) for several high words h."""
    start = 4 * ((high_word << 32) + 0xFFFFFFFF - 20) + 2
    n = 500
    got = fi.random_raw(n, seed=99, stream=3, start=start)
    np.testing.assert_array_equal(got, reference.raw_words(99, 3, start, n))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 129, 1000])
def test_raw_words_at_end_of_stream(simd, n):
    """The last words of the 2**64-word stream (start + n == 2**64 is allowed)."""
    start = 2**64 - n
    got = fi.random_raw(n, seed=U64_MAX, stream=U64_MAX, start=start)
    np.testing.assert_array_equal(got, reference.raw_words(U64_MAX, U64_MAX, start, n))


def test_raw_words_large_fill_matches_reference(simd):
    """A run long enough for the batched body and several parallel work items."""
    n = 300_001
    got = fi.random_raw(n, seed=2024, stream=5, start=77)
    np.testing.assert_array_equal(got, reference.raw_words(2024, 5, 77, n))


def test_raw_words_are_a_single_consistent_stream():
    """Any window equals the corresponding slice of a longer window."""
    full = fi.random_raw(10_000, seed=3, stream=4)
    for start, n in [(0, 1), (1, 7), (333, 4000), (9_999, 1), (5_000, 5_000)]:
        np.testing.assert_array_equal(fi.random_raw(n, seed=3, stream=4, start=start),
                                      full[start:start + n])


def test_seed_and_stream_select_different_words():
    base = fi.random_raw(64, seed=1, stream=1)
    for other in (fi.random_raw(64, seed=2, stream=1), fi.random_raw(64, seed=1, stream=2),
                  fi.random_raw(64, seed=1 + 2**32, stream=1), fi.random_raw(64, seed=1, stream=1 + 2**32)):
        # Independent 32-bit words: an equal word is a 2**-32 event.
        assert np.count_nonzero(base == other) == 0
