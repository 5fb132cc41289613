/*
 * AVX2 + F16C kernel table.  This translation unit alone is compiled with
 * -mavx2 -mf16c (see setup.py); dispatch.c uses it only after cpuid says so.
 *
 * Thirty-two Philox blocks run side by side, one block per 32-bit lane in
 * four independent groups of eight ("structure of arrays"), then a 4x8
 * transpose per group puts the words back in stream order.  Every transform
 * repeats the scalar one in fi_scalar.h operation for operation, so the two
 * paths agree bit for bit; the two exceptions (log8x4's range reduction and
 * box_muller8x4's quadrant, done in integer steps) give the same bits for
 * every input word, which tools/exhaustive_f32.c checks.
 */
#include <immintrin.h>

#include "fastinit.h"
#include "fi_run.h"
#include "fi_scalar.h"

#define PHILOX_GROUPS 4                       /* measured best on Zen 3: 4 chains in flight */
#define BATCH_BLOCKS (8 * PHILOX_GROUPS)

/* ---- Philox on 8 blocks ---- */

/* High 32 bits of a * m per lane (m broadcast); the low half is _mm256_mullo_epi32. */
static inline __m256i mulhi8(__m256i a, __m256i m)
{
    __m256i even = _mm256_mul_epu32(a, m);                       /* lanes 0,2,4,6 */
    __m256i odd = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m); /* lanes 1,3,5,7 */
    return _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xF5), odd, 0xAA);
}

/* Counters of blocks block..block+7, carrying into the high word where the low word wraps. */
static inline void philox8_counters(uint64_t block, __m256i *c0, __m256i *c1)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    *c0 = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)block), lane);
    __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(lane, sign), _mm256_xor_si256(*c0, sign));
    *c1 = _mm256_sub_epi32(_mm256_set1_epi32((int)(uint32_t)(block >> 32)), carry);
}

/*
 * Words of PHILOX_GROUPS * 8 consecutive blocks, the groups advanced in
 * lockstep so that their dependency chains overlap:
 * w[g][i] lane k = word i of block block + 8g + k.
 */
static inline void philox_groups(const fi_params *p, uint64_t block, __m256i w[PHILOX_GROUPS][4])
{
    __m256i c0[PHILOX_GROUPS], c1[PHILOX_GROUPS], c2[PHILOX_GROUPS], c3[PHILOX_GROUPS];
    const __m256i m0 = _mm256_set1_epi32((int)FI_PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi32((int)FI_PHILOX_M1);
    /* Round 0: counter words 2 and 3 (the stream) are the same in every lane. */
    uint32_t hi_s, lo_s = fi_mulhilo32(FI_PHILOX_M1, (uint32_t)p->stream, &hi_s);
    const __m256i r0_c0_xor = _mm256_set1_epi32((int)(hi_s ^ p->key.k0[0]));
    const __m256i r0_c1 = _mm256_set1_epi32((int)lo_s);
    const __m256i r0_c2_xor = _mm256_set1_epi32((int)((uint32_t)(p->stream >> 32) ^ p->key.k1[0]));
    for (int g = 0; g < PHILOX_GROUPS; g++) {
        __m256i ctr0, ctr1;
        philox8_counters(block + 8 * (uint64_t)g, &ctr0, &ctr1);
        c0[g] = _mm256_xor_si256(ctr1, r0_c0_xor);
        c1[g] = r0_c1;
        c2[g] = _mm256_xor_si256(mulhi8(ctr0, m0), r0_c2_xor);
        c3[g] = _mm256_mullo_epi32(ctr0, m0);
    }
    for (int r = 1; r < FI_PHILOX_ROUNDS; r++) {
        const __m256i k0 = _mm256_set1_epi32((int)p->key.k0[r]);
        const __m256i k1 = _mm256_set1_epi32((int)p->key.k1[r]);
        for (int g = 0; g < PHILOX_GROUPS; g++) {
            __m256i hi0 = mulhi8(c0[g], m0), lo0 = _mm256_mullo_epi32(c0[g], m0);
            __m256i hi1 = mulhi8(c2[g], m1), lo1 = _mm256_mullo_epi32(c2[g], m1);
            c0[g] = _mm256_xor_si256(hi1, _mm256_xor_si256(c1[g], k0));
            c1[g] = lo1;
            c2[g] = _mm256_xor_si256(hi0, _mm256_xor_si256(c3[g], k1));
            c3[g] = lo0;
        }
    }
    for (int g = 0; g < PHILOX_GROUPS; g++) {
        w[g][0] = c0[g]; w[g][1] = c1[g]; w[g][2] = c2[g]; w[g][3] = c3[g];
    }
}

/* Structure of arrays (v[i] lane k = element i of block k) -> stream order. */
static inline void transpose4x8(const __m256i v[4], __m256i out[4])
{
    __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]);
    __m256i t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]);
    __m256i t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    __m256i b04 = _mm256_unpacklo_epi64(t0, t2);   /* blocks 0 | 4 */
    __m256i b15 = _mm256_unpackhi_epi64(t0, t2);   /* blocks 1 | 5 */
    __m256i b26 = _mm256_unpacklo_epi64(t1, t3);   /* blocks 2 | 6 */
    __m256i b37 = _mm256_unpackhi_epi64(t1, t3);   /* blocks 3 | 7 */
    out[0] = _mm256_permute2x128_si256(b04, b15, 0x20);
    out[1] = _mm256_permute2x128_si256(b26, b37, 0x20);
    out[2] = _mm256_permute2x128_si256(b04, b15, 0x31);
    out[3] = _mm256_permute2x128_si256(b26, b37, 0x31);
}

