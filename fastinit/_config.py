"""Threads, SIMD path and build information."""

from __future__ import annotations

import os
import warnings

from . import _core
from ._validate import _integer

__all__ = ["set_num_threads", "get_num_threads", "build_info", "show_config"]

SIMD_CHOICES = ("auto", "avx2", "generic")
MAX_THREADS = 1 << 15


def _select_simd(name: str) -> None:
    """Switch the kernel table (the FASTINIT_SIMD variable does this at import)."""
    status = _core.select_simd(name)
    if status == -1:
        raise ValueError(f"SIMD path must be one of {', '.join(SIMD_CHOICES)}; got {name!r}")
    if status == -2:
        raise ValueError(f"SIMD path {name!r} is not supported by this CPU or build")


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
    """Version, stream version, SIMD path, OpenMP and thread count, as a dict."""
    from . import __version__

    return {
        "version": __version__,
        "stream_version": _core.STREAM_VERSION,
        "simd": _core.simd_path(),
        "simd_available": ["generic"] + (["avx2"] if _core.cpu_supports_avx2() else []),
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
