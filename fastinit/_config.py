"""Threads, SIMD path and build information."""

from __future__ import annotations

import os
import warnings

from . import _core
from ._validate import _integer

__all__ = ["set_num_threads", "get_num_threads", "build_info", "show_config"]

MAX_THREADS = 1 << 15

# The kernel tables come from the registry in src_c/dispatch.c, best first:
# (name, usable on this CPU and build, what the table needs).
_TABLES = tuple(_core.kernel_tables())
SIMD_CHOICES = ("auto",) + tuple(name for name, _, _ in _TABLES)
# Names of the distribution and dtype codes of src_c/fastinit.h, for messages.
_DIST_NAMES = {_core.DIST_RAW: "raw", _core.DIST_UNIFORM: "uniform", _core.DIST_NORMAL: "normal",
               _core.DIST_TRUNC_NORMAL: "trunc_normal", _core.DIST_CONSTANT: "constant"}
_KIND_NAMES = {_core.KIND_F32: "float32", _core.KIND_F64: "float64", _core.KIND_F16: "float16",
               _core.KIND_BF16: "bfloat16", _core.KIND_U32: "uint32"}


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


def set_num_threads(n):
    """Set the number of threads fills use.

    Parameters
    ----------
    n : int or None
        Threads, ``>= 1``.  ``None`` restores the default: OpenMP's own count,
        which honours ``OMP_NUM_THREADS`` and ``threadpoolctl`` limits (all
        cores when neither is set).

    Raises
    ------
    TypeError
        If ``n`` is not an integer or None.
    ValueError
        If ``n < 1`` or ``n > 32768``.

    Notes
    -----
    The thread count never changes any value, only the speed.  Builds
    without OpenMP always use one thread.
    """
    if n is None:
        _core.set_requested_threads(0)
        return
    n = _integer(n, "n")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"number of threads must be in [1, {MAX_THREADS}] (or None for the "
                         f"default); got {n}")
    _core.set_requested_threads(n)


def get_num_threads() -> int:
    """Number of threads the next fill from this thread will use."""
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