/* ---- float32 maths (mirrors fi_scalar.h) ----
 *
 * Each step runs over LANES4 independent vectors before the next step
 * starts: the chains (divide, polynomial, square root) are long, and putting
 * the four side by side in program order lets the core overlap them.
 */
#define LANES4 4
#define EACH(j) for (int j = 0; j < LANES4; j++)

static inline void log8x4(const __m256 u[LANES4], __m256 out[LANES4])
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256i e[LANES4];
    __m256 m[LANES4], s[LANES4], s2[LANES4], poly[LANES4], ef[LANES4];
    EACH(j) {
        /* fi_log_f32's range reduction in integer steps: adding 0x4AFB0C carries
         * into the exponent exactly when the mantissa exceeds sqrt(2)'s, which
         * both halves m and bumps e (three fewer operations, same bits). */
        __m256i bits = _mm256_add_epi32(_mm256_castps_si256(u[j]), _mm256_set1_epi32(FI_LOG_SQRT2_CARRY));
        e[j] = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
        m[j] = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)),
                                                    _mm256_set1_epi32(0x3F800000 - FI_LOG_SQRT2_CARRY)));
    }
    EACH(j) s[j] = _mm256_div_ps(_mm256_sub_ps(m[j], one), _mm256_add_ps(m[j], one));
    EACH(j) s2[j] = _mm256_mul_ps(s[j], s[j]);
    EACH(j) poly[j] = _mm256_set1_ps(FI_LOG_F_C4);
    EACH(j) poly[j] = _mm256_add_ps(_mm256_mul_ps(poly[j], s2[j]), _mm256_set1_ps(FI_LOG_F_C3));
    EACH(j) poly[j] = _mm256_add_ps(_mm256_mul_ps(poly[j], s2[j]), _mm256_set1_ps(FI_LOG_F_C2));
    EACH(j) poly[j] = _mm256_add_ps(_mm256_mul_ps(poly[j], s2[j]), _mm256_set1_ps(FI_LOG_F_C1));
    EACH(j) {
        __m256 lnm = _mm256_add_ps(_mm256_add_ps(s[j], s[j]),
                                   _mm256_mul_ps(_mm256_mul_ps(s[j], s2[j]), poly[j]));
        ef[j] = _mm256_cvtepi32_ps(e[j]);
        out[j] = _mm256_add_ps(_mm256_mul_ps(ef[j], _mm256_set1_ps(FI_LN2_HI_F)),
                               _mm256_add_ps(lnm, _mm256_mul_ps(ef[j], _mm256_set1_ps(FI_LN2_LO_F))));
    }
}

static inline __m256 u32_to_f32_8(__m256i x)
{
    __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(x, 16));
    __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(x, _mm256_set1_epi32(0xFFFF)));
    return _mm256_add_ps(_mm256_mul_ps(hi, _mm256_set1_ps(65536.0f)), lo);
}

/* Four Box-Muller pairs of vectors: z[j] from radius words xr[j] and angle words xa[j]. */
static inline void box_muller8x4(const __m256i xr[LANES4], const __m256i xa[LANES4],
                                 __m256 z_cos[LANES4], __m256 z_sin[LANES4])
{
    __m256 u[LANES4], lnu[LANES4], r[LANES4], a[LANES4], a2[LANES4], sp[LANES4], cp[LANES4];
    __m256i t[LANES4];
    EACH(j) u[j] = _mm256_mul_ps(_mm256_add_ps(u32_to_f32_8(xr[j]), _mm256_set1_ps(1.0f)),
                                 _mm256_set1_ps(FI_TWO_M32_F));
    log8x4(u, lnu);
    EACH(j) r[j] = _mm256_sqrt_ps(_mm256_mul_ps(lnu[j], _mm256_set1_ps(-2.0f)));
    EACH(j) {
        /* t = x_angle + 2^29 carries the quadrant q in bits 31..30 (fi_box_muller_f32's q << 30). */
        t[j] = _mm256_add_epi32(xa[j], _mm256_set1_epi32(0x20000000));
        __m256i d = _mm256_sub_epi32(xa[j], _mm256_and_si256(t[j], _mm256_set1_epi32((int)0xC0000000u)));
        a[j] = _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(FI_TWO_PI_2M32_F));
        a2[j] = _mm256_mul_ps(a[j], a[j]);
    }
    EACH(j) { sp[j] = _mm256_set1_ps(FI_SIN_F_C4); cp[j] = _mm256_set1_ps(FI_COS_F_C5); }
    EACH(j) {
        sp[j] = _mm256_add_ps(_mm256_mul_ps(sp[j], a2[j]), _mm256_set1_ps(FI_SIN_F_C3));
        cp[j] = _mm256_add_ps(_mm256_mul_ps(cp[j], a2[j]), _mm256_set1_ps(FI_COS_F_C4));
    }
    EACH(j) {
        sp[j] = _mm256_add_ps(_mm256_mul_ps(sp[j], a2[j]), _mm256_set1_ps(FI_SIN_F_C2));
        cp[j] = _mm256_add_ps(_mm256_mul_ps(cp[j], a2[j]), _mm256_set1_ps(FI_COS_F_C3));
    }
    EACH(j) {
        sp[j] = _mm256_add_ps(_mm256_mul_ps(sp[j], a2[j]), _mm256_set1_ps(FI_SIN_F_C1));
        cp[j] = _mm256_add_ps(_mm256_mul_ps(cp[j], a2[j]), _mm256_set1_ps(FI_COS_F_C2));
    }
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    EACH(j) {
        __m256 s = _mm256_add_ps(a[j], _mm256_mul_ps(_mm256_mul_ps(a[j], a2[j]), sp[j]));
        __m256 c = _mm256_add_ps(
            _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(a2[j], _mm256_set1_ps(0.5f))),
            _mm256_mul_ps(_mm256_mul_ps(a2[j], a2[j]), cp[j]));
        /* FI_ROTATE_QUADRANT read off t: odd q (bit 30) swaps sin and cos, and the
         * signs are bit 1 of q (bit 31 of t) and of q + 1 (bit 31 of t + 2^30). */
        __m256 swap = _mm256_castsi256_ps(_mm256_slli_epi32(t[j], 1));
        __m256 cos_t = _mm256_blendv_ps(c, s, swap);
        __m256 sin_t = _mm256_blendv_ps(s, c, swap);
        __m256i cos_sign = _mm256_and_si256(_mm256_add_epi32(t[j], _mm256_set1_epi32(0x40000000)), sign);
        __m256i sin_sign = _mm256_and_si256(t[j], sign);
        z_cos[j] = _mm256_mul_ps(r[j], _mm256_xor_ps(cos_t, _mm256_castsi256_ps(cos_sign)));
        z_sin[j] = _mm256_mul_ps(r[j], _mm256_xor_ps(sin_t, _mm256_castsi256_ps(sin_sign)));
    }
}

