/*
 * AVX-512 (F, BW, DQ, VL) maths of the stream-v1 transforms: Philox on 16
 * lanes, the 4x16 transpose, and the float32/float64 log, Box-Muller and
 * truncated-normal steps, each mirroring fi_scalar.h operation for
 * operation.  Included only by kernels_avx512.c (and tools/exhaustive_f32.c),
 * which are compiled with the AVX-512 flags; see kernels_avx512.c.
 */
#ifndef FASTINIT_AVX512_H
#define FASTINIT_AVX512_H

#include <immintrin.h>

#include "fastinit.h"
#include "fi_scalar.h"

#define PHILOX_GROUPS 4                        /* measured best on Zen 5 (2 and 6 slower) */
#define BATCH_BLOCKS (16 * PHILOX_GROUPS)
#define EACH_GROUP(g) for (int g = 0; g < PHILOX_GROUPS; g++)

/* ---- Philox on 16 blocks ---- */

/* High 32 bits of a * m per lane (m broadcast): two widening products, one masked shuffle. */
static inline __m512i mulhi16(__m512i a, __m512i m)
{
    __m512i even = _mm512_mul_epu32(a, m);                          /* 64-bit products, lanes 0,2,.. */
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);    /* lanes 1,3,.. */
    /* Odd lanes already hold their high halves; move the even products' high halves down. */
    return _mm512_mask_shuffle_epi32(odd, (__mmask16)0x5555, even, (_MM_PERM_ENUM)0xF5);
}

/* High and low 32 bits of a * m per lane. */
static inline __m512i mulhilo16(__m512i a, __m512i m, __m512i *lo)
{
    /* vpmulld for the low half: on Zen 5 it beat moving the low halves out of the
     * two widening products with a second masked shuffle by 8%; on Zen 4 the
     * shuffle was about 3% faster (within noise). */
    *lo = _mm512_mullo_epi32(a, m);
    return mulhi16(a, m);
}

static inline __m512i xor3(__m512i a, __m512i b, __m512i c)
{
    return _mm512_ternarylogic_epi32(a, b, c, 0x96);
}

/* Counters of blocks block..block+15, carrying into the high word where the low word wraps. */
static inline void philox16_counters(uint64_t block, __m512i *c0, __m512i *c1)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    *c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)block), lane);
    __mmask16 carry = _mm512_cmplt_epu32_mask(*c0, lane);
    const __m512i hi = _mm512_set1_epi32((int)(uint32_t)(block >> 32));
    *c1 = _mm512_mask_add_epi32(hi, carry, hi, _mm512_set1_epi32(1));
}

/*
 * Words of PHILOX_GROUPS * 16 consecutive blocks, the groups advanced in
 * lockstep so that their dependency chains overlap:
 * w[g][i] lane k = word i of block block + 16g + k.
 */
static inline void philox_groups(const fi_params *p, uint64_t block, __m512i w[PHILOX_GROUPS][4])
{
    __m512i c0[PHILOX_GROUPS], c1[PHILOX_GROUPS], c2[PHILOX_GROUPS], c3[PHILOX_GROUPS];
    const __m512i m0 = _mm512_set1_epi32((int)FI_PHILOX_M0);
    const __m512i m1 = _mm512_set1_epi32((int)FI_PHILOX_M1);
    /* Round 0: counter words 2 and 3 (the stream) are the same in every lane. */
    uint32_t hi_s, lo_s = fi_mulhilo32(FI_PHILOX_M1, (uint32_t)p->stream, &hi_s);
    const __m512i r0_c0_xor = _mm512_set1_epi32((int)(hi_s ^ p->key.k0[0]));
    const __m512i r0_c1 = _mm512_set1_epi32((int)lo_s);
    const __m512i r0_c2_xor = _mm512_set1_epi32((int)((uint32_t)(p->stream >> 32) ^ p->key.k1[0]));
    EACH_GROUP(g) {
        __m512i ctr0, ctr1;
        philox16_counters(block + 16 * (uint64_t)g, &ctr0, &ctr1);
        c0[g] = _mm512_xor_si512(ctr1, r0_c0_xor);
        c1[g] = r0_c1;
        c2[g] = _mm512_xor_si512(mulhi16(ctr0, m0), r0_c2_xor);
        c3[g] = _mm512_mullo_epi32(ctr0, m0);
    }
    for (int r = 1; r < FI_PHILOX_ROUNDS; r++) {
        const __m512i k0 = _mm512_set1_epi32((int)p->key.k0[r]);
        const __m512i k1 = _mm512_set1_epi32((int)p->key.k1[r]);
        EACH_GROUP(g) {
            __m512i lo0, lo1;
            __m512i hi0 = mulhilo16(c0[g], m0, &lo0);
            __m512i hi1 = mulhilo16(c2[g], m1, &lo1);
            c0[g] = xor3(hi1, c1[g], k0);
            c1[g] = lo1;
            c2[g] = xor3(hi0, c3[g], k1);
            c3[g] = lo0;
        }
    }
    EACH_GROUP(g) {
        w[g][0] = c0[g]; w[g][1] = c1[g]; w[g][2] = c2[g]; w[g][3] = c3[g];
    }
}

