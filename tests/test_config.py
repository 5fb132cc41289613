"""Configuration: thread count, SIMD path selection, build information.

* ``set_num_threads`` / ``get_num_threads`` round trip, ``None`` restores the
  default, which follows ``OMP_NUM_THREADS`` and ``threadpoolctl`` limits.
* ``build_info()`` keys and values, ``show_config()`` output.
* The private in-process switch ``_select_simd`` and the ``FASTINIT_SIMD``
  environment variable read at import (in subprocesses): valid names select
  the path without changing any value; an invalid name warns and falls back.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastinit as fi
from fastinit import _core, reference
from fastinit._config import _select_simd

REPO = pathlib.Path(__file__).resolve().parent.parent
OPENMP = fi.build_info()["openmp"]
needs_openmp = pytest.mark.skipif(not OPENMP, reason="serial build: always one thread")


def _run_python(code, **env_changes):
    """Run `code` in a fresh interpreter importing this checkout; returns its last stdout line as JSON."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------


@needs_openmp
@pytest.mark.parametrize("n", [1, 2, 3, 7, 64])
def test_set_get_num_threads_round_trip(n):
    fi.set_num_threads(n)
    assert fi.get_num_threads() == n
    assert fi.build_info()["num_threads"] == n


def test_none_restores_the_default():
    default = fi.get_num_threads()
    assert default >= 1
    fi.set_num_threads(1)
    fi.set_num_threads(None)
    assert fi.get_num_threads() == default


def test_numpy_integer_thread_count():
    fi.set_num_threads(np.int64(1))
    assert fi.get_num_threads() == 1


@needs_openmp
def test_threadpoolctl_limits_the_default():
    fi.set_num_threads(None)
    default = fi.get_num_threads()
    with threadpool_limits(1):
        assert fi.get_num_threads() == 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert fi.get_num_threads() == 1
        # ... and a fill still works and gives the usual values.
        np.testing.assert_array_equal(fi.random_raw(70_001, seed=1), reference.raw_words(1, 0, 0, 70_001))
    assert fi.get_num_threads() == default


@needs_openmp
def test_omp_num_threads_sets_the_default():
    got = _run_python("""
        import json, fastinit as fi
        first = fi.get_num_threads()
        fi.set_num_threads(5)
        explicit = fi.get_num_threads()
        fi.set_num_threads(None)
        print(json.dumps([first, explicit, fi.get_num_threads(), fi.build_info()["num_threads"]]))
    """, OMP_NUM_THREADS="3")
    assert got == [3, 5, 3, 3]


def test_serial_build_reports_one_thread():
    if OPENMP:
        pytest.skip("OpenMP build")
    fi.set_num_threads(4)
    assert fi.get_num_threads() == 1


# ---------------------------------------------------------------------------
# build_info and show_config
# ---------------------------------------------------------------------------


def test_build_info_contents():
    info = fi.build_info()
    assert set(info) == {"version", "stream_version", "simd", "simd_available", "simd_unavailable",
                         "simd_fallbacks", "openmp", "num_threads", "cpu_count"}
    assert info["version"] == fi.__version__
    assert info["stream_version"] == fi.STREAM_VERSION == reference.STREAM_VERSION == 1
    assert info["simd_available"][0] == "generic"
    # Every table of the C registry is either available or listed with what it needs.
    tables = _core.kernel_tables()
    assert info["simd_available"] == [name for name, usable, _ in reversed(tables) if usable]
    assert info["simd_unavailable"] == [f"{name} (needs {needs})" for name, usable, needs in tables
                                        if not usable]
    assert info["simd"] in info["simd_available"]
    # "auto" picks the best available path.
    assert info["simd"] == info["simd_available"][-1]
    assert isinstance(info["openmp"], bool)
    assert info["num_threads"] == fi.get_num_threads()
    assert info["cpu_count"] == os.cpu_count()


def test_build_info_follows_simd_selection(simd):
    assert fi.build_info()["simd"] == simd


def test_show_config_prints_every_key_aligned(capsys):
    fi.show_config()
    lines = capsys.readouterr().out.splitlines()
    info = fi.build_info()
    assert len(lines) == len(info)
    colons = {line.index(" : ") for line in lines}
    assert len(colons) == 1, "values are not aligned"
    printed = {line.split(" : ")[0].strip(): line.split(" : ", 1)[1] for line in lines}
    assert list(printed) == list(info)
    assert printed["simd_available"] == ", ".join(info["simd_available"])
    assert printed["stream_version"] == "1"
    assert printed["simd"] == info["simd"]


def test_public_names():
    documented = {"STREAM_VERSION", "build_info", "get_num_threads", "normal", "random_raw",
                  "set_num_threads", "show_config", "uniform"}
    assert documented <= set(fi.__all__)
    for name in fi.__all__:
        assert hasattr(fi, name)


