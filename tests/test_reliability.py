"""Reliability: Ctrl-C, many Python threads, fork, leaks, and arrays past 2**31 elements."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastinit as fi

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _child_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.mark.slow
def test_long_fill_reacts_to_ctrl_c_within_a_second():
    # The portable path on one thread makes a 1 GiB float64 normal fill take seconds.
    # The child installs Python's SIGINT handler itself: a process started from a
    # non-interactive shell's background job inherits SIGINT ignored, and Python
    # then never raises KeyboardInterrupt.
    script = textwrap.dedent("""
        import signal, sys, numpy as np, fastinit as fi
        signal.signal(signal.SIGINT, signal.default_int_handler)
        fi.set_num_threads(1)
        out = np.zeros(1 << 27, dtype=np.float64)
        print("filling", flush=True)
        try:
            fi.normal(out=out, seed=1)
        except KeyboardInterrupt:
            touched = int(np.count_nonzero(out))
            print(f"interrupted {touched}", flush=True)
            sys.exit(3)
        print("finished", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=_child_env(FASTINIT_SIMD="generic"))
    assert proc.stdout.readline().strip() == "filling"
    time.sleep(0.5)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    reaction = time.perf_counter() - sent
    assert proc.returncode == 3, out
    touched = int(out.split()[1])
    assert 0 < touched < (1 << 27), "the fill should have stopped part way"
    assert reaction < 1.5, f"took {reaction:.2f} s to react to SIGINT"


def test_many_python_threads_get_the_serial_results():
    jobs = [(dist, seed, dtype) for dist in (fi.uniform, fi.normal) for seed in range(6)
            for dtype in ("float32", "float64", "float16", "bfloat16")]
    serial = [dist((300, 257), seed=seed, dtype=dtype) for dist, seed, dtype in jobs]
    results = [None] * len(jobs)

    def work(i):
        dist, seed, dtype = jobs[i]
        results[i] = dist((300, 257), seed=seed, dtype=dtype)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial):
        assert got.tobytes() == want.tobytes()


def test_fill_releases_the_gil():
    fi._config._select_simd("generic")     # slow path: a fill of a few tenths of a second
    try:
        out = np.empty(1 << 24, dtype=np.float32)
        span = {}

        def fill():
            span["start"] = time.perf_counter()
            fi.normal(out=out, seed=3)
            span["end"] = time.perf_counter()

        worker = threading.Thread(target=fill)
        ticks = []
        worker.start()
        while worker.is_alive():
            ticks.append(time.perf_counter())
        worker.join()
    finally:
        fi._config._select_simd("auto")
    during = [t for t in ticks if span["start"] < t < span["end"]]
    assert span["end"] - span["start"] > 0.05
    assert len(during) > 1000, f"main thread ran only {len(during)} iterations during the fill"


def _fill_in_child(n):
    return fi.normal(n, seed=11).tobytes(), fi.uniform(1000, seed=12).tobytes()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_fork_after_parallel_use():
    n = 1 << 20
    fi.set_num_threads(2)
    try:
        parent = fi.normal(n, seed=11).tobytes(), fi.uniform(1000, seed=12).tobytes()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            child = pool.apply_async(_fill_in_child, (n,)).get(timeout=120)
    finally:
        fi.set_num_threads(None)
    assert child == parent


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_no_leak_over_many_small_calls():
    out = np.empty(64, dtype=np.float32)

    def burst(count):
        for i in range(count):
            fi.normal(out=out, seed=i)
            fi.uniform((4, 4), seed=i, dtype="bfloat16", region=(slice(1, 3),))
            fi.random_raw(8, seed=i)

    burst(20_000)
    before = _rss_bytes()
    burst(100_000)
    grown = _rss_bytes() - before
    assert grown < 4 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 300k calls"