/* Structure of arrays (v[i] lane k = element i of block k) -> stream order, out[m] = blocks 4m..4m+3. */
static inline void transpose4x16(const __m512i v[4], __m512i out[4])
{
    const __m512i pair_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i pair_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i quad_lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i quad_hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    __m512i t01_lo = _mm512_permutex2var_epi32(v[0], pair_lo, v[1]);   /* (w0, w1) of blocks 0..7 */
    __m512i t01_hi = _mm512_permutex2var_epi32(v[0], pair_hi, v[1]);   /* blocks 8..15 */
    __m512i t23_lo = _mm512_permutex2var_epi32(v[2], pair_lo, v[3]);
    __m512i t23_hi = _mm512_permutex2var_epi32(v[2], pair_hi, v[3]);
    out[0] = _mm512_permutex2var_epi64(t01_lo, quad_lo, t23_lo);
    out[1] = _mm512_permutex2var_epi64(t01_lo, quad_hi, t23_lo);
    out[2] = _mm512_permutex2var_epi64(t01_hi, quad_lo, t23_hi);
    out[3] = _mm512_permutex2var_epi64(t01_hi, quad_hi, t23_hi);
}

/* ---- float32 maths (mirrors fi_scalar.h) ----
 *
 * Each step runs over LANES8 independent vectors before the next starts: the
 * chains (divide, polynomial, square root) are long, and side by side in
 * program order the core overlaps them (8 beat 4 by about 10% on Zen 5).
 */
#define LANES8 8
#define EACH(j) for (int j = 0; j < LANES8; j++)
#define PS(x) _mm512_set1_ps(x)

/* fi_log_f32 on LANES8 vectors (NV of them used): the AVX2 table's integer range reduction. */
static inline void log16xn(const __m512 u[LANES8], __m512 out[LANES8], int nv)
{
    const __m512 one = PS(1.0f);
    __m512i e[LANES8];
    __m512 m[LANES8], s[LANES8], s2[LANES8], poly[LANES8];
    for (int j = 0; j < nv; j++) {
        /* Adding 0x4AFB0C carries into the exponent exactly when the mantissa
         * exceeds sqrt(2)'s, which both halves m and bumps e (same bits). */
        __m512i bits = _mm512_add_epi32(_mm512_castps_si512(u[j]), _mm512_set1_epi32(FI_LOG_SQRT2_CARRY));
        e[j] = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127));
        m[j] = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(0x007FFFFF)),
                                                    _mm512_set1_epi32(0x3F800000 - FI_LOG_SQRT2_CARRY)));
    }
    for (int j = 0; j < nv; j++) s[j] = _mm512_div_ps(_mm512_sub_ps(m[j], one), _mm512_add_ps(m[j], one));
    for (int j = 0; j < nv; j++) s2[j] = _mm512_mul_ps(s[j], s[j]);
    for (int j = 0; j < nv; j++) poly[j] = _mm512_add_ps(_mm512_mul_ps(PS(FI_LOG_F_C4), s2[j]), PS(FI_LOG_F_C3));
    for (int j = 0; j < nv; j++) poly[j] = _mm512_add_ps(_mm512_mul_ps(poly[j], s2[j]), PS(FI_LOG_F_C2));
    for (int j = 0; j < nv; j++) poly[j] = _mm512_add_ps(_mm512_mul_ps(poly[j], s2[j]), PS(FI_LOG_F_C1));
    for (int j = 0; j < nv; j++) {
        __m512 lnm = _mm512_add_ps(_mm512_add_ps(s[j], s[j]), _mm512_mul_ps(_mm512_mul_ps(s[j], s2[j]), poly[j]));
        __m512 ef = _mm512_cvtepi32_ps(e[j]);
        out[j] = _mm512_add_ps(_mm512_mul_ps(ef, PS(FI_LN2_HI_F)),
                               _mm512_add_ps(lnm, _mm512_mul_ps(ef, PS(FI_LN2_LO_F))));
    }
}

