"""Configuration: thread count, SIMD path selection, build information.

* ``set_num_threads`` / ``get_num_threads`` round trip, ``None`` restores the
  default, which follows ``OMP_NUM_THREADS`` and ``threadpoolctl`` limits.
* ``build_info()`` keys and values, ``show_config()`` output.
* The private in-process switch ``_select_simd`` and the ``FASTINIT_SIMD``
  environment variable read at import (in subprocesses): valid names select
  the path without changing any value; an invalid name warns and falls back.
"""

from __future__ import annotations

import errno
import json
import math
import os
import pathlib
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastinit as fi
from fastinit import _core, reference
from fastinit._config import _select_simd, max_threads
from fastinit._cpus import cgroup_cpu_quota, usable_cpu_count

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
# Thread bound, thread creation failures, threads per fill
# ---------------------------------------------------------------------------


def test_thread_bound_is_max_64_or_4_per_cpu():
    bound = max_threads()
    assert bound == max(64, 4 * os.cpu_count())
    with pytest.raises(ValueError) as caught:
        fi.set_num_threads(bound + 1)
    assert str(caught.value) == (f"number of threads must be in [1, {bound}] (max(64, 4 x "
                                 f"{os.cpu_count()} CPUs); or None for the default); got {bound + 1}")
    with pytest.raises(ValueError, match=rf"\[1, {bound}\].*got 1000000"):
        fi.set_num_threads(1_000_000)
    fi.set_num_threads(bound)
    assert fi.get_num_threads() == (bound if OPENMP else 1)


_UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


@needs_openmp
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
@pytest.mark.skipif(_UNDER_ASAN, reason="ASan reserves its shadow memory lazily: RLIMIT_AS breaks it")
def test_threads_beyond_the_address_space_limit_raise_instead_of_killing_the_process():
    """libgomp ends the process ("Thread creation failed", exit 1) when it cannot start a
    thread; set_num_threads must refuse such a count with a Python exception instead."""
    got = _run_python("""
        import json, resource
        import fastinit as fi
        fi.normal(1 << 21, seed=1)                 # the default threads exist before the limit
        vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
        limit = vm + (100 << 20)                   # room for a few thread stacks, not for 60
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        before = fi.get_num_threads()
        got = []
        for n in (1000, 60):
            try:
                fi.set_num_threads(n)
                fi.normal(1 << 22, seed=1)
                got.append("filled")
            except (ValueError, OSError) as exc:
                got.append([type(exc).__name__, isinstance(exc, OSError) and exc.errno, str(exc)])
        got.append(fi.get_num_threads() == before)
        got.append(bool((fi.normal(1 << 22, seed=1)[:4] == fi.normal(4, seed=1)).all()))
        print(json.dumps(got))
    """, MALLOC_ARENA_MAX="1")   # no per-thread malloc arenas (64 MiB of address space each) to race the limit
    too_many, cannot_start, unchanged, still_fills = got
    assert too_many[0] == "ValueError" and "got 1000" in too_many[2]
    # Thread stacks are 8 MiB by default (2 MiB with an unlimited stack rlimit): 60 do not fit.
    assert cannot_start[:2] == ["BlockingIOError", errno.EAGAIN], cannot_start
    assert cannot_start[2] == ("[Errno 11] cannot start 60 threads in this process (Resource "
                               "temporarily unavailable): its limits (ulimit -v / -u, cgroup "
                               "pids.max) allow fewer; the thread count is unchanged")
    assert unchanged and still_fills


@needs_openmp
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc/self/task")
def test_a_fill_starts_no_more_threads_than_work_items():
    got = _run_python("""
        import json, os, time
        import fastinit as fi
        fi.set_num_threads(64)                     # starts and joins 63 probe threads

        def settled_count():
            # A joined thread can stay listed in /proc/self/task for a moment after
            # pthread_join returns: count once two reads 20 ms apart agree.
            last = len(os.listdir("/proc/self/task"))
            for _ in range(100):
                time.sleep(0.02)
                now = len(os.listdir("/proc/self/task"))
                if now == last:
                    return now
                last = now
            return last

        before = settled_count()
        fi.uniform(4 * 16384, seed=1)              # 4 work items of 16384 elements
        print(json.dumps([before, settled_count()]))
    """)
    before, after = got
    assert 1 <= after - before <= 3, got          # 3 workers + the calling thread, not 63


