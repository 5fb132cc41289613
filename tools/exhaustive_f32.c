/*
 * Exhaustive bit-identity check of the AVX2 float32 normal transform against
 * the scalar definition in src_c/fi_scalar.h.
 *
 * Where kernels_avx2.c computes a step with different (cheaper) operations
 * than the scalar code, random tests cannot prove that the bits agree: a
 * boundary case hit once in 2^23 inputs slips through.  This program tries
 * every input instead:
 *   1. log8x4 == fi_log_f32 for every finite float >= +0 (2^31 - 2^23 values);
 *   2. box_muller8x4 == fi_box_muller_f32 for every radius word (2^32), and
 *      for every angle word (2^32), the other word of each pair scrambled.
 * About 1.5 minutes on two cores.  Build and run with tools/exhaustive_f32.sh.
 */
#include <stdio.h>
#include <string.h>

#include "../src_c/kernels_avx2.c"

#define GOLDEN_RATIO_32 0x9E3779B9u   /* odd: a bijective scramble of the other word */

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
        for (int k = 0; k < 8; k++) {
            float want = fi_log_f32(in[k]);
            if (memcmp(&want, &out[k], sizeof want) != 0) {
                if (report)
                    printf("log differs at bits 0x%08x: avx2 %.9g scalar %.9g\n", fi_f32_bits(in[k]), out[k], want);
                bad = 1;
            }
        }
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
        for (int k = 0; k < 8; k++) {
            float want_c, want_s;
            fi_box_muller_f32(r[k], a[k], &want_c, &want_s);
            if (memcmp(&want_c, &c[k], 4) != 0 || memcmp(&want_s, &s[k], 4) != 0) {
                if (report)
                    printf("box_muller differs at radius 0x%08x angle 0x%08x: avx2 (%.9g, %.9g) scalar (%.9g, %.9g)\n",
                           r[k], a[k], c[k], s[k], want_c, want_s);
                bad = 1;
            }
        }
    }
    return bad;
}

int main(void)
{
    if (!fi_cpu_supports_avx2()) {
        printf("exhaustive_f32: skipped, this CPU has no AVX2/FMA/F16C\n");
        return 0;
    }
    const int64_t batch = 8 * LANES4;
    int64_t log_bad = 0, radius_bad = 0, angle_bad = 0;

    /* 0x7F800000 is +inf; every bit pattern below it is a finite float >= +0. */
#pragma omp parallel for schedule(static) reduction(+ : log_bad)
    for (int64_t b = 0; b < 0x7F800000; b += batch)
        log_bad += log_differs((uint32_t)b, log_bad < 5);
    printf("log8x4 vs fi_log_f32, every finite float >= 0: %lld differing batches\n", (long long)log_bad);

#pragma omp parallel for schedule(static) reduction(+ : radius_bad, angle_bad)
    for (int64_t b = 0; b < ((int64_t)1 << 32); b += batch) {
        radius_bad += box_muller_differs((uint32_t)b, 0, radius_bad < 5);
        angle_bad += box_muller_differs((uint32_t)b, 1, angle_bad < 5);
    }
    printf("box_muller8x4 vs fi_box_muller_f32, every radius word: %lld differing batches\n", (long long)radius_bad);
    printf("box_muller8x4 vs fi_box_muller_f32, every angle word: %lld differing batches\n", (long long)angle_bad);
    return (log_bad || radius_bad || angle_bad) ? 1 : 0;
}