/* Sign-bit flip of the lanes where `sign` has bit 31 set: xor, so that -0.0 comes out right. */
static inline __m512 flip_sign(__m512 v, __m512i sign)
{
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(v), sign,
                                                         _mm512_set1_epi32((int)0x80000000u), 0x78));
}

/* LANES8 Box-Muller pairs of vectors: z from radius words xr[j] and angle words xa[j]. */
static inline void box_muller16x8(const __m512i xr[LANES8], const __m512i xa[LANES8],
                                  __m512 z_cos[LANES8], __m512 z_sin[LANES8])
{
    __m512 u[LANES8], lnu[LANES8], r[LANES8], a[LANES8], a2[LANES8], sp[LANES8], cp[LANES8];
    __m512i t[LANES8];
    /* vcvtudq2ps rounds the uint32 once, to nearest even: fi_u32_to_f32's value. */
    EACH(j) u[j] = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepu32_ps(xr[j]), PS(1.0f)), PS(FI_TWO_M32_F));
    log16xn(u, lnu, LANES8);
    EACH(j) r[j] = _mm512_sqrt_ps(_mm512_mul_ps(lnu[j], PS(-2.0f)));
    EACH(j) {
        /* t = x_angle + 2^29 carries the quadrant q in bits 31..30 (fi_box_muller_f32's q << 30). */
        t[j] = _mm512_add_epi32(xa[j], _mm512_set1_epi32(0x20000000));
        __m512i d = _mm512_sub_epi32(xa[j], _mm512_and_si512(t[j], _mm512_set1_epi32((int)0xC0000000u)));
        a[j] = _mm512_mul_ps(_mm512_cvtepi32_ps(d), PS(FI_TWO_PI_2M32_F));
        a2[j] = _mm512_mul_ps(a[j], a[j]);
    }
    EACH(j) {
        sp[j] = _mm512_add_ps(_mm512_mul_ps(PS(FI_SIN_F_C4), a2[j]), PS(FI_SIN_F_C3));
        cp[j] = _mm512_add_ps(_mm512_mul_ps(PS(FI_COS_F_C5), a2[j]), PS(FI_COS_F_C4));
    }
    EACH(j) {
        sp[j] = _mm512_add_ps(_mm512_mul_ps(sp[j], a2[j]), PS(FI_SIN_F_C2));
        cp[j] = _mm512_add_ps(_mm512_mul_ps(cp[j], a2[j]), PS(FI_COS_F_C3));
    }
    EACH(j) {
        sp[j] = _mm512_add_ps(_mm512_mul_ps(sp[j], a2[j]), PS(FI_SIN_F_C1));
        cp[j] = _mm512_add_ps(_mm512_mul_ps(cp[j], a2[j]), PS(FI_COS_F_C2));
    }
    EACH(j) {
        __m512 s = _mm512_add_ps(a[j], _mm512_mul_ps(_mm512_mul_ps(a[j], a2[j]), sp[j]));
        __m512 c = _mm512_add_ps(_mm512_sub_ps(PS(1.0f), _mm512_mul_ps(a2[j], PS(0.5f))),
                                 _mm512_mul_ps(_mm512_mul_ps(a2[j], a2[j]), cp[j]));
        /* FI_ROTATE_QUADRANT read off t: odd q (bit 30) swaps sin and cos, and the
         * signs are bit 1 of q (bit 31 of t) and of q + 1 (bit 31 of t + 2^30). */
        __mmask16 swap = _mm512_test_epi32_mask(t[j], _mm512_set1_epi32(0x40000000));
        __m512 cos_t = _mm512_mask_blend_ps(swap, c, s);
        __m512 sin_t = _mm512_mask_blend_ps(swap, s, c);
        z_cos[j] = _mm512_mul_ps(r[j], flip_sign(cos_t, _mm512_add_epi32(t[j], _mm512_set1_epi32(0x40000000))));
        z_sin[j] = _mm512_mul_ps(r[j], flip_sign(sin_t, t[j]));
    }
}

