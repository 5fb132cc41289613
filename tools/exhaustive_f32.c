/*
 * Exhaustive bit-identity check of a SIMD table's float32 normal transform
 * against the scalar definition in src_c/fi_scalar.h.
 *
 * Where a kernel file computes a step with different (cheaper) operations
 * than the scalar code, random tests cannot prove that the bits agree: a
 * boundary case hit once in 2^23 inputs slips through.  This program tries
 * every input instead:
 *   1. the vector log == fi_log_f32 for every finite float >= +0 (2^31 - 2^23 values);
 *   2. the vector Box-Muller == fi_box_muller_f32 for every radius word
 *      (2^32), and for every angle word (2^32), the other word of each pair
 *      scrambled.
 * Built once per table (tools/exhaustive_f32.sh, with that table's flags
 * from src_c/simd_sources.json): -DFI_EXHAUSTIVE_AVX512 checks
 * kernels_avx512.c (log16xn, box_muller16x8 of fi_avx512.h), -DFI_EXHAUSTIVE_AVX2
 * kernels_avx2.c (log8x4, box_muller8x4).  A CPU without the instruction set skips with a
 * message.  About 1.5 minutes per table on two cores.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The scalar side of both checks, one lane at a time; defined after the table's section,
   which includes the scalar definitions. */
static int log_lanes_differ(const float *in, const float *out, int n, int report);
static int box_muller_lanes_differ(const uint32_t *r, const uint32_t *a, const float *c,
                                   const float *s, int n, int report);

#define GOLDEN_RATIO_32 0x9E3779B9u   /* odd: a bijective scramble of the other word */

#if defined(FI_EXHAUSTIVE_AVX512)
#include "../src_c/kernels_avx512.c"

#define TABLE_NAME "avx512"
#define CPU_SUPPORTS fi_cpu_supports_avx512
#define BATCH (16 * LANES8)

static int log_differs(uint32_t first_bits, int report)
{
    __m512 u[LANES8], got[LANES8];
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    EACH(j) u[j] = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_set1_epi32((int)(first_bits + 16u * j)), lane));
    log16xn(u, got, LANES8);
    int bad = 0;
    EACH(j) {
        float in[16], out[16];
        _mm512_storeu_ps(in, u[j]);
        _mm512_storeu_ps(out, got[j]);
        bad |= log_lanes_differ(in, out, 16, report);
    }
    return bad;
}

static int box_muller_differs(uint32_t first, int vary_angle, int report)
{
    __m512i xr[LANES8], xa[LANES8];
    __m512 zc[LANES8], zs[LANES8];
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    EACH(j) {
        __m512i w = _mm512_add_epi32(_mm512_set1_epi32((int)(first + 16u * j)), lane);
        __m512i other = _mm512_mullo_epi32(w, _mm512_set1_epi32((int)GOLDEN_RATIO_32));
        xr[j] = vary_angle ? other : w;
        xa[j] = vary_angle ? w : other;
    }
    box_muller16x8(xr, xa, zc, zs);
    int bad = 0;
    EACH(j) {
        uint32_t r[16], a[16];
        float c[16], s[16];
        _mm512_storeu_si512(r, xr[j]);
        _mm512_storeu_si512(a, xa[j]);
        _mm512_storeu_ps(c, zc[j]);
        _mm512_storeu_ps(s, zs[j]);
        bad |= box_muller_lanes_differ(r, a, c, s, 16, report);
    }
    return bad;
}

#elif defined(FI_EXHAUSTIVE_AVX2)
#include "../src_c/kernels_avx2.c"

#define TABLE_NAME "avx2"
#define CPU_SUPPORTS fi_cpu_supports_avx2
#define BATCH (8 * LANES4)

static int log_differs(uint32_t first_bits, int report)
{
    __m256 u[LANES4], got[LANES4];
    EACH(j) u[j] = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_set1_epi32((int)(first_bits + 8u * j)),
                                                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    log8x4(u, got);
    int bad = 0;
    EACH(j) {
        float in[8], out[8];
        _mm256_storeu_ps(in, u[j]);
        _mm256_storeu_ps(out, got[j]);
        bad |= log_lanes_differ(in, out, 8, report);
    }
    return bad;
}

