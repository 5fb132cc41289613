"""fastinit: fast, bit-reproducible initialization of large weight arrays.

Every element's value depends only on (seed, stream, its flat index in the
logical array, the distribution and its parameters, the dtype): never on the
thread count, SIMD path, chunking or call order.  See ``docs/stream.md``.
"""

from ._core import STREAM_VERSION
from ._config import build_info, get_num_threads, set_num_threads, show_config
from ._config import _select_simd_from_environment
from ._sampling import random_raw
from ._validate import stream_id
from ._fans import calculate_gain, compute_fans
from ._registry import BY_NAME as _BY_NAME
from ._activation import Scheme, init_for, scheme_for
from ._generator import Generator, default_rng

from ._version import __version__

__all__ = [
    "STREAM_VERSION",
    "Generator",
    "build_info",
    "default_rng",
    "get_num_threads",
    "random_raw",
    "set_num_threads",
    "show_config",
    "stream_id",
    # initialization helpers
    "Scheme",
    "calculate_gain",
    "compute_fans",
    "init_for",
    "scheme_for",
]

# Every scheme and sampler of the registry (fastinit._registry), under each of its names:
# uniform, normal, ..., kaiming_normal, he_normal, ..., orthogonal, small_init, ...
globals().update({_name: _info.function for _name, _info in _BY_NAME.items()})
__all__ += sorted(_BY_NAME)
del _BY_NAME

_select_simd_from_environment()
del _select_simd_from_environment
