/*
 * AVX-512 kernel table (x86-64-v4: F, BW, DQ, VL).  This translation unit
 * alone is compiled with those flags (src_c/simd_sources.json); dispatch.c
 * uses it only after cpu.c says the CPU and the OS support it.  The bfloat16
 * conversion instruction (AVX512-BF16) is used only inside functions marked
 * with a target attribute, and only after a run-time check.
 *
 * The maths (Philox, transpose, log, Box-Muller, inverse CDF) is in
 * fi_avx512.h; this file holds the stores, the batches and the table.
 * Sixty-four Philox blocks run side by side, one block per 32-bit lane in
 * four independent groups of sixteen, then a 4x16 transpose per group puts
 * the words back in stream order.  Every transform repeats the scalar one in
 * fi_scalar.h operation for operation (no fused multiply-add), so all paths
 * agree bit for bit.  The exact shortcuts are the AVX2 table's (integer range
 * reduction in the log, integer quadrant in Box-Muller) plus a correctly
 * rounded uint32 -> float conversion; tools/exhaustive_f32.c checks the
 * float32 normal transform here against the scalar one for every input word.
 */
#include <immintrin.h>

#include "fastinit.h"
#include "fi_avx512.h"
#include "fi_run.h"
#include "fi_scalar.h"

/* ---- stores ---- */

/* Streaming (non-temporal) zmm stores need 64-byte alignment; fi_run.h peels blocks to get it. */
static inline int use_streaming(const fi_params *p, const void *dst)
{
    return p->streaming && ((uintptr_t)dst & 63u) == 0;
}

static inline void store512(void *dst, __m512i v, int streaming)
{
    if (streaming)
        _mm512_stream_si512(dst, v);
    else
        _mm512_storeu_si512(dst, v);
}

static inline void finish_streaming(const fi_params *p)
{
    if (p->streaming)
        _mm_sfence();   /* order the non-temporal stores before the caller reads */
}

static inline void store_f32x64(float *dst, const __m512 v[4], int streaming)
{
    __m512i out[4], in[4] = {_mm512_castps_si512(v[0]), _mm512_castps_si512(v[1]),
                             _mm512_castps_si512(v[2]), _mm512_castps_si512(v[3])};
    transpose4x16(in, out);
    for (int i = 0; i < 4; i++)
        store512(dst + 16 * i, out[i], streaming);
}