# ---------------------------------------------------------------------------
# Process-wide setting, per-thread OpenMP count
# ---------------------------------------------------------------------------


def _in_another_thread(function):
    result = []
    worker = threading.Thread(target=lambda: result.append(function()))
    worker.start()
    worker.join()
    return result[0]


@needs_openmp
def test_set_num_threads_is_process_wide_threadpoolctl_per_thread():
    fi.set_num_threads(3)
    assert _in_another_thread(fi.get_num_threads) == 3
    values = _in_another_thread(lambda: fi.normal(300_001, seed=5, stream=2))
    np.testing.assert_array_equal(values, fi.normal(300_001, seed=5, stream=2))
    fi.set_num_threads(None)
    default = fi.get_num_threads()
    with threadpool_limits(limits=1, user_api="openmp"):
        assert fi.get_num_threads() == 1
        assert _in_another_thread(fi.get_num_threads) == default   # OpenMP's count is per thread
        fi.set_num_threads(2)
        assert fi.get_num_threads() == _in_another_thread(fi.get_num_threads) == 2


def test_thread_docs_say_what_is_process_wide():
    set_doc = " ".join(fi.set_num_threads.__doc__.split())
    get_doc = " ".join(fi.get_num_threads.__doc__.split())
    assert "for the whole process" in set_doc and "from every thread" in set_doc
    assert "from this thread" not in get_doc
    assert "process-wide: the same from every thread" in get_doc
    assert "limits only the thread that entered it" in get_doc


# ---------------------------------------------------------------------------
# Default thread count: CPU affinity and cgroup CPU quota
# ---------------------------------------------------------------------------


def _fake_root(tmp_path, files):
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


V2 = "0::/\n"
V1 = "4:memory:/\n2:cpu,cpuacct:/\n1:name=systemd:/\n"
CG = "sys/fs/cgroup/"