/* ---- float64 maths (mirrors fi_scalar.h), eight lanes ---- */

#define PD(x) _mm512_set1_pd(x)

static inline void log8dx8(const __m512d u[LANES8], __m512d out[LANES8], int nv)
{
    const __m512d one = PD(1.0);
    __m512d ef[LANES8], m[LANES8], s[LANES8], s2[LANES8], poly[LANES8];
    for (int j = 0; j < nv; j++) {
        __m512i bits = _mm512_castpd_si512(u[j]);
        /* (double)e with e = biased exponent - 1023: exact (small integers). */
        ef[j] = _mm512_sub_pd(_mm512_cvtepi64_pd(_mm512_srli_epi64(bits, 52)), PD(1023.0));
        m[j] = _mm512_castsi512_pd(_mm512_or_si512(
            _mm512_and_si512(bits, _mm512_set1_epi64(0x000FFFFFFFFFFFFFLL)),
            _mm512_set1_epi64(0x3FF0000000000000LL)));
        __mmask8 big = _mm512_cmp_pd_mask(m[j], PD(FI_SQRT2), _CMP_GT_OQ);
        m[j] = _mm512_mask_mul_pd(m[j], big, m[j], PD(0.5));
        ef[j] = _mm512_mask_add_pd(ef[j], big, ef[j], one);
    }
    for (int j = 0; j < nv; j++) s[j] = _mm512_div_pd(_mm512_sub_pd(m[j], one), _mm512_add_pd(m[j], one));
    for (int j = 0; j < nv; j++) {
        s2[j] = _mm512_mul_pd(s[j], s[j]);
        poly[j] = PD(fi_log_coef[FI_LOG_NCOEF - 1]);
    }
    for (int k = FI_LOG_NCOEF - 2; k >= 0; k--)
        for (int j = 0; j < nv; j++) poly[j] = _mm512_add_pd(_mm512_mul_pd(poly[j], s2[j]), PD(fi_log_coef[k]));
    for (int j = 0; j < nv; j++) {
        __m512d lnm = _mm512_add_pd(_mm512_add_pd(s[j], s[j]), _mm512_mul_pd(_mm512_mul_pd(s[j], s2[j]), poly[j]));
        out[j] = _mm512_add_pd(_mm512_mul_pd(ef[j], PD(FI_LN2_HI)),
                               _mm512_add_pd(lnm, _mm512_mul_pd(ef[j], PD(FI_LN2_LO))));
    }
}

static inline __m256i half256(__m512i v, int upper)
{
    return upper ? _mm512_extracti64x4_epi64(v, 1) : _mm512_castsi512_si256(v);
}

/* (x_hi >> 5) * 2^26 + (x_lo >> 6), exact, for the 8 lanes of one half of 16. */
static inline __m512d u53_8(__m512i x_hi, __m512i x_lo, int upper)
{
    __m512d a = _mm512_cvtepi32_pd(half256(_mm512_srli_epi32(x_hi, 5), upper));
    __m512d b = _mm512_cvtepi32_pd(half256(_mm512_srli_epi32(x_lo, 6), upper));
    return _mm512_add_pd(_mm512_mul_pd(a, PD(FI_TWO_26)), b);
}

static inline __m512d flip_sign_pd(__m512d v, __mmask8 negate)
{
    return _mm512_mask_xor_pd(v, negate, v, _mm512_castsi512_pd(_mm512_set1_epi64((long long)0x8000000000000000ull)));
}

/*
 * Box-Muller on the 64 blocks of a batch: vector j = 2g + h holds blocks
 * 16g + 8h .. +7 of w (one normal pair per block).
 */