/* ---- float64 maths (mirrors fi_scalar.h), four lanes ---- */

/* Exact int64 -> double for 0 <= v < 2^52. */
static inline __m256d small_u64_to_f64(__m256i v)
{
    const __m256i magic_bits = _mm256_set1_epi64x(0x4330000000000000LL);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, magic_bits)),
                         _mm256_castsi256_pd(magic_bits));
}

static inline void log4dx4(const __m256d u[LANES4], __m256d out[LANES4])
{
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d ef[LANES4], m[LANES4], s[LANES4], s2[LANES4], poly[LANES4];
    EACH(j) {
        __m256i bits = _mm256_castpd_si256(u[j]);
        ef[j] = _mm256_sub_pd(small_u64_to_f64(_mm256_srli_epi64(bits, 52)), _mm256_set1_pd(1023.0));
        m[j] = _mm256_castsi256_pd(_mm256_or_si256(
            _mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
            _mm256_set1_epi64x(0x3FF0000000000000LL)));
        __m256d big = _mm256_cmp_pd(m[j], _mm256_set1_pd(FI_SQRT2), _CMP_GT_OQ);
        m[j] = _mm256_blendv_pd(m[j], _mm256_mul_pd(m[j], _mm256_set1_pd(0.5)), big);
        ef[j] = _mm256_add_pd(ef[j], _mm256_and_pd(big, _mm256_set1_pd(1.0)));  /* exact: small integers */
    }
    EACH(j) s[j] = _mm256_div_pd(_mm256_sub_pd(m[j], one), _mm256_add_pd(m[j], one));
    EACH(j) {
        s2[j] = _mm256_mul_pd(s[j], s[j]);
        poly[j] = _mm256_set1_pd(fi_log_coef[FI_LOG_NCOEF - 1]);
    }
    for (int k = FI_LOG_NCOEF - 2; k >= 0; k--)
        EACH(j) poly[j] = _mm256_add_pd(_mm256_mul_pd(poly[j], s2[j]), _mm256_set1_pd(fi_log_coef[k]));
    EACH(j) {
        __m256d lnm = _mm256_add_pd(_mm256_add_pd(s[j], s[j]),
                                    _mm256_mul_pd(_mm256_mul_pd(s[j], s2[j]), poly[j]));
        out[j] = _mm256_add_pd(_mm256_mul_pd(ef[j], _mm256_set1_pd(FI_LN2_HI)),
                               _mm256_add_pd(lnm, _mm256_mul_pd(ef[j], _mm256_set1_pd(FI_LN2_LO))));
    }
}

static inline __m256d u53_4(__m128i x_hi, __m128i x_lo)
{
    __m256d a = _mm256_cvtepi32_pd(_mm_srli_epi32(x_hi, 5));
    __m256d b = _mm256_cvtepi32_pd(_mm_srli_epi32(x_lo, 6));
    return _mm256_add_pd(_mm256_mul_pd(a, _mm256_set1_pd(FI_TWO_26)), b);
}

