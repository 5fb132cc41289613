"""Threads, SIMD path and build information."""

from __future__ import annotations

import os
import warnings

from . import _core
from ._cpus import usable_cpu_count
from ._validate import _integer

__all__ = ["set_num_threads", "get_num_threads", "build_info", "show_config"]

# set_num_threads accepts up to max(64, 4 x CPUs) threads (see max_threads).
_MIN_THREAD_BOUND = 64

# The kernel tables come from the registry in src_c/dispatch.c, best first:
# (name, usable on this CPU and build, what the table needs).
_TABLES = tuple(_core.kernel_tables())
SIMD_CHOICES = ("auto",) + tuple(name for name, _, _ in _TABLES)
# Names of the distribution and dtype codes, as src_c/fastinit.h names them.
_DIST_NAMES = {code: name for name, code in _core.DIST_CODES.items()}
_KIND_NAMES = {code: name for name, code in _core.DTYPE_CODES.items()}


def _usable_choices() -> tuple:
    return ("auto",) + tuple(name for name, usable, _ in _TABLES if usable)


def _select_simd(name: str) -> None:
    """Switch the kernel table (the FASTINIT_SIMD variable does this at import).

    Raises ValueError naming every table, and those usable here, when ``name``
    is unknown or its table cannot run on this CPU/build.
    """
    status = _core.select_simd(name)
    usable = ", ".join(_usable_choices())
    if status == -1:
        raise ValueError(f"SIMD path must be one of {', '.join(SIMD_CHOICES)} (usable here: {usable}); "
                         f"got {name!r}")
    if status == -2:
        needs = next(req for table, _, req in _TABLES if table == name)
        raise ValueError(f"SIMD path {name!r} is not supported by this CPU or build (it needs {needs}); "
                         f"usable here: {usable}")


def _kernel_sources() -> dict:
    """For the selected table: {(distribution, dtype): table serving that slot}.

    A slot the selected table leaves empty is served by the next usable table
    below it in the registry (resolved once, at selection).
    """
    return {(_DIST_NAMES.get(d, f"dist{d}"), _KIND_NAMES.get(k, f"kind{k}")): table
            for (d, k), table in _core.kernel_sources().items()}


def _select_simd_from_environment() -> None:
    requested = os.environ.get("FASTINIT_SIMD", "auto").strip().lower() or "auto"
    try:
        _select_simd(requested)
    except ValueError as exc:
        warnings.warn(f"FASTINIT_SIMD: {exc}; using 'auto'", RuntimeWarning, stacklevel=3)
        _select_simd("auto")


def max_threads() -> int:
    """Largest count :func:`set_num_threads` accepts: ``max(64, 4 * os.cpu_count())``."""
    return max(_MIN_THREAD_BOUND, 4 * (os.cpu_count() or 1))


def _apply_cpu_limit() -> None:
    """Cap the default thread count at the CPUs this process may use (fastinit._cpus)."""
    _core.set_cpu_limit(usable_cpu_count())


_apply_cpu_limit()   # at import; set_num_threads(None) reads the limits again


def set_num_threads(n):
    """Set the number of threads fills use, for the whole process.

    Parameters
    ----------
    n : int or None
        Threads, from 1 to ``max(64, 4 * os.cpu_count())``: more threads than
        CPUs never make a fill faster, and each one reserves a stack (8 MiB
        by default).  ``None`` restores the default (and re-reads the CPU
        limits): OpenMP's count, which honours ``OMP_NUM_THREADS`` and
        ``threadpoolctl`` limits, capped -- unless one of those chose it --
        at the CPUs this process may use: its affinity mask and its cgroup
        CPU quota (v1 or v2, rounded up), as ``loky.cpu_count`` counts them.

    Raises
    ------
    TypeError
        If ``n`` is not an integer or None.
    ValueError
        If ``n`` is outside ``[1, max(64, 4 * os.cpu_count())]``.
    OSError
        If this process cannot start ``n`` threads at once (its limits on
        address space or on threads, ``ulimit -v`` / ``-u``); OpenMP itself
        would end the process with "Thread creation failed" in a fill.
        The count is then unchanged.

    Notes
    -----
    The setting applies to fills started from every thread, and it wins
    over ``OMP_NUM_THREADS`` and ``threadpoolctl``.  A fill never starts more
    threads than it has work items (pieces of up to 16384 elements of a
    row), and small fills run on the calling thread.  The thread count never
    changes any value, only the speed.  Builds without OpenMP always use one
    thread.
    """
    if n is None:
        _apply_cpu_limit()
        _core.set_requested_threads(0)
        return
    n = _integer(n, "n")
    bound = max_threads()
    if not 1 <= n <= bound:
        raise ValueError(f"number of threads must be in [1, {bound}] (max(64, 4 x {os.cpu_count()} "
                         f"CPUs); or None for the default); got {n}")
    error = _core.check_threads(n)
    if error:
        raise OSError(error, f"cannot start {n} threads in this process ({os.strerror(error)}): its "
                             "limits (ulimit -v / -u, cgroup pids.max) allow fewer; the thread count "
                             "is unchanged")
    _core.set_requested_threads(n)


def get_num_threads() -> int:
    """Number of threads the next large fill started from the calling thread will use.

    The :func:`set_num_threads` value when one is set (process-wide: the same
    from every thread).  Otherwise the default, from OpenMP's count for the
    calling thread: ``OMP_NUM_THREADS`` is process-wide, but a
    ``threadpoolctl.threadpool_limits`` block, like ``omp_set_num_threads``
    it calls, limits only the thread that entered it (OpenMP keeps that
    setting per thread).  Without an explicit choice the count is capped at
    the CPUs the process may use (see :func:`set_num_threads`).
    Small fills (below about 65536 elements) run on the calling thread.
    """
    return _core.effective_threads()


def build_info() -> dict:
    """Version, stream version, SIMD path, OpenMP and thread count, as a dict.

    ``simd_available`` lists the kernel tables this CPU and build can run,
    from the portable one to the fastest ("auto" picks the last);
    ``simd_unavailable`` the others with what they need; ``simd_fallbacks``
    the (distribution/dtype: table) slots that the selected table leaves to a
    table below it.
    """
    from . import __version__

    simd = _core.simd_path()
    return {
        "version": __version__,
        "stream_version": _core.STREAM_VERSION,
        "simd": simd,
        "simd_available": [name for name, usable, _ in reversed(_TABLES) if usable],
        "simd_unavailable": [f"{name} (needs {req})" for name, usable, req in _TABLES if not usable],
        "simd_fallbacks": [f"{dist}/{kind}: {table}" for (dist, kind), table in _kernel_sources().items()
                           if table != simd],
        "openmp": _core.openmp_enabled(),
        "num_threads": get_num_threads(),
        "cpu_count": os.cpu_count(),
    }


def show_config() -> None:
    """Print :func:`build_info` as aligned text."""
    info = build_info()
    width = max(map(len, info))
    for key, value in info.items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key:<{width}} : {value}")