static inline void box_muller8dx8(__m512i w[PHILOX_GROUPS][4], __m512d z_cos[LANES8], __m512d z_sin[LANES8])
{
    __m512d u[LANES8], lnu[LANES8], a[LANES8], a2[LANES8], sp[LANES8], cp[LANES8];
    __mmask16 swap[PHILOX_GROUPS], cos_neg[PHILOX_GROUPS], sin_neg[PHILOX_GROUPS];
    __m512i d[PHILOX_GROUPS];
    EACH(j) u[j] = _mm512_mul_pd(_mm512_add_pd(u53_8(w[j >> 1][0], w[j >> 1][1], j & 1), PD(1.0)), PD(FI_TWO_M53));
    log8dx8(u, lnu, LANES8);
    EACH_GROUP(g) {
        /* Quadrant as in box_muller16x8, on 16 lanes; each half feeds one vector. */
        __m512i t = _mm512_add_epi32(w[g][3], _mm512_set1_epi32(0x20000000));
        d[g] = _mm512_sub_epi32(w[g][3], _mm512_and_si512(t, _mm512_set1_epi32((int)0xC0000000u)));
        swap[g] = _mm512_test_epi32_mask(t, _mm512_set1_epi32(0x40000000));
        cos_neg[g] = _mm512_movepi32_mask(_mm512_add_epi32(t, _mm512_set1_epi32(0x40000000)));
        sin_neg[g] = _mm512_movepi32_mask(t);
    }
    EACH(j) {
        int g = j >> 1, h = j & 1;
        __m512d dfull = _mm512_add_pd(_mm512_mul_pd(_mm512_cvtepi32_pd(half256(d[g], h)), PD(FI_TWO_21)),
                                      _mm512_cvtepi32_pd(half256(_mm512_srli_epi32(w[g][2], 11), h)));
        a[j] = _mm512_mul_pd(dfull, PD(FI_TWO_PI_2M53));
        a2[j] = _mm512_mul_pd(a[j], a[j]);
        sp[j] = PD(fi_sin_coef[FI_SINCOS_NCOEF - 1]);
        cp[j] = PD(fi_cos_coef[FI_SINCOS_NCOEF - 1]);
    }
    for (int k = FI_SINCOS_NCOEF - 2; k >= 0; k--)
        EACH(j) {
            sp[j] = _mm512_add_pd(_mm512_mul_pd(sp[j], a2[j]), PD(fi_sin_coef[k]));
            cp[j] = _mm512_add_pd(_mm512_mul_pd(cp[j], a2[j]), PD(fi_cos_coef[k]));
        }
    EACH(j) {
        int g = j >> 1, shift = 8 * (j & 1);
        __m512d r = _mm512_sqrt_pd(_mm512_mul_pd(lnu[j], PD(-2.0)));
        __m512d s = _mm512_add_pd(a[j], _mm512_mul_pd(_mm512_mul_pd(a[j], a2[j]), sp[j]));
        __m512d c = _mm512_add_pd(_mm512_sub_pd(PD(1.0), _mm512_mul_pd(a2[j], PD(0.5))),
                                  _mm512_mul_pd(_mm512_mul_pd(a2[j], a2[j]), cp[j]));
        __mmask8 sw = (__mmask8)(swap[g] >> shift);
        __m512d cos_t = _mm512_mask_blend_pd(sw, c, s);
        __m512d sin_t = _mm512_mask_blend_pd(sw, s, c);
        z_cos[j] = _mm512_mul_pd(r, flip_sign_pd(cos_t, (__mmask8)(cos_neg[g] >> shift)));
        z_sin[j] = _mm512_mul_pd(r, flip_sign_pd(sin_t, (__mmask8)(sin_neg[g] >> shift)));
    }
}

/* ---- truncated normal (mirrors fi_trunc_normal_* in fi_scalar.h) ---- */

#define LANES4 4
#define EACH4(j) for (int j = 0; j < LANES4; j++)

