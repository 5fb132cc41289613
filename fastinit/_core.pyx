# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding to the C core.  Callers (fastinit/_sampling.py) validate;
this module only translates arrays to plans and runs them without the GIL."""

from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint64_t, uint32_t
cimport numpy as cnp

import numpy as np

cnp.import_array()

cdef extern from "fastinit.h":
    # Compile-time constants (array sizes below) and limits: the header is their one source.
    enum: FI_STREAM_VERSION
    enum: FI_MAX_NDIM
    enum: FI_MAX_PARAMS
    enum: FI_NDIST
    enum: FI_NDTYPE
    ctypedef struct fi_params:
        int streaming
    ctypedef void (*fi_fill_fn)(const fi_params *p, uint64_t first, size_t count, void *dst) noexcept nogil
    ctypedef struct fi_kernel_table:
        const char *name
    ctypedef struct fi_plan:
        fi_params params
        int ndim
        int64_t shape[FI_MAX_NDIM]
        int64_t items
    const char *fi_dist_name(int dist)
    const char *fi_dtype_name(int dtype)
    int fi_kernel_table_count()
    const char *fi_kernel_table_name(int index)
    int fi_kernel_table_usable(int index)
    const char *fi_kernel_table_requirement(int index)
    int fi_select_kernels(const char *name)
    const fi_kernel_table *fi_active_kernels()
    int fi_active_kernel_source(int dist, int dtype)
    void fi_allow_native_bf16(int allow)
    fi_fill_fn fi_lookup_kernel(int dist, int dtype)
    void fi_params_init(fi_params *p, uint64_t seed, uint64_t stream, const double *values, int count)
    void fi_plan_init(fi_plan *plan, fi_fill_fn fill, const fi_params *params, size_t itemsize,
                      int ndim, const int64_t *shape, const int64_t *lstride, const int64_t *bstride,
                      uint64_t loffset, char *data)
    int64_t fi_plan_segment_length()
    int64_t fi_plan_streaming_bytes()
    void fi_plan_run(const fi_plan *plan, int64_t item_begin, int64_t item_end, int nthreads) nogil

cdef extern from "parallel.h":
    int fi_openmp_enabled()
    void fi_set_requested_threads(int n)
    int fi_get_requested_threads()
    int fi_effective_threads()
    void fi_set_cpu_limit(int n)
    int fi_get_cpu_limit()
    int fi_check_threads(int n)

# The codes of src_c/fastinit.h by name: {"raw": 0, "uniform": 1, ...} (fi_dist)
# and {"float32": 0, ...} (fi_dtype).  fastinit/_distributions.py and
# fastinit/_validate.py read these; no code is written down in Python.
cdef dict _names(const char *(*name_of)(int), int count, str where):
    cdef const char *name
    names = {}
    for code in range(count):
        name = name_of(code)
        if name == NULL:    # a code added to the enum but not named: refuse to import
            raise ImportError(f"fastinit: code {code} has no name in src_c/fill.c's {where}")
        names[name.decode()] = code
    return names


DIST_CODES = _names(fi_dist_name, FI_NDIST, "fi_dist_name")
DTYPE_CODES = _names(fi_dtype_name, FI_NDTYPE, "fi_dtype_name")

STREAM_VERSION = FI_STREAM_VERSION
MAX_NDIM = FI_MAX_NDIM
MAX_PARAMS = FI_MAX_PARAMS
# Direct outputs of at least this many bytes are written with streaming stores (src_c/fill.c).
STREAMING_BYTES = fi_plan_streaming_bytes()

# Between pieces of this many elements the GIL is taken back to look for
# Ctrl-C, so a multi-second fill stops within a fraction of a second.
cdef int64_t PIECE_ELEMENTS = 1 << 24


def fill(int dist, int kind, cnp.ndarray out, uint64_t seed, uint64_t stream,
         tuple values, tuple logical_strides, uint64_t logical_offset):
    """Fill ``out`` in place: element at multi-index i gets the stream value at
    flat logical index ``logical_offset + sum(i[d] * logical_strides[d])``.
    ``values`` are the distribution's parameters (src_c/fastinit.h)."""
    cdef fi_params params
    cdef double param_values[FI_MAX_PARAMS]
    cdef fi_plan plan
    cdef int64_t shape[FI_MAX_NDIM]
    cdef int64_t lstride[FI_MAX_NDIM]
    cdef int64_t bstride[FI_MAX_NDIM]
    cdef int ndim = out.ndim, d
    if not (0 <= dist < FI_NDIST and 0 <= kind < FI_NDTYPE):
        raise RuntimeError(f"no distribution code {dist} or dtype code {kind} in src_c/fastinit.h")
    if ndim > FI_MAX_NDIM:
        raise RuntimeError(f"at most {FI_MAX_NDIM} dimensions; got {ndim}")
    cdef fi_fill_fn fn = fi_lookup_kernel(dist, kind)
    if fn == NULL:
        raise RuntimeError("no kernel for this distribution and dtype")
    if len(values) > FI_MAX_PARAMS:
        raise RuntimeError(f"at most {FI_MAX_PARAMS} distribution parameters; got {len(values)}")
    for d in range(len(values)):
        param_values[d] = values[d]
    for d in range(ndim):
        shape[d] = out.shape[d]
        bstride[d] = out.strides[d]
        lstride[d] = logical_strides[d]
    fi_params_init(&params, seed, stream, param_values, len(values))
    fi_plan_init(&plan, fn, &params, out.itemsize, ndim, shape, lstride, bstride,
                 logical_offset, <char *>cnp.PyArray_DATA(out))
    cdef int nthreads = fi_effective_threads()
    cdef int64_t row_part = min(plan.shape[plan.ndim - 1], fi_plan_segment_length())
    cdef int64_t per_piece = max(1, PIECE_ELEMENTS // max(1, row_part))
    cdef int64_t begin = 0, end
    while begin < plan.items:
        end = min(begin + per_piece, plan.items)
        with nogil:
            fi_plan_run(&plan, begin, end, nthreads)
        begin = end
        if begin < plan.items:
            PyErr_CheckSignals()
    return out


def plan_streaming(int64_t nbytes):
    """Test hook: ``(streaming set in the plan, streaming left in the caller's
    parameters)`` for a direct, aligned output of ``nbytes`` bytes (planned, not run)."""
    cdef fi_params params
    cdef fi_plan plan
    cdef int64_t shape = nbytes, lstride = 1, bstride = 1
    fi_params_init(&params, 0, 0, NULL, 0)
    fi_plan_init(&plan, NULL, &params, 1, 1, &shape, &lstride, &bstride, 0, <char *><size_t>64)
    return bool(plan.params.streaming), bool(params.streaming)


def simd_path():
    return fi_active_kernels().name.decode()


def select_simd(str name):
    """0 on success, -1 unknown name, -2 not supported by this CPU/build."""
    return fi_select_kernels(name.encode())


def kernel_tables():
    """The registry of src_c/dispatch.c, best first: a list of
    ``(name, usable on this CPU and build, what the table needs)``."""
    return [(fi_kernel_table_name(i).decode(), bool(fi_kernel_table_usable(i)),
             fi_kernel_table_requirement(i).decode())
            for i in range(fi_kernel_table_count())]


def kernel_sources():
    """For the selected table: {(dist code, dtype code): name of the table
    whose kernel serves that slot} for every slot some table provides."""
    out = {}
    for dist in range(FI_NDIST):
        for kind in range(FI_NDTYPE):
            index = fi_active_kernel_source(dist, kind)
            if index >= 0:
                out[(dist, kind)] = fi_kernel_table_name(index).decode()
    return out


def allow_native_bf16(bint allow):
    """Test hook: False makes bfloat16 kernels round with integer steps even
    where the CPU has a conversion instruction."""
    fi_allow_native_bf16(allow)


def openmp_enabled():
    return bool(fi_openmp_enabled())


def set_requested_threads(int n):
    fi_set_requested_threads(n)


def get_requested_threads():
    return fi_get_requested_threads()


def effective_threads():
    return fi_effective_threads()


def set_cpu_limit(int n):
    fi_set_cpu_limit(n)


def get_cpu_limit():
    return fi_get_cpu_limit()


def check_threads(int n):
    """0 if ``n`` threads can run at once in this process, else the errno of the failure."""
    return fi_check_threads(n)