/* Four Box-Muller pairs of 4-lane vectors; x[i][j] = word i of the blocks of vector j. */
static inline void box_muller4dx4(const __m128i x[4][LANES4], __m256d z_cos[LANES4], __m256d z_sin[LANES4])
{
    __m256d u[LANES4], lnu[LANES4], r[LANES4], a[LANES4], a2[LANES4], sp[LANES4], cp[LANES4];
    __m128i q[LANES4];
    EACH(j) u[j] = _mm256_mul_pd(_mm256_add_pd(u53_4(x[0][j], x[1][j]), _mm256_set1_pd(1.0)),
                                 _mm256_set1_pd(FI_TWO_M53));
    log4dx4(u, lnu);
    EACH(j) {
        r[j] = _mm256_sqrt_pd(_mm256_mul_pd(lnu[j], _mm256_set1_pd(-2.0)));
        q[j] = _mm_and_si128(_mm_srli_epi32(_mm_add_epi32(x[3][j], _mm_set1_epi32(0x20000000)), 30),
                             _mm_set1_epi32(3));
        __m128i d = _mm_sub_epi32(x[3][j], _mm_slli_epi32(q[j], 30));
        __m256d dfull = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(d), _mm256_set1_pd(FI_TWO_21)),
                                      _mm256_cvtepi32_pd(_mm_srli_epi32(x[2][j], 11)));
        a[j] = _mm256_mul_pd(dfull, _mm256_set1_pd(FI_TWO_PI_2M53));
        a2[j] = _mm256_mul_pd(a[j], a[j]);
        sp[j] = _mm256_set1_pd(fi_sin_coef[FI_SINCOS_NCOEF - 1]);
        cp[j] = _mm256_set1_pd(fi_cos_coef[FI_SINCOS_NCOEF - 1]);
    }
    for (int k = FI_SINCOS_NCOEF - 2; k >= 0; k--)
        EACH(j) {
            sp[j] = _mm256_add_pd(_mm256_mul_pd(sp[j], a2[j]), _mm256_set1_pd(fi_sin_coef[k]));
            cp[j] = _mm256_add_pd(_mm256_mul_pd(cp[j], a2[j]), _mm256_set1_pd(fi_cos_coef[k]));
        }
    const __m256i one = _mm256_set1_epi64x(1), two = _mm256_set1_epi64x(2);
    EACH(j) {
        __m256d s = _mm256_add_pd(a[j], _mm256_mul_pd(_mm256_mul_pd(a[j], a2[j]), sp[j]));
        __m256d c = _mm256_add_pd(
            _mm256_sub_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(a2[j], _mm256_set1_pd(0.5))),
            _mm256_mul_pd(_mm256_mul_pd(a2[j], a2[j]), cp[j]));
        __m256i q64 = _mm256_cvtepi32_epi64(q[j]);
        __m256d swap = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q64, one), one));
        __m256d cos_t = _mm256_blendv_pd(c, s, swap);
        __m256d sin_t = _mm256_blendv_pd(s, c, swap);
        __m256i cos_sign = _mm256_slli_epi64(_mm256_and_si256(_mm256_add_epi64(q64, one), two), 62);
        __m256i sin_sign = _mm256_slli_epi64(_mm256_and_si256(q64, two), 62);
        z_cos[j] = _mm256_mul_pd(r[j], _mm256_xor_pd(cos_t, _mm256_castsi256_pd(cos_sign)));
        z_sin[j] = _mm256_mul_pd(r[j], _mm256_xor_pd(sin_t, _mm256_castsi256_pd(sin_sign)));
    }
}

/* ---- truncated normal (mirrors fi_trunc_normal_* in fi_scalar.h) ---- */

/* Phi^-1(t), 0 < t <= 1/2: both rational branches, the right one chosen per lane, one division. */
static inline void ndtri_lower8x4(const __m256 t[LANES4], __m256 out[LANES4])
{
    __m256 q[LANES4], r[LANES4], num[LANES4], den[LANES4], tail[LANES4];
    int any_tail = 0;
    EACH(j) {
        tail[j] = _mm256_cmp_ps(t[j], _mm256_set1_ps((float)FI_NDTRI_TAIL), _CMP_LT_OQ);
        any_tail |= _mm256_movemask_ps(tail[j]);
        q[j] = _mm256_sub_ps(t[j], _mm256_set1_ps(0.5f));
        r[j] = _mm256_mul_ps(q[j], q[j]);
        num[j] = _mm256_set1_ps((float)fi_ndtri_a[0]);
        den[j] = _mm256_set1_ps((float)fi_ndtri_b[0]);
    }
    for (int k = 1; k < 6; k++)
        EACH(j) num[j] = _mm256_add_ps(_mm256_mul_ps(num[j], r[j]), _mm256_set1_ps((float)fi_ndtri_a[k]));
    for (int k = 1; k < 5; k++)
        EACH(j) den[j] = _mm256_add_ps(_mm256_mul_ps(den[j], r[j]), _mm256_set1_ps((float)fi_ndtri_b[k]));
    EACH(j) {
        num[j] = _mm256_mul_ps(num[j], q[j]);
        den[j] = _mm256_add_ps(_mm256_mul_ps(den[j], r[j]), _mm256_set1_ps(1.0f));
    }
    /* The tail branch (log, sqrt, two polynomials) only when some lane needs it:
     * rare for the usual bounds, and the lanes' values do not depend on it. */
    if (any_tail) {
        __m256 lnt[LANES4], qt[LANES4], num_t[LANES4], den_t[LANES4];
        log8x4(t, lnt);
        EACH(j) {
            qt[j] = _mm256_sqrt_ps(_mm256_mul_ps(lnt[j], _mm256_set1_ps(-2.0f)));
            num_t[j] = _mm256_set1_ps((float)fi_ndtri_c[0]);
            den_t[j] = _mm256_set1_ps((float)fi_ndtri_d[0]);
        }
        for (int k = 1; k < 6; k++)
            EACH(j) num_t[j] = _mm256_add_ps(_mm256_mul_ps(num_t[j], qt[j]), _mm256_set1_ps((float)fi_ndtri_c[k]));
        for (int k = 1; k < 4; k++)
            EACH(j) den_t[j] = _mm256_add_ps(_mm256_mul_ps(den_t[j], qt[j]), _mm256_set1_ps((float)fi_ndtri_d[k]));
        EACH(j) {
            den_t[j] = _mm256_add_ps(_mm256_mul_ps(den_t[j], qt[j]), _mm256_set1_ps(1.0f));
            num[j] = _mm256_blendv_ps(num[j], num_t[j], tail[j]);
            den[j] = _mm256_blendv_ps(den[j], den_t[j], tail[j]);
        }
    }
    EACH(j) out[j] = _mm256_div_ps(num[j], den[j]);
}

