"""pytest-benchmark fill benchmarks: fastinit uniform/normal vs NumPy.

These are not part of the normal test run (pyproject sets
``testpaths = ["tests"]``).  Run them from the repository root with::

    python -m pytest benchmarks/ --benchmark-only
    FASTINIT_BENCH_MIB=1024 python -m pytest benchmarks/ --benchmark-only

``FASTINIT_BENCH_MIB`` (default 256) is the float32 buffer size; every dtype
uses the same number of elements.  Buffers are allocated and written once
per module, so the timings exclude allocation and page faults.  fastinit
uses its default thread count (``fi.set_num_threads`` / ``OMP_NUM_THREADS``);
NumPy's generators are single-threaded.
"""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

import fastinit as fi

SIZE_MIB = float(os.environ.get("FASTINIT_BENCH_MIB", "256"))
N = int(SIZE_MIB * (1 << 20)) // 4
ROUNDS = 5

DTYPES = {
    "float32": np.float32,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float64": np.float64,
}
SAMPLERS = {"uniform": fi.uniform, "normal": fi.normal}


@pytest.fixture(scope="module")
def buffers():
    """One pre-faulted buffer of N elements per dtype, shared by the module."""
    bufs = {}
    for name, dtype in DTYPES.items():
        buf = np.empty(N, dtype=dtype)
        buf.view(np.uint8).fill(0)
        bufs[name] = buf
    return bufs


def run(benchmark, fill, buf):
    """Time ``fill(buf)`` over a few rounds and record the element count."""
    benchmark.extra_info["elements"] = buf.size
    benchmark.extra_info["bytes"] = buf.nbytes
    benchmark.extra_info["threads"] = fi.get_num_threads()
    benchmark.pedantic(fill, args=(buf,), rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("dist", list(SAMPLERS))
def test_fastinit(benchmark, buffers, dist, dtype):
    """fastinit ``uniform``/``normal`` filling a pre-allocated array via ``out=``."""
    benchmark.group = f"{dist} ({SIZE_MIB:g} MiB float32 worth of elements)"
    sampler = SAMPLERS[dist]
    run(benchmark, lambda a: sampler(out=a, seed=0), buffers[dtype])


@pytest.mark.parametrize("dist", list(SAMPLERS))
def test_numpy_pcg64(benchmark, buffers, dist):
    """NumPy baseline: PCG64 ``random``/``standard_normal`` into float32."""
    benchmark.group = f"{dist} ({SIZE_MIB:g} MiB float32 worth of elements)"
    gen = np.random.Generator(np.random.PCG64(0))
    method = gen.random if dist == "uniform" else gen.standard_normal
    run(benchmark, lambda a: method(dtype=np.float32, out=a), buffers["float32"])


def test_memset(benchmark, buffers):
    """Reference: single-thread ``ndarray.fill(0)`` of the float32 buffer."""
    benchmark.group = f"memset ({SIZE_MIB:g} MiB float32)"
    run(benchmark, lambda a: a.fill(0), buffers["float32"])
