# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding to the C core.  Callers (fastinit/_sampling.py) validate;
this module only translates arrays to plans and runs them without the GIL."""

from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint64_t, uint32_t
cimport numpy as cnp

import numpy as np

cnp.import_array()

cdef extern from "fastinit.h":
    int FI_STREAM_VERSION
    int FI_MAX_NDIM
    ctypedef void (*fi_fill_fn)(const fi_params *p, uint64_t first, size_t count, void *dst) noexcept nogil
    ctypedef struct fi_params:
        pass
    ctypedef struct fi_kernel_table:
        const char *name
    int FI_MAX_PARAMS
    ctypedef struct fi_plan:
        int ndim
        int64_t shape[64]
        int64_t items
    int fi_kernel_table_count()
    const char *fi_kernel_table_name(int index)
    int fi_kernel_table_usable(int index)
    const char *fi_kernel_table_requirement(int index)
    int fi_select_kernels(const char *name)
    const fi_kernel_table *fi_active_kernels()
    int fi_active_kernel_source(int dist, int dtype)
    void fi_allow_native_bf16(int allow)
    int FI_NDIST
    int FI_NDTYPE
    fi_fill_fn fi_lookup_kernel(int dist, int dtype)
    void fi_params_init(fi_params *p, uint64_t seed, uint64_t stream, const double *values, int count)
    void fi_plan_init(fi_plan *plan, fi_fill_fn fill, fi_params *params, size_t itemsize,
                      int ndim, const int64_t *shape, const int64_t *lstride, const int64_t *bstride,
                      uint64_t loffset, char *data)
    int64_t fi_plan_segment_length()
    void fi_plan_run(const fi_plan *plan, int64_t item_begin, int64_t item_end, int nthreads) nogil

cdef extern from "parallel.h":
    int fi_openmp_enabled()
    void fi_set_requested_threads(int n)
    int fi_get_requested_threads()
    int fi_effective_threads()
    void fi_set_cpu_limit(int n)
    int fi_get_cpu_limit()
    int fi_check_threads(int n)

# Distribution and dtype codes (src_c/fastinit.h).
DIST_RAW = 0
DIST_UNIFORM = 1
DIST_NORMAL = 2
DIST_TRUNC_NORMAL = 3
DIST_CONSTANT = 4
DIST_TRUNC_NORMAL_NARROW = 5
KIND_F32 = 0
KIND_F64 = 1
KIND_F16 = 2
KIND_BF16 = 3
KIND_U32 = 4

STREAM_VERSION = FI_STREAM_VERSION
MAX_NDIM = FI_MAX_NDIM

# Between pieces of this many elements the GIL is taken back to look for
# Ctrl-C, so a multi-second fill stops within a fraction of a second.
cdef int64_t PIECE_ELEMENTS = 1 << 24


def fill(int dist, int kind, cnp.ndarray out, uint64_t seed, uint64_t stream,
         tuple values, tuple logical_strides, uint64_t logical_offset):
    """Fill ``out`` in place: element at multi-index i gets the stream value at
    flat logical index ``logical_offset + sum(i[d] * logical_strides[d])``.
    ``values`` are the distribution's parameters (src_c/fastinit.h)."""
    cdef fi_params params
    cdef double param_values[8]
    cdef fi_plan plan
    cdef int64_t shape[64]
    cdef int64_t lstride[64]
    cdef int64_t bstride[64]
    cdef int ndim = out.ndim, d
    cdef fi_fill_fn fn = fi_lookup_kernel(dist, kind)
    if fn == NULL:
        raise RuntimeError("no kernel for this distribution and dtype")
    if len(values) > FI_MAX_PARAMS:
        raise RuntimeError("too many distribution parameters")
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
