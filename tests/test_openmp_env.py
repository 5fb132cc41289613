"""fastinit loads libgomp with the passive wait policy unless the user chose one (fastinit/_openmp_env.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastinit as fi

ROOT = Path(fi.__file__).resolve().parent.parent

# In a fresh process (libgomp reads its environment once, as it loads): import fastinit, then
# print the environment variable and the spin count libgomp reports (omp_display_env, OpenMP
# 5.0): 0 under the passive policy, 300000 by default, 3e10 under the active policy.
PROBE = """
import ctypes, os, sys
import fastinit
print("env", os.environ.get("OMP_WAIT_POLICY"))
sys.stdout.flush()
path = next(line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line)
ctypes.CDLL(path).omp_display_env(1)
"""

pytestmark = pytest.mark.skipif(
    not fi.build_info()["openmp"] or not sys.platform.startswith("linux"),
    reason="needs an OpenMP (libgomp) build on Linux")


def _probe(**env):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    environment.update(env)
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    result = subprocess.run([sys.executable, "-c", PROBE], env=environment, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    spins = [line.split("=")[1].strip().strip("'") for line in result.stderr.splitlines()
             if line.strip().startswith("GOMP_SPINCOUNT")]
    return result.stdout.split()[1], int(spins[0])


def test_passive_by_default_and_the_environment_restored():
    assert _probe() == ("None", 0)


def test_the_users_policy_wins():
    assert _probe(OMP_WAIT_POLICY="active") == ("active", 30_000_000_000)


def test_a_spin_count_is_left_to_libgomp():
    # GOMP_SPINCOUNT is libgomp's own knob: fastinit sets nothing then.
    assert _probe(GOMP_SPINCOUNT="1000") == ("None", 1000)