# ---------------------------------------------------------------------------
# SIMD selection: in process and through FASTINIT_SIMD
# ---------------------------------------------------------------------------


def _choices_text():
    """'auto, <every registry name>' and 'auto, <the usable ones>', as the errors print them."""
    tables = _core.kernel_tables()
    return (", ".join(["auto"] + [n for n, _, _ in tables]),
            ", ".join(["auto"] + [n for n, usable, _ in tables if usable]))


def test_select_simd_rejects_unknown_names():
    every, usable = _choices_text()
    assert every.startswith("auto, ") and every.endswith(", generic") and "avx2" in every
    message = f"SIMD path must be one of {every} (usable here: {usable}); got 'sse9'"
    with pytest.raises(ValueError) as excinfo:
        _select_simd("sse9")
    assert str(excinfo.value) == message
    assert fi.build_info()["simd"] == fi.build_info()["simd_available"][-1]   # unchanged


@pytest.mark.parametrize("name, usable, needs", _core.kernel_tables())
def test_select_simd_rejects_unusable_tables(name, usable, needs):
    if usable:
        pytest.skip(f"{name} is usable here")
    with pytest.raises(ValueError) as excinfo:
        _select_simd(name)
    assert str(excinfo.value) == (f"SIMD path {name!r} is not supported by this CPU or build "
                                  f"(it needs {needs}); usable here: {_choices_text()[1]}")
    assert fi.build_info()["simd"] == fi.build_info()["simd_available"][-1]   # unchanged


_CHILD = """
    import hashlib, json, warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import fastinit as fi
    digest = hashlib.sha256()
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        digest.update(fi.normal((257, 1031), 0.5, 2.0, dtype=dtype, seed=3, stream=1).tobytes())
        digest.update(fi.uniform((257, 1031), -1.0, 3.0, dtype=dtype, seed=3, stream=1).tobytes())
    digest.update(fi.random_raw(70_001, seed=3, start=5).tobytes())
    print(json.dumps({
        "simd": fi.build_info()["simd"],
        "warnings": [[w.category.__name__, str(w.message)] for w in caught],
        "digest": digest.hexdigest(),
    }))
"""


def _digest_in_process():
    import hashlib
    digest = hashlib.sha256()
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        digest.update(fi.normal((257, 1031), 0.5, 2.0, dtype=dtype, seed=3, stream=1).tobytes())
        digest.update(fi.uniform((257, 1031), -1.0, 3.0, dtype=dtype, seed=3, stream=1).tobytes())
    digest.update(fi.random_raw(70_001, seed=3, start=5).tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def auto_digest():
    _select_simd("auto")
    return _digest_in_process()


@pytest.mark.parametrize("value, expected", [
    ("generic", "generic"),
    ("  GENERIC\n", "generic"),          # case and surrounding space are ignored
    ("avx2", "avx2"),
    ("avx512", "avx512"),
    ("AVX512", "avx512"),
    ("auto", None),                      # None: whatever auto picks here
    ("", None),
    (None, None),                        # variable unset
])
def test_fastinit_simd_environment_variable(value, expected, auto_digest):
    available = fi.build_info()["simd_available"]
    if expected is not None and expected not in available:
        pytest.skip(f"{expected} not available")
    result = _run_python(_CHILD, FASTINIT_SIMD=value)
    assert result["simd"] == (expected or available[-1])
    assert result["warnings"] == []
    assert result["digest"] == auto_digest, "values depend on the SIMD path"


@pytest.mark.parametrize("value", ["sse9", "avx1024", "generic,avx2"])
def test_invalid_fastinit_simd_warns_and_falls_back(value, auto_digest):
    result = _run_python(_CHILD, FASTINIT_SIMD=value)
    assert result["simd"] == fi.build_info()["simd_available"][-1]
    assert len(result["warnings"]) == 1
    category, message = result["warnings"][0]
    assert category == "RuntimeWarning"
    assert "FASTINIT_SIMD" in message and repr(value) in message and "auto" in message
    # The message lists every choice.
    assert f"must be one of {_choices_text()[0]} (usable here: {_choices_text()[1]})" in message
    assert result["digest"] == auto_digest


@pytest.mark.parametrize("name, usable, needs", _core.kernel_tables())
def test_fastinit_simd_unusable_table_warns(name, usable, needs, auto_digest):
    if usable:
        pytest.skip(f"{name} is usable here")
    result = _run_python(_CHILD, FASTINIT_SIMD=name)
    assert result["simd"] == fi.build_info()["simd_available"][-1]
    assert [c for c, _ in result["warnings"]] == ["RuntimeWarning"]
    message = result["warnings"][0][1]
    assert f"{name!r} is not supported" in message and needs in message
    assert f"usable here: {_choices_text()[1]}" in message and "using 'auto'" in message
    assert result["digest"] == auto_digest
