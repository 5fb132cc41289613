"""Fixtures shared by the whole suite.

* ``simd``: runs a test once per kernel table of the registry in
  src_c/dispatch.c (names from C); tables this CPU or build cannot run are
  skipped with what they need.  It switches in-process through the private
  hook ``fastinit._config._select_simd`` and checks that the switch happened.
* An autouse fixture puts the process-wide state (thread count, SIMD path)
  back to the defaults after every test, so no test leaks into another.
* ``large_tmp_path``: ``tmp_path`` for a test that writes more than about
  100 MiB; emptied when the test ends, whether it passed or failed.
"""

from __future__ import annotations

import shutil

import pytest

import fastinit as fi
from fastinit import _core
from fastinit._config import _select_simd

# (name, usable, what it needs), best first, from src_c/dispatch.c.
SIMD_TABLES = _core.kernel_tables()
SIMD_PATHS = tuple(name for name, _, _ in SIMD_TABLES)


@pytest.fixture(autouse=True)
def _restore_global_state():
    yield
    fi.set_num_threads(None)
    _select_simd("auto")


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    """Select a kernel path for the duration of the test; yields its name."""
    name = request.param
    usable, needs = next((u, r) for n, u, r in SIMD_TABLES if n == name)
    if not usable:
        pytest.skip(f"SIMD path {name!r} not available on this CPU/build: it needs {needs}")
    assert name in fi.build_info()["simd_available"]
    _select_simd(name)
    assert fi.build_info()["simd"] == name
    yield name
    _select_simd("auto")


@pytest.fixture
def large_tmp_path(tmp_path):
    """``tmp_path``, emptied when the test ends, passed or failed.

    For tests that write files of hundreds of MiB or more: pytest keeps the
    directories of failed tests (tmp_path_retention_policy = "failed") and
    the last few runs', which would otherwise leave GiB behind.  The
    directory itself stays, empty, for the failure report.
    """
    try:
        yield tmp_path
    finally:
        for entry in tmp_path.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
