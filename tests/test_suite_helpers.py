"""The suite's own machinery: optional extras (tests/_util.py) and large_tmp_path (conftest.py).

* A missing extra gives None (the tests that need it skip, naming it)
  outside CI, an ImportError in CI, and None again in CI with
  FASTINIT_TEST_EXTRAS=optional; an extra that is there but broken is
  always an error.
* ``large_tmp_path`` is emptied when its test fails, so a failed test leaves
  no GiB-sized file behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import _util

TESTS = Path(__file__).resolve().parent
MISSING = "fastinit_test_no_such_extra"
BROKEN = "fastinit_test_broken_extra"
PRESENT = "fastinit_test_present_extra"


@pytest.fixture
def fake_extras(monkeypatch, tmp_path):
    """Pretend extras: one not installed, one installed but failing to import, one installed."""
    (tmp_path / f"{BROKEN}.py").write_text("import fastinit_test_dependency_of_the_extra\n")
    (tmp_path / f"{PRESENT}.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, extra in ((MISSING, "missing"), (BROKEN, "broken"), (PRESENT, "present")):
        monkeypatch.setitem(_util.EXTRA_OF, name, extra)
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("FASTINIT_TEST_EXTRAS", raising=False)
    _util.optional_module.cache_clear()
    yield monkeypatch
    _util.optional_module.cache_clear()


def test_missing_extra_skips_outside_ci(fake_extras):
    assert _util.optional_module(MISSING) is None
    mark = _util.requires(MISSING).mark
    assert mark.args == (True,)
    assert mark.kwargs["reason"] == (f"needs {MISSING}, which is not installed "
                                     f"(pip install 'fastinit[missing]')")
    with pytest.raises(pytest.skip.Exception, match=f"needs {MISSING}, which is not installed"):
        _util.require_module(MISSING)
    param = _util.param_with(MISSING, lambda module: (module.a, module.b), id="pair", nargs=2)
    assert param.values == (None, None) and param.id == "pair"
    assert param.marks[0].kwargs["reason"].startswith(f"needs {MISSING},")


@pytest.mark.parametrize("value", ["1", "true"])
def test_missing_extra_is_an_error_in_ci(fake_extras, value):
    fake_extras.setenv("CI", value)
    with pytest.raises(ImportError, match=f"needs {MISSING}, which is not installed.*in CI every "
                                          "extra's tests must run.*FASTINIT_TEST_EXTRAS=optional"):
        _util.optional_module(MISSING)
    fake_extras.setenv("FASTINIT_TEST_EXTRAS", "required")
    with pytest.raises(ImportError, match=f"needs {MISSING}"):
        _util.optional_module(MISSING)


def test_extras_optional_lets_ci_skip(fake_extras):
    fake_extras.setenv("CI", "true")
    fake_extras.setenv("FASTINIT_TEST_EXTRAS", "optional")
    assert _util.optional_module(MISSING) is None


def test_broken_extra_is_always_an_error(fake_extras):
    with pytest.raises(ModuleNotFoundError, match="fastinit_test_dependency_of_the_extra"):
        _util.optional_module(BROKEN)


@pytest.mark.parametrize("ci", [None, "true"])
def test_installed_extra_is_returned_and_runs(fake_extras, ci):
    if ci:
        fake_extras.setenv("CI", ci)
    assert _util.optional_module(PRESENT).VALUE == 42
    assert _util.requires(PRESENT).mark.args == (False,)
    assert _util.require_module(PRESENT).VALUE == 42
    param = _util.param_with(PRESENT, lambda module: module.VALUE + 1, id="value")
    assert param.values == (43,) and param.marks == ()


def test_only_declared_extras_are_optional():
    with pytest.raises(ValueError, match="'numpy' is not an optional dependency of the tests"):
        _util.optional_module("numpy")


def test_large_tmp_path_is_emptied_when_the_test_fails(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(TESTS / "conftest.py", suite / "conftest.py")
    (suite / "test_writes.py").write_text(
        "def test_writes_then_fails(large_tmp_path):\n"
        "    (large_tmp_path / 'big.bin').write_bytes(bytes(1 << 20))\n"
        "    (large_tmp_path / 'sub').mkdir()\n"
        "    (large_tmp_path / 'sub' / 'part').write_bytes(b'x')\n"
        "    assert False\n")
    basetemp = tmp_path / "basetemp"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(TESTS.parent), os.environ.get("PYTHONPATH")) if p))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-o", "addopts=", "--rootdir", str(suite), f"--basetemp={basetemp}",
                             str(suite / "test_writes.py")],
                            cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "1 failed" in result.stdout, result.stdout + result.stderr
    kept = basetemp / "test_writes_then_fails0"
    assert kept.is_dir(), "pytest keeps a failed test's directory"
    assert list(kept.iterdir()) == []