static inline void trunc_normal8x4(const fi_params *p, const __m256 u[LANES4], __m256 v[LANES4])
{
    const __m256 pa = _mm256_set1_ps(p->pf[2]), width = _mm256_set1_ps(p->pf[3]);
    const __m256 qb = _mm256_set1_ps(p->pf[4]), half = _mm256_set1_ps(0.5f);
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 mirror = p->pf[7] < 0.0f ? sign : _mm256_setzero_ps();
    __m256 t[LANES4], x[LANES4], lower[LANES4];
    EACH(j) {
        __m256 t_lower = _mm256_add_ps(pa, _mm256_mul_ps(u[j], width));
        __m256 t_upper = _mm256_add_ps(qb, _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), u[j]), width));
        lower[j] = _mm256_cmp_ps(t_lower, half, _CMP_LE_OQ);
        t[j] = _mm256_blendv_ps(t_upper, t_lower, lower[j]);
    }
    ndtri_lower8x4(t, x);
    const __m256 mean = _mm256_set1_ps(p->pf[0]), std = _mm256_set1_ps(p->pf[1]);
    const __m256 lo = _mm256_set1_ps(p->pf[5]), hi = _mm256_set1_ps(p->pf[6]);
    EACH(j) {
        __m256 flip = _mm256_xor_ps(_mm256_andnot_ps(lower[j], sign), mirror);
        __m256 z = _mm256_xor_ps(x[j], flip);
        v[j] = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(mean, _mm256_mul_ps(std, z)), lo), hi);
    }
}

static inline void ndtri_lower4dx4(const __m256d t[LANES4], __m256d out[LANES4])
{
    __m256d q[LANES4], r[LANES4], num[LANES4], den[LANES4], tail[LANES4];
    int any_tail = 0;
    EACH(j) {
        tail[j] = _mm256_cmp_pd(t[j], _mm256_set1_pd(FI_NDTRI_TAIL), _CMP_LT_OQ);
        any_tail |= _mm256_movemask_pd(tail[j]);
        q[j] = _mm256_sub_pd(t[j], _mm256_set1_pd(0.5));
        r[j] = _mm256_mul_pd(q[j], q[j]);
        num[j] = _mm256_set1_pd(fi_ndtri_a[0]);
        den[j] = _mm256_set1_pd(fi_ndtri_b[0]);
    }
    for (int k = 1; k < 6; k++)
        EACH(j) num[j] = _mm256_add_pd(_mm256_mul_pd(num[j], r[j]), _mm256_set1_pd(fi_ndtri_a[k]));
    for (int k = 1; k < 5; k++)
        EACH(j) den[j] = _mm256_add_pd(_mm256_mul_pd(den[j], r[j]), _mm256_set1_pd(fi_ndtri_b[k]));
    EACH(j) {
        num[j] = _mm256_mul_pd(num[j], q[j]);
        den[j] = _mm256_add_pd(_mm256_mul_pd(den[j], r[j]), _mm256_set1_pd(1.0));
    }
    /* The tail branch (log, sqrt, two polynomials) only when some lane needs it:
     * rare for the usual bounds, and the lanes' values do not depend on it. */
    if (any_tail) {
        __m256d lnt[LANES4], qt[LANES4], num_t[LANES4], den_t[LANES4];
        log4dx4(t, lnt);
        EACH(j) {
            qt[j] = _mm256_sqrt_pd(_mm256_mul_pd(lnt[j], _mm256_set1_pd(-2.0)));
            num_t[j] = _mm256_set1_pd(fi_ndtri_c[0]);
            den_t[j] = _mm256_set1_pd(fi_ndtri_d[0]);
        }
        for (int k = 1; k < 6; k++)
            EACH(j) num_t[j] = _mm256_add_pd(_mm256_mul_pd(num_t[j], qt[j]), _mm256_set1_pd(fi_ndtri_c[k]));
        for (int k = 1; k < 4; k++)
            EACH(j) den_t[j] = _mm256_add_pd(_mm256_mul_pd(den_t[j], qt[j]), _mm256_set1_pd(fi_ndtri_d[k]));
        EACH(j) {
            den_t[j] = _mm256_add_pd(_mm256_mul_pd(den_t[j], qt[j]), _mm256_set1_pd(1.0));
            num[j] = _mm256_blendv_pd(num[j], num_t[j], tail[j]);
            den[j] = _mm256_blendv_pd(den[j], den_t[j], tail[j]);
        }
    }
    EACH(j) out[j] = _mm256_div_pd(num[j], den[j]);
}

