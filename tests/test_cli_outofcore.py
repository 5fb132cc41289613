"""``fastinit init`` on files of several GiB: interrupted writes and bounded memory.

The console script runs as a subprocess.  An interrupted write (SIGINT or
SIGTERM once the temporary file exists) must leave neither the target nor
the temporary file.  A 3 GiB write must keep the child's anonymous resident
memory (RssAnon in /proc/<pid>/status, polled while it runs) under 512 MiB,
and the file must equal the Python API block for block.  The files are
deleted when each test ends, also when it fails (``large_tmp_path``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fastinit as fi
from _util import fastinit_command

GIB = 1 << 30
MEMORY_BOUND = 512 << 20

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")


def require_free_space(directory: Path, nbytes: int) -> None:
    if shutil.disk_usage(directory).free < nbytes + GIB:
        pytest.skip(f"needs {nbytes / GIB:.0f} GiB free in {directory}")


def wait_for_a_file(directory: Path, process: subprocess.Popen, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = os.listdir(directory)
        if names:
            return names
        if process.poll() is not None:
            pytest.fail(f"fastinit exited early ({process.returncode}): {process.stderr.read()}")
        time.sleep(0.005)
    process.kill()
    pytest.fail("no temporary file appeared")


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_large_write_leaves_nothing(large_tmp_path, signum, status):
    tmp_path = large_tmp_path
    shape = (1 << 20, 2048)                                   # 8 GiB of float32
    require_free_space(tmp_path, 8 * GIB)
    process = subprocess.Popen(fastinit_command() + ["init", "normal", "x".join(map(str, shape)),
                                                     "-o", str(tmp_path / "big.npy")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        names = wait_for_a_file(tmp_path, process)
        assert len(names) == 1 and names[0].startswith(".big.npy.") and names[0].endswith(".fastinit-part")
        time.sleep(0.3)                                       # well into the data
        assert process.poll() is None, "the write finished before it could be interrupted"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, stderr
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastinit: error: interrupted"), stderr
    assert "Traceback" not in stderr
    assert os.listdir(tmp_path) == []


def rss_anon_bytes(pid: int) -> int:
    """RssAnon of a live process, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@pytest.mark.slow
def test_three_gib_file_with_bounded_anonymous_memory(large_tmp_path):
    tmp_path = large_tmp_path
    shape = (393_216, 2048)                                   # 3 GiB of float32
    require_free_space(tmp_path, 3 * GIB)
    target = tmp_path / "big.npy"
    process = subprocess.Popen(fastinit_command() + ["init", "he_normal", "x".join(map(str, shape)),
                                                     "--seed", "2024", "--stream", "embedding",
                                                     "-o", str(target)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, samples = 0, 0
    stop = threading.Event()

    def poll():
        nonlocal peak, samples
        while not stop.is_set():
            peak = max(peak, rss_anon_bytes(process.pid))
            samples += 1
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        stdout, stderr = process.communicate(timeout=600)
    finally:
        stop.set()
        poller.join()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert samples > 10
    assert 0 < peak < MEMORY_BOUND, f"peak RssAnon {peak / (1 << 20):.0f} MiB"
    assert "3.0 GiB" in stdout and "393216x2048" in stdout

    assert os.listdir(tmp_path) == ["big.npy"]
    loaded = np.load(target, mmap_mode="r")
    assert loaded.shape == shape and loaded.dtype == np.float32
    rows_per_block = (64 << 20) // (2048 * 4)
    for start in (0, rows_per_block - 2, shape[0] // 2 + 7, shape[0] - 3):
        region = (slice(start, start + 3),)
        want = fi.he_normal(shape, seed=2024, stream="embedding", region=region)
        np.testing.assert_array_equal(np.asarray(loaded[region]).view(np.uint32), want.view(np.uint32))
    assert target.stat().st_size == 128 + 3 * GIB