/* Phi^-1(t), 0 < t <= 1/2: both rational branches, the right one chosen per lane, one division. */
static inline void ndtri_lower16x4(const __m512 t[LANES4], __m512 out[LANES4])
{
    __m512 q[LANES4], r[LANES4], num[LANES4], den[LANES4];
    __mmask16 tail[LANES4], any_tail = 0;
    EACH4(j) {
        tail[j] = _mm512_cmp_ps_mask(t[j], PS((float)FI_NDTRI_TAIL), _CMP_LT_OQ);
        any_tail |= tail[j];
        q[j] = _mm512_sub_ps(t[j], PS(0.5f));
        r[j] = _mm512_mul_ps(q[j], q[j]);
        num[j] = PS((float)fi_ndtri_a[0]);
        den[j] = PS((float)fi_ndtri_b[0]);
    }
    for (int k = 1; k < 6; k++)
        EACH4(j) num[j] = _mm512_add_ps(_mm512_mul_ps(num[j], r[j]), PS((float)fi_ndtri_a[k]));
    for (int k = 1; k < 5; k++)
        EACH4(j) den[j] = _mm512_add_ps(_mm512_mul_ps(den[j], r[j]), PS((float)fi_ndtri_b[k]));
    EACH4(j) {
        num[j] = _mm512_mul_ps(num[j], q[j]);
        den[j] = _mm512_add_ps(_mm512_mul_ps(den[j], r[j]), PS(1.0f));
    }
    /* The tail branch (log, sqrt, two polynomials) only when some lane needs it:
     * rare for the usual bounds, and the lanes' values do not depend on it. */
    if (any_tail) {
        __m512 tt[LANES8], lnt[LANES8], qt[LANES4], num_t[LANES4], den_t[LANES4];
        EACH4(j) tt[j] = t[j];
        log16xn(tt, lnt, LANES4);
        EACH4(j) {
            qt[j] = _mm512_sqrt_ps(_mm512_mul_ps(lnt[j], PS(-2.0f)));
            num_t[j] = PS((float)fi_ndtri_c[0]);
            den_t[j] = PS((float)fi_ndtri_d[0]);
        }
        for (int k = 1; k < 6; k++)
            EACH4(j) num_t[j] = _mm512_add_ps(_mm512_mul_ps(num_t[j], qt[j]), PS((float)fi_ndtri_c[k]));
        for (int k = 1; k < 4; k++)
            EACH4(j) den_t[j] = _mm512_add_ps(_mm512_mul_ps(den_t[j], qt[j]), PS((float)fi_ndtri_d[k]));
        EACH4(j) {
            den_t[j] = _mm512_add_ps(_mm512_mul_ps(den_t[j], qt[j]), PS(1.0f));
            num[j] = _mm512_mask_blend_ps(tail[j], num[j], num_t[j]);
            den[j] = _mm512_mask_blend_ps(tail[j], den[j], den_t[j]);
        }
    }
    EACH4(j) out[j] = _mm512_div_ps(num[j], den[j]);
}

static inline void trunc_normal16x4(const fi_params *p, const __m512 u[LANES4], __m512 v[LANES4])
{
    const __m512 pa = PS(p->pf[2]), width = PS(p->pf[3]), qb = PS(p->pf[4]);
    const __mmask16 mirror = p->pf[7] < 0.0f ? (__mmask16)0xFFFF : 0;
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    __m512 t[LANES4], x[LANES4];
    __mmask16 lower[LANES4];
    EACH4(j) {
        __m512 t_lower = _mm512_add_ps(pa, _mm512_mul_ps(u[j], width));
        __m512 t_upper = _mm512_add_ps(qb, _mm512_mul_ps(_mm512_sub_ps(PS(1.0f), u[j]), width));
        lower[j] = _mm512_cmp_ps_mask(t_lower, PS(0.5f), _CMP_LE_OQ);
        t[j] = _mm512_mask_blend_ps(lower[j], t_upper, t_lower);
    }
    ndtri_lower16x4(t, x);
    const __m512 mean = PS(p->pf[0]), std = PS(p->pf[1]), lo = PS(p->pf[5]), hi = PS(p->pf[6]);
    EACH4(j) {
        /* z = -x exactly where (upper != mirror), as in FI_DEFINE_TRUNC_NORMAL. */
        __mmask16 flip = (__mmask16)(~lower[j] ^ mirror);
        __m512 z = _mm512_castsi512_ps(_mm512_mask_xor_epi32(_mm512_castps_si512(x[j]), flip,
                                                             _mm512_castps_si512(x[j]), sign));
        v[j] = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(mean, _mm512_mul_ps(std, z)), lo), hi);
    }
}