static inline void trunc_normal4dx4(const fi_params *p, const __m256d u[LANES4], __m256d v[LANES4])
{
    const __m256d pa = _mm256_set1_pd(p->p[2]), width = _mm256_set1_pd(p->p[3]);
    const __m256d qb = _mm256_set1_pd(p->p[4]), half = _mm256_set1_pd(0.5);
    const __m256d sign = _mm256_castsi256_pd(_mm256_set1_epi64x((long long)0x8000000000000000ull));
    const __m256d mirror = p->p[7] < 0.0 ? sign : _mm256_setzero_pd();
    __m256d t[LANES4], x[LANES4], lower[LANES4];
    EACH(j) {
        __m256d t_lower = _mm256_add_pd(pa, _mm256_mul_pd(u[j], width));
        __m256d t_upper = _mm256_add_pd(qb, _mm256_mul_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), u[j]), width));
        lower[j] = _mm256_cmp_pd(t_lower, half, _CMP_LE_OQ);
        t[j] = _mm256_blendv_pd(t_upper, t_lower, lower[j]);
    }
    ndtri_lower4dx4(t, x);
    const __m256d mean = _mm256_set1_pd(p->p[0]), std = _mm256_set1_pd(p->p[1]);
    const __m256d lo = _mm256_set1_pd(p->p[5]), hi = _mm256_set1_pd(p->p[6]);
    EACH(j) {
        __m256d flip = _mm256_xor_pd(_mm256_andnot_pd(lower[j], sign), mirror);
        __m256d z = _mm256_xor_pd(x[j], flip);
        v[j] = _mm256_min_pd(_mm256_max_pd(_mm256_add_pd(mean, _mm256_mul_pd(std, z)), lo), hi);
    }
}

static inline __m256d open_u52_4(__m128i x_hi, __m128i x_lo)
{
    __m256d a = _mm256_cvtepi32_pd(_mm_srli_epi32(x_hi, 6));
    __m256d b = _mm256_cvtepi32_pd(_mm_srli_epi32(x_lo, 6));
    return _mm256_mul_pd(_mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(a, _mm256_set1_pd(FI_TWO_26)), b),
                                       _mm256_set1_pd(0.5)),
                         _mm256_set1_pd(FI_TWO_M52));
}

/* ---- stores ---- */

/* Streaming (non-temporal) stores need 32-byte alignment; fi_run.h peels blocks to get it. */
static inline int use_streaming(const fi_params *p, const void *dst)
{
    return p->streaming && ((uintptr_t)dst & 31u) == 0;
}

static inline void store256(__m256i *dst, __m256i v, int streaming)
{
    if (streaming)
        _mm256_stream_si256(dst, v);
    else
        _mm256_storeu_si256(dst, v);
}

static inline void store128(__m128i *dst, __m128i v, int streaming)
{
    if (streaming)
        _mm_stream_si128(dst, v);
    else
        _mm_storeu_si128(dst, v);
}

static inline void finish_streaming(const fi_params *p)
{
    if (p->streaming)
        _mm_sfence();   /* order the non-temporal stores before the caller reads */
}

static inline void store_f32x32(float *dst, const __m256 v[4], int streaming)
{
    __m256i out[4], in[4] = {_mm256_castps_si256(v[0]), _mm256_castps_si256(v[1]),
                             _mm256_castps_si256(v[2]), _mm256_castps_si256(v[3])};
    transpose4x8(in, out);
    for (int i = 0; i < 4; i++)
        store256((__m256i *)(dst + 8 * i), out[i], streaming);
}

static inline void store_f16x32(uint16_t *dst, const __m256 v[4], int streaming)
{
    __m256i out[4], in[4] = {_mm256_castps_si256(v[0]), _mm256_castps_si256(v[1]),
                             _mm256_castps_si256(v[2]), _mm256_castps_si256(v[3])};
    transpose4x8(in, out);
    for (int i = 0; i < 4; i++)
        store128((__m128i *)(dst + 8 * i),
                 _mm256_cvtps_ph(_mm256_castsi256_ps(out[i]), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                 streaming);
}

/* bfloat16 bits (in the low half of each lane) of 8 non-NaN floats, as fi_f32_to_bf16. */
static inline __m256i bf16_round8(__m256i u)
{
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    return _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb), 16);
}

static inline void store_bf16x32(uint16_t *dst, const __m256 v[4], int streaming)
{
    __m256i out[4], in[4] = {_mm256_castps_si256(v[0]), _mm256_castps_si256(v[1]),
                             _mm256_castps_si256(v[2]), _mm256_castps_si256(v[3])};
    transpose4x8(in, out);
    for (int i = 0; i < 4; i += 2) {
        /* packus interleaves 128-bit halves; the permute restores order. */
        __m256i packed = _mm256_packus_epi32(bf16_round8(out[i]), bf16_round8(out[i + 1]));
        packed = _mm256_permute4x64_epi64(packed, 0xD8);
        store256((__m256i *)(dst + 8 * i), packed, streaming);
    }
}