static inline void store_f16x64(uint16_t *dst, const __m512 v[4], int streaming)
{
    __m512i out[4], in[4] = {_mm512_castps_si512(v[0]), _mm512_castps_si512(v[1]),
                             _mm512_castps_si512(v[2]), _mm512_castps_si512(v[3])};
    transpose4x16(in, out);
    for (int i = 0; i < 4; i += 2) {
        __m256i h0 = _mm512_cvtps_ph(_mm512_castsi512_ps(out[i]), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256i h1 = _mm512_cvtps_ph(_mm512_castsi512_ps(out[i + 1]), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        store512(dst + 16 * i, _mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1), streaming);
    }
}

/*
 * bfloat16 of 32 non-NaN floats (a then b) as fi_f32_to_bf16: add the
 * round-to-nearest-even bias, keep the high halves (one vpermt2w).
 */
static inline __m512i bf16_round32(__m512i a, __m512i b)
{
    const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
    const __m512i high_halves = _mm512_setr_epi32(
        0x00030001, 0x00070005, 0x000B0009, 0x000F000D, 0x00130011, 0x00170015, 0x001B0019, 0x001F001D,
        0x00230021, 0x00270025, 0x002B0029, 0x002F002D, 0x00330031, 0x00370035, 0x003B0039, 0x003F003D);
    __m512i ra = _mm512_add_epi32(_mm512_add_epi32(a, bias), _mm512_and_si512(_mm512_srli_epi32(a, 16), one));
    __m512i rb = _mm512_add_epi32(_mm512_add_epi32(b, bias), _mm512_and_si512(_mm512_srli_epi32(b, 16), one));
    return _mm512_permutex2var_epi16(ra, high_halves, rb);
}

static inline void store_bf16x64_int(uint16_t *dst, const __m512 v[4], int streaming)
{
    __m512i out[4], in[4] = {_mm512_castps_si512(v[0]), _mm512_castps_si512(v[1]),
                             _mm512_castps_si512(v[2]), _mm512_castps_si512(v[3])};
    transpose4x16(in, out);
    for (int i = 0; i < 4; i += 2)
        store512(dst + 16 * i, bf16_round32(out[i], out[i + 1]), streaming);
}

/*
 * With AVX512-BF16: vcvtne2ps2bf16 rounds to nearest even like
 * fi_f32_to_bf16 for every non-NaN float EXCEPT denormals, which it flushes
 * to zero; a pair of vectors holding any denormal takes the integer path.
 */
#define FI_TARGET_BF16 __attribute__((target("avx512bf16")))

FI_TARGET_BF16 static inline void store_bf16x64_native(uint16_t *dst, const __m512 v[4], int streaming)
{
    __m512i out[4], in[4] = {_mm512_castps_si512(v[0]), _mm512_castps_si512(v[1]),
                             _mm512_castps_si512(v[2]), _mm512_castps_si512(v[3])};
    transpose4x16(in, out);
    for (int i = 0; i < 4; i += 2) {
        __m512 a = _mm512_castsi512_ps(out[i]), b = _mm512_castsi512_ps(out[i + 1]);
        __m512i packed;
        if (_mm512_fpclass_ps_mask(a, 0x20) | _mm512_fpclass_ps_mask(b, 0x20))   /* 0x20: denormal */
            packed = bf16_round32(out[i], out[i + 1]);
        else
            packed = (__m512i)_mm512_cvtne2ps_pbh(b, a);   /* low half from the second operand */
        store512(dst + 16 * i, packed, streaming);
    }
}

/* Elements 2k, 2k+1 of eight blocks from per-block even/odd values. */
static inline void store_f64_pairs(double *dst, __m512d even, __m512d odd, int streaming)
{
    const __m512i first = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i second = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    store512(dst, _mm512_castpd_si512(_mm512_permutex2var_pd(even, first, odd)), streaming);
    store512(dst + 8, _mm512_castpd_si512(_mm512_permutex2var_pd(even, second, odd)), streaming);
}

/* ---- batches of BATCH_BLOCKS blocks: PHILOX_GROUPS groups of 16 ---- */

static inline void raw_batch(const fi_params *p, uint64_t block, uint32_t *dst)
{
    __m512i w[PHILOX_GROUPS][4], out[4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        transpose4x16(w[g], out);
        for (int i = 0; i < 4; i++)
            store512(dst + 64 * g + 16 * i, out[i], streaming);
    }
}

/* v[g][i] lane k: element i of block block + 16g + k, in float32. */
static inline void uniform_batch_f32(const fi_params *p, uint64_t block, __m512 v[PHILOX_GROUPS][4])
{
    __m512i w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const __m512 low = PS(p->pf[0]), scale = PS(p->pf[1]), high = PS(p->pf[2]);
    EACH_GROUP(g) for (int i = 0; i < 4; i++) {
        __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w[g][i], 8)), PS(FI_TWO_M24_F));
        v[g][i] = _mm512_min_ps(_mm512_add_ps(low, _mm512_mul_ps(scale, u)), high);
    }
}

static inline void normal_batch_f32(const fi_params *p, uint64_t block, __m512 v[PHILOX_GROUPS][4])
{
    __m512i w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const __m512 mean = PS(p->pf[0]), std = PS(p->pf[1]);
    /* Pairs (radius, angle) are words (0, 1) and (2, 3) of each block: 8 pairs of vectors. */
    __m512i xr[LANES8], xa[LANES8];
    __m512 zc[LANES8], zs[LANES8];
    EACH_GROUP(g) {
        xr[2 * g] = w[g][0]; xa[2 * g] = w[g][1];
        xr[2 * g + 1] = w[g][2]; xa[2 * g + 1] = w[g][3];
    }
    box_muller16x8(xr, xa, zc, zs);
    EACH_GROUP(g) {
        v[g][0] = _mm512_add_ps(mean, _mm512_mul_ps(std, zc[2 * g]));
        v[g][1] = _mm512_add_ps(mean, _mm512_mul_ps(std, zs[2 * g]));
        v[g][2] = _mm512_add_ps(mean, _mm512_mul_ps(std, zc[2 * g + 1]));
        v[g][3] = _mm512_add_ps(mean, _mm512_mul_ps(std, zs[2 * g + 1]));
    }
}

