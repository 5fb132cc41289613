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
 *   fi_avx512.h       AVX-512 maths (Philox, log, Box-Muller, inverse CDF) for kernels_avx512.c
 *   kernels_avx512.c  AVX-512 (F/BW/DQ/VL, optional BF16) kernel table (built with those flags only)
 *   kernels_neon.c    aarch64 NEON (ASIMD) kernel table (built on aarch64 only)
 *   kernels_avx2.c    AVX2 + F16C kernel table (built with those flags only; no FMA anywhere)
 *   cpu.c             what the CPU and OS can run (cpuid, xgetbv)
 *   dispatch.c        the ordered table registry; picks one, resolves empty slots per slot
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
/*
 * Adding a distribution (docs/extending.md): its code above and its name in
 * fill.c's fi_dist_name, its transform in fi_scalar.h, its slots in the
 * kernel tables, fastinit/reference.py and one entry of
 * fastinit/_distributions.py.  Python reads codes, names and limits from here.
 */

#define FI_MAX_PARAMS 8

typedef enum {
    FI_F32 = 0,
    FI_F64 = 1,
    FI_F16 = 2,
    FI_BF16 = 3,
    FI_U32 = 4,
    FI_NDTYPE
} fi_dtype;

/* fill.c: "uniform", "float32", ...; NULL outside [0, FI_NDIST) / [0, FI_NDTYPE). */
const char *fi_dist_name(int dist);
const char *fi_dtype_name(int dtype);

typedef struct {
    fi_philox_key key;
    uint64_t stream;
    double p[FI_MAX_PARAMS];   /* distribution parameters, float64 kernels */
    float pf[FI_MAX_PARAMS];   /* the same rounded once to float32: float32/16/bf16 kernels */
    int streaming;     /* set in fill.c's plan copy for outputs far larger than cache: stores bypass it */
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
/*
 * The slots of the random distributions every kernel table defines, by the
 * static names each kernels_*.c file gives its fill functions (raw_u32,
 * uniform_f32, ..., trunc_normal_bf16).
 */
#define FI_RANDOM_KERNELS                                                               \
    [FI_DIST_RAW] = {[FI_U32] = raw_u32},                                               \
    [FI_DIST_UNIFORM] = {[FI_F32] = uniform_f32, [FI_F64] = uniform_f64,                \
                         [FI_F16] = uniform_f16, [FI_BF16] = uniform_bf16},             \
    [FI_DIST_NORMAL] = {[FI_F32] = normal_f32, [FI_F64] = normal_f64,                   \
                        [FI_F16] = normal_f16, [FI_BF16] = normal_bf16},                \
    [FI_DIST_TRUNC_NORMAL] = {[FI_F32] = trunc_normal_f32, [FI_F64] = trunc_normal_f64, \
                              [FI_F16] = trunc_normal_f16, [FI_BF16] = trunc_normal_bf16}
#if defined(__x86_64__) || defined(_M_X64)
#define FI_HAVE_AVX2_KERNELS 1
#define FI_HAVE_AVX512_KERNELS 1
extern const fi_kernel_table fi_kernels_avx2;
extern const fi_kernel_table fi_kernels_avx512;
void fi_avx512_allow_native_bf16(int allow);
#endif
/* Test hook: 0 makes every bfloat16 kernel round with integer steps even where
 * the CPU has a conversion instruction (AVX512-BF16); 1 restores the default. */
void fi_allow_native_bf16(int allow);
/* aarch64: src_c/kernels_neon.c; Advanced SIMD is part of the baseline, so always usable. */
#if defined(__aarch64__)
#define FI_HAVE_NEON_KERNELS 1
extern const fi_kernel_table fi_kernels_neon;
#endif

/* cpu.c: 1 when this CPU and OS can run the instruction set. */
int fi_cpu_supports_avx2(void);          /* AVX2 + F16C, OS saves YMM state */
int fi_cpu_supports_avx512(void);        /* F + BW + DQ + VL, OS saves opmask and ZMM state */
int fi_cpu_supports_avx512_bf16(void);   /* ... plus AVX512_BF16 */
int fi_cpu_supports_neon(void);          /* aarch64 Advanced SIMD */

/*
 * dispatch.c: the registry, an ordered list of kernel tables, best first.
 * "auto" picks the first usable one.  A slot that the chosen table leaves
 * NULL is served by the next usable table below it that has the slot; this
 * is resolved once, when the table is selected, never at fill time.
 */
int fi_kernel_table_count(void);
const char *fi_kernel_table_name(int index);
int fi_kernel_table_usable(int index);
const char *fi_kernel_table_requirement(int index);   /* what a table needs, for messages */
/* "auto" or a registry name: 0 selected, -1 unknown name, -2 not usable on this CPU/build. */
int fi_select_kernels(const char *name);
/* The selected table with every slot resolved; its name is the selected entry's. */
const fi_kernel_table *fi_active_kernels(void);
/* Registry index of the table serving (dist, dtype) in the selection, -1 when none has it. */
int fi_active_kernel_source(int dist, int dtype);

/* A slot the active table leaves empty falls back to the portable kernel (same bits). */
static inline fi_fill_fn fi_lookup_kernel(int dist, int dtype)
{
    return fi_active_kernels()->fill[dist][dtype];   /* empty slots were resolved at selection */
}

/* fill.c: an output described as a (possibly strided) box of a logical array. */
typedef struct {
    fi_fill_fn fill;
    fi_params params;                  /* the caller's, copied; only `streaming` is set here */
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

void fi_plan_init(fi_plan *plan, fi_fill_fn fill, const fi_params *params, size_t itemsize,
                  int ndim, const int64_t *shape, const int64_t *lstride, const int64_t *bstride,
                  uint64_t loffset, char *data);
int64_t fi_plan_segment_length(void);
int64_t fi_plan_streaming_bytes(void);   /* outputs this large (and direct) use streaming stores */
void fi_plan_run(const fi_plan *plan, int64_t item_begin, int64_t item_end, int nthreads);

void fi_params_init(fi_params *p, uint64_t seed, uint64_t stream, const double *values, int count);

#endif