/* Elements 2k, 2k+1 of four blocks from per-block even/odd values. */
static inline void store_f64_pairs(double *dst, __m256d even, __m256d odd, int streaming)
{
    __m256d lo = _mm256_unpacklo_pd(even, odd);   /* e0 o0 | e2 o2 */
    __m256d hi = _mm256_unpackhi_pd(even, odd);   /* e1 o1 | e3 o3 */
    store256((__m256i *)dst, _mm256_castpd_si256(_mm256_permute2f128_pd(lo, hi, 0x20)), streaming);
    store256((__m256i *)(dst + 4), _mm256_castpd_si256(_mm256_permute2f128_pd(lo, hi, 0x31)), streaming);
}

static inline __m128i half128(__m256i v, int upper)
{
    return upper ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v);
}

/* ---- batches of BATCH_BLOCKS blocks: PHILOX_GROUPS groups of 8 ---- */

#define EACH_GROUP(g) for (int g = 0; g < PHILOX_GROUPS; g++)

static inline void raw_batch(const fi_params *p, uint64_t block, uint32_t *dst)
{
    __m256i w[PHILOX_GROUPS][4], out[4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        transpose4x8(w[g], out);
        for (int i = 0; i < 4; i++)
            store256((__m256i *)(dst + 32 * g + 8 * i), out[i], streaming);
    }
}

/* v[g][i] lane k: element i of block block + 8g + k, in float32. */
static inline void uniform_batch_f32(const fi_params *p, uint64_t block, __m256 v[PHILOX_GROUPS][4])
{
    __m256i w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const __m256 low = _mm256_set1_ps(p->pf[0]), scale = _mm256_set1_ps(p->pf[1]);
    const __m256 high = _mm256_set1_ps(p->pf[2]);
    EACH_GROUP(g) for (int i = 0; i < 4; i++) {
        __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w[g][i], 8)),
                                 _mm256_set1_ps(FI_TWO_M24_F));
        v[g][i] = _mm256_min_ps(_mm256_add_ps(low, _mm256_mul_ps(scale, u)), high);
    }
}

static inline void normal_batch_f32(const fi_params *p, uint64_t block, __m256 v[PHILOX_GROUPS][4])
{
    __m256i w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const __m256 mean = _mm256_set1_ps(p->pf[0]), std = _mm256_set1_ps(p->pf[1]);
    for (int g = 0; g < PHILOX_GROUPS; g += 2) {
        /* Pairs (radius, angle) are words (0, 1) and (2, 3) of each block. */
        const __m256i xr[LANES4] = {w[g][0], w[g][2], w[g + 1][0], w[g + 1][2]};
        const __m256i xa[LANES4] = {w[g][1], w[g][3], w[g + 1][1], w[g + 1][3]};
        __m256 zc[LANES4], zs[LANES4];
        box_muller8x4(xr, xa, zc, zs);
        for (int h = 0; h < 2; h++) {
            v[g + h][0] = _mm256_add_ps(mean, _mm256_mul_ps(std, zc[2 * h]));
            v[g + h][1] = _mm256_add_ps(mean, _mm256_mul_ps(std, zs[2 * h]));
            v[g + h][2] = _mm256_add_ps(mean, _mm256_mul_ps(std, zc[2 * h + 1]));
            v[g + h][3] = _mm256_add_ps(mean, _mm256_mul_ps(std, zs[2 * h + 1]));
        }
    }
}

static inline void trunc_normal_batch_f32(const fi_params *p, uint64_t block, __m256 v[PHILOX_GROUPS][4])
{
    __m256i w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        __m256 u[LANES4];
        EACH(j) u[j] = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w[g][j], 9)),
                                                   _mm256_set1_ps(0.5f)),
                                     _mm256_set1_ps(FI_TWO_M23_F));
        trunc_normal8x4(p, u, v[g]);
    }
}

#define DEFINE_F32_FAMILY(DIST)                                                            \
    static inline void DIST##_batch_store_f32(const fi_params *p, uint64_t b, float *d)     \
    {                                                                                      \
        __m256 v[PHILOX_GROUPS][4];                                                        \
        const int streaming = use_streaming(p, d);                                         \
        DIST##_batch_f32(p, b, v);                                                         \
        EACH_GROUP(g) store_f32x32(d + 32 * g, v[g], streaming);                                      \
    }                                                                                      \
    static inline void DIST##_batch_store_f16(const fi_params *p, uint64_t b, uint16_t *d)  \
    {                                                                                      \
        __m256 v[PHILOX_GROUPS][4];                                                        \
        const int streaming = use_streaming(p, d);                                         \
        DIST##_batch_f32(p, b, v);                                                         \
        EACH_GROUP(g) store_f16x32(d + 32 * g, v[g], streaming);                                      \
    }                                                                                      \
    static inline void DIST##_batch_store_bf16(const fi_params *p, uint64_t b, uint16_t *d) \
    {                                                                                      \
        __m256 v[PHILOX_GROUPS][4];                                                        \
        const int streaming = use_streaming(p, d);                                         \
        DIST##_batch_f32(p, b, v);                                                         \
        EACH_GROUP(g) store_bf16x32(d + 32 * g, v[g], streaming);                                     \
    }

DEFINE_F32_FAMILY(uniform)
DEFINE_F32_FAMILY(normal)
DEFINE_F32_FAMILY(trunc_normal)

