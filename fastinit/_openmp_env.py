"""OpenMP's wait policy for fastinit's own thread pool, chosen as libgomp loads.

libgomp's worker threads busy-wait ("active" policy, about 300,000 spins) at
the end of every parallel region before they sleep.  That is right for a
program that owns its cores, and wrong for a library that shares them: on a
2-core machine with any other runnable thread (another process, PyTorch's own
OpenMP pool, the Python code between two fills), the spinning thread takes
the core the working one needs.  Measured on the 2-core development VM with
another process running: a 2-thread fill of 11.5 M float32 normals ran at
0.58 G samples/s with the default policy and 1.26 with ``passive`` (one
thread: 1.26), and a 131,072-element fill took 8 ms instead of 0.12 ms.
Bulk fills lose nothing: a region is at least 65,536 elements, against a
wake-up of microseconds.

libgomp reads the policy from the environment once, when it is loaded, and
has no API for it, so fastinit sets ``OMP_WAIT_POLICY=passive`` only for the
moment its extension (and with it libgomp) loads, and only if neither
``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT`` is set: a choice made in the
environment always wins.  The environment is restored at once, so
libraries loaded later (PyTorch's bundled libgomp, for one) read their own.
A libgomp already loaded by another extension keeps its own setting.
"""

from __future__ import annotations

import contextlib
import os

#: Variables by which a user chooses libgomp's wait policy.
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


@contextlib.contextmanager
def passive_while_loading():
    """Set ``OMP_WAIT_POLICY=passive`` for the duration, unless the user chose a policy."""
    if any(name in os.environ for name in WAIT_VARIABLES):
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = "passive"
    try:
        yield
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)
