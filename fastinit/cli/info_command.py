"""``fastinit info``: version, stream version, SIMD path, OpenMP and threads."""

from __future__ import annotations

import sys

import numpy as np

import fastinit as fi


def command_info(args) -> int:
    """Print ``fastinit.build_info()`` with the NumPy and Python versions, one ``key : value`` a line."""
    info = fi.build_info()
    info["numpy"] = np.__version__
    info["python"] = sys.version.split()[0]
    width = max(map(len, info))
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}} : {value}")
    return 0