static inline void ndtri_lower8dx4(const __m512d t[LANES4], __m512d out[LANES4])
{
    __m512d q[LANES4], r[LANES4], num[LANES4], den[LANES4];
    __mmask8 tail[LANES4], any_tail = 0;
    EACH4(j) {
        tail[j] = _mm512_cmp_pd_mask(t[j], PD(FI_NDTRI_TAIL), _CMP_LT_OQ);
        any_tail |= tail[j];
        q[j] = _mm512_sub_pd(t[j], PD(0.5));
        r[j] = _mm512_mul_pd(q[j], q[j]);
        num[j] = PD(fi_ndtri_a[0]);
        den[j] = PD(fi_ndtri_b[0]);
    }
    for (int k = 1; k < 6; k++)
        EACH4(j) num[j] = _mm512_add_pd(_mm512_mul_pd(num[j], r[j]), PD(fi_ndtri_a[k]));
    for (int k = 1; k < 5; k++)
        EACH4(j) den[j] = _mm512_add_pd(_mm512_mul_pd(den[j], r[j]), PD(fi_ndtri_b[k]));
    EACH4(j) {
        num[j] = _mm512_mul_pd(num[j], q[j]);
        den[j] = _mm512_add_pd(_mm512_mul_pd(den[j], r[j]), PD(1.0));
    }
    if (any_tail) {
        __m512d tt[LANES8], lnt[LANES8], qt[LANES4], num_t[LANES4], den_t[LANES4];
        EACH4(j) tt[j] = t[j];
        log8dx8(tt, lnt, LANES4);
        EACH4(j) {
            qt[j] = _mm512_sqrt_pd(_mm512_mul_pd(lnt[j], PD(-2.0)));
            num_t[j] = PD(fi_ndtri_c[0]);
            den_t[j] = PD(fi_ndtri_d[0]);
        }
        for (int k = 1; k < 6; k++)
            EACH4(j) num_t[j] = _mm512_add_pd(_mm512_mul_pd(num_t[j], qt[j]), PD(fi_ndtri_c[k]));
        for (int k = 1; k < 4; k++)
            EACH4(j) den_t[j] = _mm512_add_pd(_mm512_mul_pd(den_t[j], qt[j]), PD(fi_ndtri_d[k]));
        EACH4(j) {
            den_t[j] = _mm512_add_pd(_mm512_mul_pd(den_t[j], qt[j]), PD(1.0));
            num[j] = _mm512_mask_blend_pd(tail[j], num[j], num_t[j]);
            den[j] = _mm512_mask_blend_pd(tail[j], den[j], den_t[j]);
        }
    }
    EACH4(j) out[j] = _mm512_div_pd(num[j], den[j]);
}

static inline void trunc_normal8dx4(const fi_params *p, const __m512d u[LANES4], __m512d v[LANES4])
{
    const __m512d pa = PD(p->p[2]), width = PD(p->p[3]), qb = PD(p->p[4]);
    const __mmask8 mirror = p->p[7] < 0.0 ? (__mmask8)0xFF : 0;
    __m512d t[LANES4], x[LANES4];
    __mmask8 lower[LANES4];
    EACH4(j) {
        __m512d t_lower = _mm512_add_pd(pa, _mm512_mul_pd(u[j], width));
        __m512d t_upper = _mm512_add_pd(qb, _mm512_mul_pd(_mm512_sub_pd(PD(1.0), u[j]), width));
        lower[j] = _mm512_cmp_pd_mask(t_lower, PD(0.5), _CMP_LE_OQ);
        t[j] = _mm512_mask_blend_pd(lower[j], t_upper, t_lower);
    }
    ndtri_lower8dx4(t, x);
    const __m512d mean = PD(p->p[0]), std = PD(p->p[1]), lo = PD(p->p[5]), hi = PD(p->p[6]);
    EACH4(j) {
        __m512d z = flip_sign_pd(x[j], (__mmask8)(~lower[j] ^ mirror));
        v[j] = _mm512_min_pd(_mm512_max_pd(_mm512_add_pd(mean, _mm512_mul_pd(std, z)), lo), hi);
    }
}

/* (x_hi >> 6) * 2^26 + (x_lo >> 6) + 1/2, times 2^-52, for one half of 16 lanes. */
static inline __m512d open_u52_8(__m512i x_hi, __m512i x_lo, int upper)
{
    __m512d a = _mm512_cvtepi32_pd(half256(_mm512_srli_epi32(x_hi, 6), upper));
    __m512d b = _mm512_cvtepi32_pd(half256(_mm512_srli_epi32(x_lo, 6), upper));
    return _mm512_mul_pd(_mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(a, PD(FI_TWO_26)), b), PD(0.5)),
                         PD(FI_TWO_M52));
}

#endif
