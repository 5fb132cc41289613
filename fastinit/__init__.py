"""fastinit: fast, bit-reproducible initialization of large weight arrays.

Every element's value depends only on (seed, stream, its flat index in the
logical array, the distribution and its parameters, the dtype): never on the
thread count, SIMD path, chunking or call order.  See ``docs/stream.md``.
"""

from ._core import STREAM_VERSION
from ._config import build_info, get_num_threads, set_num_threads, show_config
from ._config import _select_simd_from_environment
from ._sampling import constant, normal, random_raw, trunc_normal, uniform

__version__ = "0.1.0"

__all__ = [
    "STREAM_VERSION",
    "build_info",
    "constant",
    "get_num_threads",
    "normal",
    "random_raw",
    "set_num_threads",
    "show_config",
    "trunc_normal",
    "uniform",
]

_select_simd_from_environment()
del _select_simd_from_environment