/* Words first .. first + 31 as radius words (vary_angle = 0) or angle words (1). */
static int box_muller_differs(uint32_t first, int vary_angle, int report)
{
    __m256i xr[LANES4], xa[LANES4];
    __m256 zc[LANES4], zs[LANES4];
    EACH(j) {
        __m256i w = _mm256_add_epi32(_mm256_set1_epi32((int)(first + 8u * j)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256i other = _mm256_mullo_epi32(w, _mm256_set1_epi32((int)GOLDEN_RATIO_32));
        xr[j] = vary_angle ? other : w;
        xa[j] = vary_angle ? w : other;
    }
    box_muller8x4(xr, xa, zc, zs);
    int bad = 0;
    EACH(j) {
        uint32_t r[8], a[8];
        float c[8], s[8];
        _mm256_storeu_si256((__m256i *)r, xr[j]);
        _mm256_storeu_si256((__m256i *)a, xa[j]);
        _mm256_storeu_ps(c, zc[j]);
        _mm256_storeu_ps(s, zs[j]);
        bad |= box_muller_lanes_differ(r, a, c, s, 8, report);
    }
    return bad;
}
#else
#error "define FI_EXHAUSTIVE_<TABLE> for a table this program knows (see tools/exhaustive_f32.sh)"
#endif

/* Whether any of the n lanes of a vector log differs in its bits from fi_log_f32. */
static int log_lanes_differ(const float *in, const float *out, int n, int report)
{
    int bad = 0;
    for (int k = 0; k < n; k++) {
        float want = fi_log_f32(in[k]);
        if (memcmp(&want, &out[k], sizeof want) != 0) {
            if (report)
                printf("log differs at bits 0x%08x: %s %.9g scalar %.9g\n", fi_f32_bits(in[k]), TABLE_NAME,
                       out[k], want);
            bad = 1;
        }
    }
    return bad;
}

/* Whether any of the n lanes of a vector Box-Muller differs in its bits from fi_box_muller_f32. */
static int box_muller_lanes_differ(const uint32_t *r, const uint32_t *a, const float *c,
                                   const float *s, int n, int report)
{
    int bad = 0;
    for (int k = 0; k < n; k++) {
        float want_c, want_s;
        fi_box_muller_f32(r[k], a[k], &want_c, &want_s);
        if (memcmp(&want_c, &c[k], 4) != 0 || memcmp(&want_s, &s[k], 4) != 0) {
            if (report)
                printf("box_muller differs at radius 0x%08x angle 0x%08x: %s (%.9g, %.9g) scalar (%.9g, %.9g)\n",
                       r[k], a[k], TABLE_NAME, c[k], s[k], want_c, want_s);
            bad = 1;
        }
    }
    return bad;
}

int main(void)
{
    if (!CPU_SUPPORTS()) {
        printf("exhaustive_f32 %s: skipped, this CPU or OS cannot run the %s table\n", TABLE_NAME, TABLE_NAME);
        return 0;
    }
    const int64_t batch = BATCH;
    int64_t log_bad = 0, radius_bad = 0, angle_bad = 0;

    /* 0x7F800000 is +inf; every bit pattern below it is a finite float >= +0. */
#pragma omp parallel for schedule(static) reduction(+ : log_bad)
    for (int64_t b = 0; b < 0x7F800000; b += batch)
        log_bad += log_differs((uint32_t)b, log_bad < 5);
    printf("%s log vs fi_log_f32, every finite float >= 0: %lld differing batches\n", TABLE_NAME, (long long)log_bad);

#pragma omp parallel for schedule(static) reduction(+ : radius_bad, angle_bad)
    for (int64_t b = 0; b < ((int64_t)1 << 32); b += batch) {
        radius_bad += box_muller_differs((uint32_t)b, 0, radius_bad < 5);
        angle_bad += box_muller_differs((uint32_t)b, 1, angle_bad < 5);
    }
    printf("%s box_muller vs fi_box_muller_f32, every radius word: %lld differing batches\n", TABLE_NAME, (long long)radius_bad);
    printf("%s box_muller vs fi_box_muller_f32, every angle word: %lld differing batches\n", TABLE_NAME, (long long)angle_bad);
    return (log_bad || radius_bad || angle_bad) ? 1 : 0;
}
