/*
 * fastinit C core: the interface between the Cython binding and the kernels.
 *
 * Everything here assumes validated input (fastinit/_core.pyx checks it).
 * Layout of the C sources:
 *   philox.h          Philox4x32-10, scalar
 *   fi_constants.h    constants of the stream-v1 transforms
 *   fi_scalar.h       scalar transforms, one Philox block at a time
 *   fi_run.h          the head/body/tail loop shared by every kernel
 *   kernels_generic.c portable kernel table (scalar C)
 *   kernels_avx2.c    AVX2/FMA/F16C kernel table (built with those flags only)
 *   kernels_neon.c    aarch64 NEON (ASIMD) kernel table (built on aarch64 only)
 *   dispatch.c        picks a kernel table once, by cpuid or FASTINIT_SIMD
 *   parallel.c/.h     the only place that talks to OpenMP
 *   fill.c            walks an N-d (strided, region) output in parallel
 */
#ifndef FASTINIT_H
#define FASTINIT_H

#include <stddef.h>
#include <stdint.h>

#include "philox.h"

#define FI_STREAM_VERSION 1
#define FI_MAX_NDIM 64

/* Distributions and the meaning of their parameters p[0..]. */
typedef enum {
    FI_DIST_RAW = 0,          /* uint32 words of the stream (dtype FI_U32 only) */
    FI_DIST_UNIFORM = 1,      /* low, high - low, high */
    FI_DIST_NORMAL = 2,       /* mean, std */
    FI_DIST_TRUNC_NORMAL = 3, /* mean, std, Phi(alpha), Phi(beta) - Phi(alpha), Phi(-beta),
                                 a, b, mirror (+1 or -1); alpha, beta: standardized, mirrored bounds */
    FI_DIST_CONSTANT = 4,     /* value, already representable in the output dtype */
    FI_DIST_TRUNC_NORMAL_NARROW = 5, /* truncated normal on a narrow interval (docs/stream.md,
                                 "Corrections"): A, B, v0, v1, v1 - v0, a, b; density of the
                                 fraction q in [0, 1] of the way from v0 to v1 is prop. to
                                 exp(-A q - B q^2).  Scalar only: the generic table's kernels */
    FI_NDIST
} fi_dist;

#define FI_MAX_PARAMS 8

typedef enum {
    FI_F32 = 0,
    FI_F64 = 1,
    FI_F16 = 2,
    FI_BF16 = 3,
    FI_U32 = 4,
    FI_NDTYPE
} fi_dtype;

typedef struct {
    fi_philox_key key;
    uint64_t stream;
    double p[FI_MAX_PARAMS];   /* distribution parameters, float64 kernels */
    float pf[FI_MAX_PARAMS];   /* the same rounded once to float32: float32/16/bf16 kernels */
    int streaming;     /* set by fill.c for outputs far larger than cache: stores bypass it */
} fi_params;

/*
 * Writes elements [first, first + count) of the logical stream of one
 * (distribution, dtype) to `count` contiguous elements at dst.
 */
typedef void (*fi_fill_fn)(const fi_params *p, uint64_t first, size_t count, void *dst);

typedef struct {
    const char *name;
    fi_fill_fn fill[FI_NDIST][FI_NDTYPE];   /* NULL where a pair does not exist */
} fi_kernel_table;

extern const fi_kernel_table fi_kernels_generic;
/* Constant fills draw nothing: every table shares these portable loops. */
void fi_constant_f32(const fi_params *p, uint64_t first, size_t count, void *dst);
void fi_constant_f64(const fi_params *p, uint64_t first, size_t count, void *dst);
void fi_constant_f16(const fi_params *p, uint64_t first, size_t count, void *dst);
void fi_constant_bf16(const fi_params *p, uint64_t first, size_t count, void *dst);
#define FI_CONSTANT_KERNELS \
    {[FI_F32] = fi_constant_f32, [FI_F64] = fi_constant_f64, [FI_F16] = fi_constant_f16, [FI_BF16] = fi_constant_bf16}
#if defined(__x86_64__) || defined(_M_X64)
#define FI_HAVE_AVX2_KERNELS 1
extern const fi_kernel_table fi_kernels_avx2;
#endif
#if defined(__aarch64__)
#define FI_HAVE_NEON_KERNELS 1
extern const fi_kernel_table fi_kernels_neon;   /* ASIMD is baseline on aarch64: always usable */
#endif

/* dispatch.c */
int fi_cpu_supports_avx2(void);                   /* AVX2 + FMA + F16C usable */
int fi_select_kernels(const char *name);          /* "auto"|"avx2"|"generic": 0, -1 unknown, -2 unsupported */
const fi_kernel_table *fi_active_kernels(void);

/* A slot the active table leaves empty falls back to the portable kernel (same bits). */
static inline fi_fill_fn fi_lookup_kernel(int dist, int dtype)
{
    fi_fill_fn fn = fi_active_kernels()->fill[dist][dtype];
    return fn ? fn : fi_kernels_generic.fill[dist][dtype];
}

/* fill.c: an output described as a (possibly strided) box of a logical array. */
typedef struct {
    fi_fill_fn fill;
    const fi_params *params;
    size_t itemsize;
    int ndim;                          /* >= 1 after coalescing */
    int64_t shape[FI_MAX_NDIM];        /* box extent per axis */
    int64_t lstride[FI_MAX_NDIM];      /* logical flat-index stride per axis (last is 1) */
    int64_t bstride[FI_MAX_NDIM];      /* byte stride in the output per axis */
    uint64_t loffset;                  /* logical flat index of the box origin */
    char *data;                        /* address of the box origin in the output */
    int direct;                        /* last axis contiguous and aligned: kernels write in place */
    int64_t rows;                      /* product of all but the last extent */
    int64_t segments_per_row;
    int64_t items;                     /* rows * segments_per_row: the units of parallel work */
} fi_plan;

void fi_plan_init(fi_plan *plan, fi_fill_fn fill, fi_params *params, size_t itemsize,
                  int ndim, const int64_t *shape, const int64_t *lstride, const int64_t *bstride,
                  uint64_t loffset, char *data);
int64_t fi_plan_segment_length(void);
void fi_plan_run(const fi_plan *plan, int64_t item_begin, int64_t item_end, int nthreads);

void fi_params_init(fi_params *p, uint64_t seed, uint64_t stream, const double *values, int count);

#endif
