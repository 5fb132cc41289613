"""Helpers shared by the test modules (imported as ``from _util import ...``).

Optional dependencies (the extras: torch, dask, zarr, distributed,
safetensors, matplotlib) are reached only through `optional_module`,
`requires`, `require_module` and `param_with`, so that every core test runs
in an environment with only the required dependencies while the tests that
need an extra skip, each naming what it needs.  In CI (the ``CI`` environment
variable set) a missing extra is an error instead, so CI never skips those
tests silently -- unless ``FASTINIT_TEST_EXTRAS=optional`` says that missing
extras are the point (tools/check_release.sh's no-extras run).

Every value comparison in this suite is bitwise: arrays are viewed as
unsigned integers of the same width, so -0.0 != +0.0 and no tolerance can
hide a last-bit difference between the C kernels and ``fastinit.reference``.
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import fastinit as fi
from fastinit import reference

# Name (as reference.py spells the kind) -> NumPy dtype.
DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}
KINDS = tuple(DTYPES)
DISTS = ("uniform", "normal")

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def bits(a) -> np.ndarray:
    """The bit patterns of a float array (a C-contiguous copy, as unsigned ints)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a).view(_UINT[a.dtype.itemsize])


def reference_bits(dist, seed, stream, start, n, p0, p1, kind) -> np.ndarray:
    """Bit patterns of flat elements ``start .. start+n-1`` per fastinit.reference."""
    flat = getattr(reference, f"{dist}_flat")(seed, stream, start, n, p0, p1, kind)
    # bfloat16 comes back as uint16 bit patterns already.
    return flat if kind == "bfloat16" else bits(flat)


def fill(dist, *args, **kwargs) -> np.ndarray:
    """fi.uniform / fi.normal by name."""
    return getattr(fi, dist)(*args, **kwargs)


def simd_available() -> list:
    return list(fi.build_info()["simd_available"])


def assert_bits_equal(got, expected_bits, what=""):
    """Bitwise equality with a short report of the first differing elements."""
    got_bits = bits(got).reshape(-1)
    expected_bits = np.asarray(expected_bits).reshape(-1)
    assert got_bits.shape == expected_bits.shape, f"{what}: size {got_bits.shape} != {expected_bits.shape}"
    diff = np.flatnonzero(got_bits != expected_bits)
    assert diff.size == 0, (
        f"{what}: {diff.size} of {got_bits.size} elements differ; first at flat positions "
        f"{diff[:5].tolist()}: got {[hex(int(v)) for v in got_bits[diff[:5]]]}, "
        f"expected {[hex(int(v)) for v in expected_bits[diff[:5]]]}"
    )


# --------------------------------------------------------------------------- optional dependencies

# Importable name -> the fastinit extra that installs it (pyproject.toml).
EXTRA_OF = {"torch": "torch", "dask": "dask", "distributed": "dask", "zarr": "dask",
            "safetensors": "safetensors", "matplotlib": "plot",
            "transformers": "transformers"}


def extras_required() -> bool:
    """Whether a missing extra is an error: in CI, unless FASTINIT_TEST_EXTRAS=optional.

    The top-level conftest.py applies the same rule to the doctests of
    fastinit.torch and fastinit.dask.
    """
    return bool(os.environ.get("CI")) and os.environ.get("FASTINIT_TEST_EXTRAS") != "optional"


def _extra_of(name: str) -> str:
    top = name.split(".")[0]
    if top not in EXTRA_OF:
        raise ValueError(f"{name!r} is not an optional dependency of the tests; "
                         f"the optional ones are {sorted(EXTRA_OF)}")
    return EXTRA_OF[top]


def missing_reason(name: str) -> str:
    """The skip reason for a test that needs the optional module *name*."""
    return f"needs {name.split('.')[0]}, which is not installed (pip install 'fastinit[{_extra_of(name)}]')"


@functools.lru_cache(maxsize=None)
def optional_module(name: str):
    """Import the optional module *name* (e.g. ``"torch"``, ``"dask.array"``), or None if not installed.

    Raises ImportError instead of returning None when `extras_required`.  An
    extra that is installed but fails to import (a dependency of its own
    missing, a broken build) always raises: that is a broken environment,
    not a missing extra.
    """
    _extra_of(name)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not (name == missing or name.startswith(missing + ".")):
            raise
        if extras_required():
            raise ImportError(
                f"{missing_reason(name)}; in CI every extra's tests must run: install the test "
                f"extras, or set FASTINIT_TEST_EXTRAS=optional to let them skip") from exc
        return None


def requires(name: str):
    """A mark that skips the test when the optional module *name* is not installed."""
    return pytest.mark.skipif(optional_module(name) is None, reason=missing_reason(name))


def require_module(name: str):
    """The optional module *name*, or skip: the whole module at module level, else the test.

    The replacement for ``pytest.importorskip`` that keeps the CI rule of
    `optional_module`.
    """
    __tracebackhide__ = True     # pytest then reports the skip at the caller's line
    module = optional_module(name)
    if module is None:
        pytest.skip(missing_reason(name), allow_module_level=True)
    return module


def param_with(name: str, build, id: str, nargs: int = 1):
    """A ``pytest.param`` whose value needs the optional module *name* to be built.

    *build* is called with the module and returns the value, or a tuple of
    *nargs* values for several argnames.  Without the module the case skips,
    so that a parametrize list can hold e.g. ``torch.nn.ReLU()`` without
    importing torch when the test module is imported.
    """
    module = optional_module(name)
    if module is None:
        return pytest.param(*[None] * nargs, id=id, marks=pytest.mark.skip(reason=missing_reason(name)))
    values = build(module) if nargs > 1 else (build(module),)
    return pytest.param(*values, id=id)


def fastinit_command() -> list:
    """The installed console script (the one beside this interpreter first)."""
    beside = Path(sys.executable).with_name("fastinit")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("fastinit")
    return [found] if found else [sys.executable, "-m", "fastinit"]


def communicate_all(processes, timeout, what="the ranks"):
    """Each process's output, in order; if one outlives ``timeout`` seconds, all are
    killed and the test fails."""
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=timeout)[0])
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        pytest.fail(f"{what} did not finish within {timeout} s")
    return outputs
