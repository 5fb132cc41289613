"""Kernel tables of the registry (src_c/dispatch.c), each against the definition.

* Per-slot fallback: every slot a table leaves empty is served by the next
  usable table below it, resolved at selection (``_config._kernel_sources``).
* Every kernel x dtype (trunc_normal included) equals ``fastinit.reference``
  bit for bit at odd starts and lengths around whole SIMD batches, across the
  carry of the block counter into its high word, into outputs at every
  element offset of a 64-byte line and into strided views.
* bfloat16 with denormal results: AVX512-BF16's conversion flushes denormal
  inputs, so those vectors must take the exact integer rounding; both the
  native-conversion and the integer path are checked.
* One fill large enough for streaming stores, through trunc_normal.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastinit as fi
from fastinit import _core, reference
from fastinit._config import _kernel_sources, _select_simd
from fastinit._distributions import DISTRIBUTIONS

from _util import DTYPES, KINDS, assert_bits_equal, bits, simd_available

TABLES = _core.kernel_tables()
NAMES = [name for name, _, _ in TABLES]

# (function, reference function, parameters): one of each kernel family.
FAMILIES = {
    "uniform": (fi.uniform, reference.uniform_flat, (-1.5, 3.25)),
    "normal": (fi.normal, reference.normal_flat, (0.5, 2.0)),
    "trunc_normal": (fi.trunc_normal, reference.trunc_normal_flat, (0.1, 1.5, -3.0, 2.0)),
    # A window deep in the lower tail: every lane takes the log branch of the inverse CDF.
    "trunc_tail": (fi.trunc_normal, reference.trunc_normal_flat, (0.0, 1.0, -6.0, -2.2)),
}


def _reference_bits(family, seed, stream, start, n, kind):
    _, ref, params = FAMILIES[family]
    got = ref(seed, stream, start, n, *params, kind)
    return got if kind == "bfloat16" else bits(got)


def _region(family, kind, seed, stream, start, n):
    f, _, params = FAMILIES[family]
    return f((start + n,), *params, dtype=DTYPES[kind], seed=seed, stream=stream,
             region=(slice(start, start + n),))


# ---------------------------------------------------------------------------
# Registry and per-slot fallback
# ---------------------------------------------------------------------------


def test_registry_names_and_order():
    assert NAMES[-1] == "generic" and len(set(NAMES)) == len(NAMES)
    assert dict((n, u) for n, u, _ in TABLES)["generic"] is True
    assert all(isinstance(needs, str) and needs for _, _, needs in TABLES)
    # auto picks the first usable table, best first.
    _select_simd("auto")
    assert fi.build_info()["simd"] == next(n for n, usable, _ in TABLES if usable)


@pytest.mark.parametrize("name", [n for n, usable, _ in TABLES if usable])
def test_each_slot_is_served_by_the_table_or_one_below_it(name):
    _select_simd(name)
    sources = _kernel_sources()
    below = [n for n, usable, _ in TABLES[NAMES.index(name):] if usable]
    # Every kernel slot of every registered distribution (fastinit/_distributions.py) is served.
    expected = {(kernel, kind) for entry in DISTRIBUTIONS.values() for kernel in entry.kernels
                for kind in (("uint32",) if kernel == "raw" else KINDS)}
    assert expected <= set(sources)
    for slot, table in sources.items():
        assert table in below, f"{slot} served by {table}, not {name} or a usable table below it"
    # generic has every slot itself; the fallbacks in build_info are exactly the borrowed slots.
    if name == "generic":
        assert set(sources.values()) == {"generic"}
    assert fi.build_info()["simd_fallbacks"] == [f"{d}/{k}: {t}" for (d, k), t in sources.items() if t != name]


def test_avx512_constant_slots_fall_back_to_the_next_usable_table():
    """The AVX-512 table leaves constant fills to the table below it (the shared loops)."""
    if "avx512" not in simd_available():
        pytest.skip("AVX-512 table not usable here")
    _select_simd("avx512")
    sources = _kernel_sources()
    below = [n for n, usable, _ in TABLES[NAMES.index("avx512") + 1:] if usable][0]
    for kind in KINDS:
        assert sources[("constant", kind)] == below
        assert sources[("normal", kind)] == "avx512"
        got = fi.constant((3, 1001), 0.375, dtype=DTYPES[kind])
        assert_bits_equal(got, bits(np.full((3, 1001), 0.375, dtype=DTYPES[kind])), kind)


# ---------------------------------------------------------------------------
# Parity with the reference: odd starts and lengths, the counter carry
# ---------------------------------------------------------------------------

# Around one AVX-512 batch (64 blocks: 256 float32-family or 128 float64 elements).
STARTS = (0, 1, 3, 4, 7, 61, 255, 259)
LENGTHS = (1, 3, 127, 128, 129, 255, 256, 257, 511, 1023, 1029)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_odd_starts_and_lengths_match_reference(simd, family, kind):
    for start in STARTS:
        for n in LENGTHS:
            assert_bits_equal(_region(family, kind, 11, 2, start, n),
                              _reference_bits(family, 11, 2, start, n, kind),
                              f"{simd} {family} {kind} start={start} n={n}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_block_counter_carry_inside_a_batch(simd, family, kind):
    """Runs that cross block 2**32 at every lane position of a 64-block batch."""
    per_block = 2 if kind == "float64" else 4
    carry = 2**32 * per_block
    for blocks_before in (1, 5, 16, 17, 63, 64):
        start = carry - blocks_before * per_block - 1
        assert_bits_equal(_region(family, kind, 3, 2**33 + 1, start, 700),
                          _reference_bits(family, 3, 2**33 + 1, start, 700, kind),
                          f"{simd} {family} {kind} start={start}")


def test_raw_words_at_every_offset_and_the_carry(simd):
    for start in (0, 1, 5, 2**34 - 4 * 64 - 3, 2**34 - 17):
        for n in (1, 255, 256, 257, 1500):
            np.testing.assert_array_equal(fi.random_raw(n, seed=99, stream=4, start=start),
                                          reference.raw_words(99, 4, start, n), err_msg=f"{simd} {start} {n}")


# ---------------------------------------------------------------------------
# Output placement: every offset inside a 64-byte line, strided views
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", ["uniform", "normal", "trunc_normal"])
def test_outputs_at_every_offset_of_a_cache_line(simd, family, kind):
    f, _, params = FAMILIES[family]
    dtype = DTYPES[kind]
    n = 3 * 1024 + 5
    want = _reference_bits(family, 8, 1, 0, n, kind)
    buffer = np.zeros(64 // dtype.itemsize + n + 8, dtype=dtype)
    for offset in range(64 // dtype.itemsize + 1):
        out = buffer[offset:offset + n]
        f(None, *params, out=out, seed=8, stream=1)
        assert_bits_equal(out, want, f"{simd} {family} {kind} offset={offset}")


@pytest.mark.parametrize("kind", KINDS)
def test_unaligned_and_strided_outputs(simd, kind):
    dtype = DTYPES[kind]
    n = 2000
    want = _reference_bits("normal", 6, 0, 0, n, kind)
    # A buffer whose data pointer is not a multiple of the itemsize.
    raw = np.zeros(n * dtype.itemsize + 1, dtype=np.uint8)
    unaligned = raw[1:].view(dtype)
    assert unaligned.ctypes.data % dtype.itemsize == 1 % dtype.itemsize or dtype.itemsize == 1
    fi.normal(None, 0.5, 2.0, out=unaligned, seed=6, stream=0)
    assert_bits_equal(unaligned, want, f"{simd} unaligned {kind}")
    # Every third element of a bigger buffer, and a reversed view.
    big = np.zeros(3 * n, dtype=dtype)
    fi.normal(None, 0.5, 2.0, out=big[::3], seed=6, stream=0)
    assert_bits_equal(big[::3], want, f"{simd} strided {kind}")
    assert not bits(big[1::3]).any(), "a strided fill wrote between its elements"
    rev = np.zeros(n, dtype=dtype)
    fi.normal(None, 0.5, 2.0, out=rev[::-1], seed=6, stream=0)
    assert_bits_equal(rev[::-1], want, f"{simd} reversed {kind}")


# ---------------------------------------------------------------------------
# bfloat16 with denormal values
# ---------------------------------------------------------------------------

DENORMAL_CASES = [
    (fi.normal, reference.normal_flat, (0.0, 1e-38)),        # a mix of normal and denormal floats
    (fi.normal, reference.normal_flat, (0.0, 3e-39)),        # nearly all denormal
    (fi.uniform, reference.uniform_flat, (1e-39, 2e-39)),    # all denormal
    (fi.uniform, reference.uniform_flat, (-1.2e-38, 1.2e-38)),
    (fi.trunc_normal, reference.trunc_normal_flat, (0.0, 1e-38, -2e-38, 2e-38)),
]


@pytest.mark.parametrize("native", [True, False], ids=["native-bf16-allowed", "integer-rounding"])
@pytest.mark.parametrize("case", range(len(DENORMAL_CASES)))
def test_bfloat16_denormals_match_reference(simd, case, native):
    f, ref, params = DENORMAL_CASES[case]
    n = 20_003
    want = ref(21, 7, 5, n, *params, "bfloat16")
    f32 = np.asarray(ref(21, 7, 5, n, *params, "float32"))
    tiny = np.abs(f32) < np.finfo(np.float32).tiny
    assert tiny.any() and (f32 != 0).any(), "the case must produce denormal float32 values"
    _core.allow_native_bf16(native)
    try:
        got = f((n + 5,), *params, dtype="bfloat16", seed=21, stream=7, region=(slice(5, None),))
    finally:
        _core.allow_native_bf16(True)
    assert_bits_equal(got, want, f"{simd} {f.__name__}{params} bfloat16")


@pytest.mark.parametrize("family", ["uniform", "normal", "trunc_normal"])
def test_bfloat16_integer_rounding_path(simd, family):
    """The integer rounding (CPUs without AVX512-BF16) on ordinary values."""
    _core.allow_native_bf16(False)
    try:
        got = _region(family, "bfloat16", 4, 4, 3, 50_001)
    finally:
        _core.allow_native_bf16(True)
    assert_bits_equal(got, _reference_bits(family, 4, 4, 3, 50_001, "bfloat16"), f"{simd} {family}")


# ---------------------------------------------------------------------------
# Streaming stores
# ---------------------------------------------------------------------------

STREAMING_BYTES = _core.STREAMING_BYTES     # src_c/fill.c: outputs this large bypass the cache


def test_streaming_trunc_normal_equals_small_fills(simd):
    n = STREAMING_BYTES // 2 + 77                     # bfloat16: 77 elements past the threshold
    buffer = np.empty(n + 3, dtype=DTYPES["bfloat16"])
    big = buffer[3:]                                  # 6 bytes off a 64-byte line
    fi.trunc_normal(None, 0.0, 0.02, -0.04, 0.04, out=big, seed=12, stream=1)
    piece = 1 << 21
    for start in range(0, n, piece):
        stop = min(start + piece, n)
        small = fi.trunc_normal((n,), 0.0, 0.02, -0.04, 0.04, dtype="bfloat16", seed=12, stream=1,
                                region=(slice(start, stop),))
        assert bits(big[start:stop]).tobytes() == bits(small).tobytes(), f"differs in [{start}, {stop})"
    assert_bits_equal(big[-300:], reference.trunc_normal_flat(12, 1, n - 300, 300, 0.0, 0.02, -0.04, 0.04,
                                                              "bfloat16"), "tail")
