"""Fixtures shared by the whole suite.

* ``simd``: runs a test once per kernel path ("generic", and "avx2" where the
  CPU and build have it), switching in-process through the private hook
  ``fastinit._config._select_simd``.
* An autouse fixture puts the process-wide state (thread count, SIMD path)
  back to the defaults after every test, so no test leaks into another.
"""

from __future__ import annotations

import pytest

import fastinit as fi
from fastinit._config import _select_simd

SIMD_PATHS = ("generic", "avx2")


@pytest.fixture(autouse=True)
def _restore_global_state():
    yield
    fi.set_num_threads(None)
    _select_simd("auto")


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    """Select a kernel path for the duration of the test; yields its name."""
    name = request.param
    if name not in fi.build_info()["simd_available"]:
        pytest.skip(f"SIMD path {name!r} not available on this CPU/build")
    _select_simd(name)
    assert fi.build_info()["simd"] == name
    yield name
    _select_simd("auto")