static inline void trunc_normal_batch_f32(const fi_params *p, uint64_t block, __m512 v[PHILOX_GROUPS][4])
{
    __m512i w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        __m512 u[LANES4];
        EACH4(j) u[j] = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w[g][j], 9)), PS(0.5f)),
                                      PS(FI_TWO_M23_F));
        trunc_normal16x4(p, u, v[g]);
    }
}

#define DEFINE_F32_FAMILY(DIST)                                                                  \
    static inline void DIST##_batch_store_f32(const fi_params *p, uint64_t b, float *d)           \
    {                                                                                            \
        __m512 v[PHILOX_GROUPS][4];                                                              \
        const int streaming = use_streaming(p, d);                                               \
        DIST##_batch_f32(p, b, v);                                                               \
        EACH_GROUP(g) store_f32x64(d + 64 * g, v[g], streaming);                                 \
    }                                                                                            \
    static inline void DIST##_batch_store_f16(const fi_params *p, uint64_t b, uint16_t *d)        \
    {                                                                                            \
        __m512 v[PHILOX_GROUPS][4];                                                              \
        const int streaming = use_streaming(p, d);                                               \
        DIST##_batch_f32(p, b, v);                                                               \
        EACH_GROUP(g) store_f16x64(d + 64 * g, v[g], streaming);                                 \
    }                                                                                            \
    static inline void DIST##_batch_store_bf16_int(const fi_params *p, uint64_t b, uint16_t *d)   \
    {                                                                                            \
        __m512 v[PHILOX_GROUPS][4];                                                              \
        const int streaming = use_streaming(p, d);                                               \
        DIST##_batch_f32(p, b, v);                                                               \
        EACH_GROUP(g) store_bf16x64_int(d + 64 * g, v[g], streaming);                            \
    }                                                                                            \
    FI_TARGET_BF16 static inline void DIST##_batch_store_bf16_native(const fi_params *p, uint64_t b, \
                                                                     uint16_t *d)                \
    {                                                                                            \
        __m512 v[PHILOX_GROUPS][4];                                                              \
        const int streaming = use_streaming(p, d);                                               \
        DIST##_batch_f32(p, b, v);                                                               \
        EACH_GROUP(g) store_bf16x64_native(d + 64 * g, v[g], streaming);                         \
    }

DEFINE_F32_FAMILY(uniform)
DEFINE_F32_FAMILY(normal)
DEFINE_F32_FAMILY(trunc_normal)

static inline void uniform_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    __m512i w[PHILOX_GROUPS][4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    const __m512d low = PD(p->p[0]), scale = PD(p->p[1]), high = PD(p->p[2]), two_m53 = PD(FI_TWO_M53);
    EACH_GROUP(g) for (int h = 0; h < 2; h++) {
        __m512d ue = _mm512_mul_pd(u53_8(w[g][0], w[g][1], h), two_m53);
        __m512d uo = _mm512_mul_pd(u53_8(w[g][2], w[g][3], h), two_m53);
        store_f64_pairs(dst + 32 * g + 16 * h,
                        _mm512_min_pd(_mm512_add_pd(low, _mm512_mul_pd(scale, ue)), high),
                        _mm512_min_pd(_mm512_add_pd(low, _mm512_mul_pd(scale, uo)), high), streaming);
    }
}

static inline void normal_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    __m512i w[PHILOX_GROUPS][4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    __m512d zc[LANES8], zs[LANES8];
    box_muller8dx8(w, zc, zs);
    const __m512d mean = PD(p->p[0]), std = PD(p->p[1]);
    /* Vector j holds blocks 16(j/2) + 8(j%2) .. +7: output pairs in order. */
    EACH(j) store_f64_pairs(dst + 16 * j, _mm512_add_pd(mean, _mm512_mul_pd(std, zc[j])),
                            _mm512_add_pd(mean, _mm512_mul_pd(std, zs[j])), streaming);
}

