"""fastinit: fast, bit-reproducible initialization of large weight arrays.

Every element's value depends only on (seed, stream, its flat index in the
logical array, the distribution and its parameters, the dtype): never on the
thread count, SIMD path, chunking or call order.  See ``docs/stream.md``.
"""

from ._core import STREAM_VERSION
from ._config import build_info, get_num_threads, set_num_threads, show_config
from ._config import _select_simd_from_environment
from . import _sampling
from ._sampling import *  # noqa: F403 -- the registered samplers (fastinit/_distributions.py)
from ._validate import stream_id
from ._fans import calculate_gain, compute_fans
from ._schemes import (
    glorot_normal, glorot_uniform, he_normal, he_uniform, kaiming_normal, kaiming_uniform,
    lecun_normal, lecun_uniform, variance_scaling, xavier_normal, xavier_uniform,
)
from ._structured import dirac, eye, ones, orthogonal, sparse, zeros
from ._activation import Scheme, init_for, scheme_for
from ._generator import Generator, default_rng

from ._version import __version__

__all__ = [
    *_sampling.__all__,      # random_raw, uniform, normal, trunc_normal, constant
    "STREAM_VERSION",
    "Generator",
    "build_info",
    "default_rng",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "stream_id",
    # initialization schemes
    "Scheme",
    "calculate_gain",
    "compute_fans",
    "dirac",
    "eye",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "init_for",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "scheme_for",
    "sparse",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

_select_simd_from_environment()
del _select_simd_from_environment