static inline void uniform_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    __m256i w[PHILOX_GROUPS][4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    const __m256d low = _mm256_set1_pd(p->p[0]), scale = _mm256_set1_pd(p->p[1]);
    const __m256d high = _mm256_set1_pd(p->p[2]), two_m53 = _mm256_set1_pd(FI_TWO_M53);
    EACH_GROUP(g) for (int h = 0; h < 2; h++) {
        __m256d ue = _mm256_mul_pd(u53_4(half128(w[g][0], h), half128(w[g][1], h)), two_m53);
        __m256d uo = _mm256_mul_pd(u53_4(half128(w[g][2], h), half128(w[g][3], h)), two_m53);
        store_f64_pairs(dst + 16 * g + 8 * h,
                        _mm256_min_pd(_mm256_add_pd(low, _mm256_mul_pd(scale, ue)), high),
                        _mm256_min_pd(_mm256_add_pd(low, _mm256_mul_pd(scale, uo)), high), streaming);
    }
}

static inline void normal_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    __m256i w[PHILOX_GROUPS][4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    const __m256d mean = _mm256_set1_pd(p->p[0]), std = _mm256_set1_pd(p->p[1]);
    for (int g = 0; g < PHILOX_GROUPS; g += 2) {
        /* Vector j = 2(g'-g) + h holds blocks block + 8g' + 4h .. +3: output pairs in order. */
        __m128i x[4][LANES4];
        __m256d zc[LANES4], zs[LANES4];
        for (int i = 0; i < 4; i++)
            EACH(j) x[i][j] = half128(w[g + (j >> 1)][i], j & 1);
        box_muller4dx4(x, zc, zs);
        EACH(j) store_f64_pairs(dst + 16 * g + 8 * j, _mm256_add_pd(mean, _mm256_mul_pd(std, zc[j])),
                                _mm256_add_pd(mean, _mm256_mul_pd(std, zs[j])), streaming);
    }
}

static inline void trunc_normal_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    __m256i w[PHILOX_GROUPS][4];
    const int streaming = use_streaming(p, dst);
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        /* u[2h] / u[2h+1]: even / odd elements of blocks block + 8g + 4h .. +3. */
        __m256d u[LANES4], v[LANES4];
        for (int h = 0; h < 2; h++) {
            u[2 * h] = open_u52_4(half128(w[g][0], h), half128(w[g][1], h));
            u[2 * h + 1] = open_u52_4(half128(w[g][2], h), half128(w[g][3], h));
        }
        trunc_normal4dx4(p, u, v);
        for (int h = 0; h < 2; h++)
            store_f64_pairs(dst + 16 * g + 8 * h, v[2 * h], v[2 * h + 1], streaming);
    }
}

FI_DEFINE_FILL(raw_u32, uint32_t, 4, fi_unit_raw_u32, BATCH_BLOCKS, raw_batch, 4, finish_streaming)
FI_DEFINE_FILL(uniform_f32, float, 4, fi_unit_uniform_f32, BATCH_BLOCKS, uniform_batch_store_f32, 4, finish_streaming)
FI_DEFINE_FILL(uniform_f64, double, 2, fi_unit_uniform_f64, BATCH_BLOCKS, uniform_batch_store_f64, 4, finish_streaming)
FI_DEFINE_FILL(uniform_f16, uint16_t, 4, fi_unit_uniform_f16, BATCH_BLOCKS, uniform_batch_store_f16, 4, finish_streaming)
FI_DEFINE_FILL(uniform_bf16, uint16_t, 4, fi_unit_uniform_bf16, BATCH_BLOCKS, uniform_batch_store_bf16, 4, finish_streaming)
FI_DEFINE_FILL(normal_f32, float, 4, fi_unit_normal_f32, BATCH_BLOCKS, normal_batch_store_f32, 4, finish_streaming)
FI_DEFINE_FILL(normal_f64, double, 2, fi_unit_normal_f64, BATCH_BLOCKS, normal_batch_store_f64, 4, finish_streaming)
FI_DEFINE_FILL(normal_f16, uint16_t, 4, fi_unit_normal_f16, BATCH_BLOCKS, normal_batch_store_f16, 4, finish_streaming)
FI_DEFINE_FILL(normal_bf16, uint16_t, 4, fi_unit_normal_bf16, BATCH_BLOCKS, normal_batch_store_bf16, 4, finish_streaming)
FI_DEFINE_FILL(trunc_normal_f32, float, 4, fi_unit_trunc_normal_f32, BATCH_BLOCKS, trunc_normal_batch_store_f32, 4, finish_streaming)
FI_DEFINE_FILL(trunc_normal_f64, double, 2, fi_unit_trunc_normal_f64, BATCH_BLOCKS, trunc_normal_batch_store_f64, 4, finish_streaming)
FI_DEFINE_FILL(trunc_normal_f16, uint16_t, 4, fi_unit_trunc_normal_f16, BATCH_BLOCKS, trunc_normal_batch_store_f16, 4, finish_streaming)
FI_DEFINE_FILL(trunc_normal_bf16, uint16_t, 4, fi_unit_trunc_normal_bf16, BATCH_BLOCKS, trunc_normal_batch_store_bf16, 4, finish_streaming)

const fi_kernel_table fi_kernels_avx2 = {
    "avx2",
    {
        FI_RANDOM_KERNELS,
        [FI_DIST_CONSTANT] = FI_CONSTANT_KERNELS,
    },
};