static inline void trunc_normal_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    __m512i w[PHILOX_GROUPS][4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        /* u[2h] / u[2h+1]: even / odd elements of blocks block + 16g + 8h .. +7. */
        __m512d u[LANES4], v[LANES4];
        for (int h = 0; h < 2; h++) {
            u[2 * h] = open_u52_8(w[g][0], w[g][1], h);
            u[2 * h + 1] = open_u52_8(w[g][2], w[g][3], h);
        }
        trunc_normal8dx4(p, u, v);
        for (int h = 0; h < 2; h++)
            store_f64_pairs(dst + 32 * g + 16 * h, v[2 * h], v[2 * h + 1], streaming);
    }
}

/* Up to 15 single blocks reach 64-byte alignment for 8-byte blocks (half types). */
#define PEEL 16
#define DEFINE_FILL(NAME, T, EPB, UNIT, BATCH) \
    FI_DEFINE_FILL_ALIGNED(NAME, T, EPB, UNIT, BATCH_BLOCKS, BATCH, PEEL, 64, finish_streaming)

DEFINE_FILL(raw_u32, uint32_t, 4, fi_unit_raw_u32, raw_batch)
DEFINE_FILL(uniform_f32, float, 4, fi_unit_uniform_f32, uniform_batch_store_f32)
DEFINE_FILL(uniform_f64, double, 2, fi_unit_uniform_f64, uniform_batch_store_f64)
DEFINE_FILL(uniform_f16, uint16_t, 4, fi_unit_uniform_f16, uniform_batch_store_f16)
DEFINE_FILL(normal_f32, float, 4, fi_unit_normal_f32, normal_batch_store_f32)
DEFINE_FILL(normal_f64, double, 2, fi_unit_normal_f64, normal_batch_store_f64)
DEFINE_FILL(normal_f16, uint16_t, 4, fi_unit_normal_f16, normal_batch_store_f16)
DEFINE_FILL(trunc_normal_f32, float, 4, fi_unit_trunc_normal_f32, trunc_normal_batch_store_f32)
DEFINE_FILL(trunc_normal_f64, double, 2, fi_unit_trunc_normal_f64, trunc_normal_batch_store_f64)
DEFINE_FILL(trunc_normal_f16, uint16_t, 4, fi_unit_trunc_normal_f16, trunc_normal_batch_store_f16)

/* bfloat16: the native-conversion fill where the CPU has AVX512-BF16, else the integer one. */
static int native_bf16_allowed = 1;
static int native_bf16_cached = -1;   /* cpuid result, looked up once */

void fi_avx512_allow_native_bf16(int allow)
{
    __atomic_store_n(&native_bf16_allowed, allow != 0, __ATOMIC_RELAXED);
}

static inline int use_native_bf16(void)
{
    int have = __atomic_load_n(&native_bf16_cached, __ATOMIC_RELAXED);
    if (have < 0) {
        have = fi_cpu_supports_avx512_bf16();
        __atomic_store_n(&native_bf16_cached, have, __ATOMIC_RELAXED);
    }
    return have && __atomic_load_n(&native_bf16_allowed, __ATOMIC_RELAXED);
}

#define DEFINE_BF16_FILL(DIST)                                                                     \
    DEFINE_FILL(DIST##_bf16_int, uint16_t, 4, fi_unit_##DIST##_bf16, DIST##_batch_store_bf16_int)   \
    FI_TARGET_BF16 DEFINE_FILL(DIST##_bf16_native, uint16_t, 4, fi_unit_##DIST##_bf16,             \
                               DIST##_batch_store_bf16_native)                                     \
    static void DIST##_bf16(const fi_params *p, uint64_t first, size_t count, void *dst)           \
    {                                                                                              \
        if (use_native_bf16())                                                                     \
            DIST##_bf16_native(p, first, count, dst);                                              \
        else                                                                                       \
            DIST##_bf16_int(p, first, count, dst);                                                 \
    }

DEFINE_BF16_FILL(uniform)
DEFINE_BF16_FILL(normal)
DEFINE_BF16_FILL(trunc_normal)

/*
 * Constant fills draw nothing: the slots stay NULL and the registry serves
 * them from the next table below (the shared portable loops), which also
 * keeps the per-slot fallback exercised on every AVX-512 machine.
 */
const fi_kernel_table fi_kernels_avx512 = {
    "avx512",
    {
        FI_RANDOM_KERNELS,
    },
};