@pytest.mark.parametrize("files, quota, usable", [
    ({"proc/self/cgroup": V2, CG + "cpu.max": "200000 100000\n"}, 2.0, 2),
    ({"proc/self/cgroup": V2, CG + "cpu.max": "150000 100000"}, 1.5, 2),          # ceil, as loky
    ({"proc/self/cgroup": V2, CG + "cpu.max": "50000 100000"}, 0.5, 1),           # below one CPU
    ({"proc/self/cgroup": V2, CG + "cpu.max": "1000 100000"}, 0.01, 1),
    ({"proc/self/cgroup": V2, CG + "cpu.max": "max 100000"}, None, 8),            # no limit
    ({"proc/self/cgroup": V2, CG + "cpu.max": "1600000 100000"}, 16.0, 8),        # above the CPUs
    ({"proc/self/cgroup": V2, CG + "cpu.max": "garbage"}, None, 8),
    ({"proc/self/cgroup": V2, CG + "cpu.max": "0 100000"}, None, 8),
    ({"proc/self/cgroup": V2}, None, 8),                                          # missing file
    ({}, None, 8),                                                                # nothing at all
    ({CG + "cpu.max": "300000 100000"}, 3.0, 3),         # no /proc/self/cgroup: the top is read
    # Nested: a parent's smaller limit applies to the child.
    ({"proc/self/cgroup": "0::/a/b\n", CG + "a/cpu.max": "100000 100000",
      CG + "a/b/cpu.max": "400000 100000"}, 1.0, 1),
    ({"proc/self/cgroup": "0::/a/b\n", CG + "a/b/cpu.max": "250000 100000"}, 2.5, 3),
    # A container without its own cgroup namespace sees the host's path; its files are at the top.
    ({"proc/self/cgroup": "0::/docker/0123abcd\n", CG + "cpu.max": "300000 100000"}, 3.0, 3),
    # cgroup v1
    ({"proc/self/cgroup": V1, CG + "cpu,cpuacct/cpu.cfs_quota_us": "300000\n",
      CG + "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 3.0, 3),
    ({"proc/self/cgroup": "3:cpu:/\n", CG + "cpu/cpu.cfs_quota_us": "50000",
      CG + "cpu/cpu.cfs_period_us": "100000"}, 0.5, 1),
    ({"proc/self/cgroup": V1, CG + "cpu,cpuacct/cpu.cfs_quota_us": "-1",
      CG + "cpu,cpuacct/cpu.cfs_period_us": "100000"}, None, 8),
    ({"proc/self/cgroup": V1, CG + "cpu,cpuacct/cpu.cfs_quota_us": "300000"}, None, 8),   # no period
    ({"proc/self/cgroup": "2:cpu:/kube/pod1\n", CG + "cpu/kube/cpu.cfs_quota_us": "200000",
      CG + "cpu/kube/cpu.cfs_period_us": "100000", CG + "cpu/kube/pod1/cpu.cfs_quota_us": "-1",
      CG + "cpu/kube/pod1/cpu.cfs_period_us": "100000"}, 2.0, 2),
    # A v1 file is not read for a v2-only process, nor a v2 file for a v1-only one.
    ({"proc/self/cgroup": V2, CG + "cpu/cpu.cfs_quota_us": "100000",
      CG + "cpu/cpu.cfs_period_us": "100000"}, None, 8),
    ({"proc/self/cgroup": V1, CG + "cpu.max": "100000 100000"}, None, 8),
    # Hybrid: both present, the smaller wins.
    ({"proc/self/cgroup": V1 + V2, CG + "cpu.max": "500000 100000",
      CG + "cpu,cpuacct/cpu.cfs_quota_us": "400000", CG + "cpu,cpuacct/cpu.cfs_period_us": "100000"},
     4.0, 4),
], ids=lambda value: None)
def test_cgroup_cpu_quota_and_usable_cpus(tmp_path, monkeypatch, files, quota, usable):
    root = _fake_root(tmp_path, files)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert cgroup_cpu_quota(root) == quota
    assert usable_cpu_count(root) == usable


def test_usable_cpus_without_affinity_or_cpu_count(tmp_path, monkeypatch):
    root = _fake_root(tmp_path, {})
    monkeypatch.setattr(os, "cpu_count", lambda: None)          # undeterminable
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # not on this platform
    assert usable_cpu_count(root) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cpu_count(root) == 6


def test_usable_cpus_on_this_machine():
    expected = min(os.cpu_count(), len(os.sched_getaffinity(0)))
    quota = cgroup_cpu_quota()
    if quota is not None:
        expected = min(expected, math.ceil(quota))
    assert usable_cpu_count() == max(1, expected)


@needs_openmp
def test_default_is_capped_at_the_cpu_limit_unless_chosen():
    """The C side of the rule: OpenMP's default is capped, a chosen count is not."""
    from threadpoolctl import threadpool_info
    omp = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")
    fi.set_num_threads(None)
    assert fi.get_num_threads() == min(omp, usable_cpu_count())
    _core.set_cpu_limit(1)                     # as if the cgroup allowed one CPU
    try:
        assert fi.get_num_threads() == 1
        assert _in_another_thread(fi.get_num_threads) == 1
        with threadpool_limits(limits=omp + 3, user_api="openmp"):   # chosen: kept
            assert fi.get_num_threads() == omp + 3
        fi.set_num_threads(4)                  # chosen: kept
        assert fi.get_num_threads() == 4
    finally:
        fi.set_num_threads(None)               # re-reads the real limits
    assert fi.get_num_threads() == min(omp, usable_cpu_count())


@needs_openmp
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs 2 CPUs and sched_setaffinity")
def test_affinity_caps_the_default_but_not_omp_num_threads():
    code = """
        import json, os
        import fastinit as fi
        first = fi.get_num_threads()
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # after OpenMP counted the CPUs
        kept = fi.get_num_threads()                               # limits are read at import...
        fi.set_num_threads(None)                                  # ... and again here
        print(json.dumps([first, kept, fi.get_num_threads()]))
    """
    first, kept, capped = _run_python(code, OMP_NUM_THREADS=None)
    assert first == kept == min(len(os.sched_getaffinity(0)), usable_cpu_count()) and capped == 1
    assert _run_python(code, OMP_NUM_THREADS="2") == [2, 2, 2]    # chosen: not capped


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
