/*
 * aarch64 Advanced SIMD (NEON) kernel table.  ASIMD is part of the aarch64
 * baseline, so this file needs no extra compiler flags; it builds only on
 * aarch64 (setup.py) and compiles to nothing elsewhere.
 *
 * Sixteen Philox blocks run side by side, one block per 32-bit lane in four
 * independent groups of four ("structure of arrays"); the interleaving stores
 * (vst4q / vst4 / vst2q) put the words back in stream order.  Every transform
 * repeats the scalar one in fi_scalar.h operation for operation, as
 * kernels_avx2.c does, so the paths agree bit for bit.  Points to keep:
 *   - No fused multiply-add: only vmulq + vaddq, never vmlaq/vfmaq, and the
 *     build passes -ffp-contract=off so the compiler does not fuse them
 *     either (tools/check_aarch64.sh fails if the object holds any fmla/fmadd).
 *   - Clamps are compare + select (vbslq), not vmaxq/vminq: FMAX(-0, +0) is
 *     +0, while the scalar `v > lo ? v : lo` keeps lo; selects give the
 *     scalar's answer for signed zeros too.
 *   - The float32 log's range reduction and the Box-Muller quadrant use the
 *     same integer steps as kernels_avx2.c (proved equal to the scalar for
 *     every input word by tools/exhaustive_f32.c: integer arithmetic is the
 *     same on every ISA).
 *   - float16 uses the FCVTN conversion, IEEE round to nearest even with
 *     subnormals and overflow to infinity under the default FPCR (RMode 0,
 *     FZ 0, AHP 0), the same function as fi_f32_to_f16;
 *     tools/check_aarch64.sh compares them.  bfloat16 uses the integer
 *     rounding of fi_f32_to_bf16 (ARMv8.0 has no BF16 conversion).
 *   - No non-temporal stores (ACLE has no intrinsic for STNP), so no peel
 *     for alignment and nothing to fence.
 * tools/check_aarch64.sh proves the table against the generic one under
 * qemu-aarch64 on x86-64 machines.
 */
#include "fastinit.h"   /* outside the guard: elsewhere the file is not an empty translation unit */

#if defined(__aarch64__)

#include <arm_neon.h>

#include "fi_run.h"
#include "fi_scalar.h"

#define PHILOX_GROUPS 4                       /* 4 chains in flight: 16 of the 32 vector registers */
#define BATCH_BLOCKS (4 * PHILOX_GROUPS)

/* ---- Philox on 4 blocks ---- */

/* a * m per lane (m broadcast) as low and high 32-bit halves: two widening multiplies, two unzips. */
static inline void mulhilo4(uint32x4_t a, uint32x4_t m, uint32x4_t *hi, uint32x4_t *lo)
{
    uint32x4_t p01 = vreinterpretq_u32_u64(vmull_u32(vget_low_u32(a), vget_low_u32(m)));
    uint32x4_t p23 = vreinterpretq_u32_u64(vmull_high_u32(a, m));
    *lo = vuzp1q_u32(p01, p23);
    *hi = vuzp2q_u32(p01, p23);
}

/* Counters of blocks block..block+3, carrying into the high word where the low word wraps. */
static inline void philox4_counters(uint64_t block, uint32x4_t *c0, uint32x4_t *c1)
{
    static const uint32_t lane_init[4] = {0, 1, 2, 3};
    const uint32x4_t lane = vld1q_u32(lane_init);
    *c0 = vaddq_u32(vdupq_n_u32((uint32_t)block), lane);
    uint32x4_t wrapped = vcltq_u32(*c0, lane);               /* all ones = -1 where it wrapped */
    *c1 = vsubq_u32(vdupq_n_u32((uint32_t)(block >> 32)), wrapped);
}

/* w[g][i] lane k = word i of block block + 4g + k; the groups advance in lockstep. */
static inline void philox_groups(const fi_params *p, uint64_t block, uint32x4_t w[PHILOX_GROUPS][4])
{
    uint32x4_t c0[PHILOX_GROUPS], c1[PHILOX_GROUPS], c2[PHILOX_GROUPS], c3[PHILOX_GROUPS];
    const uint32x4_t m0 = vdupq_n_u32(FI_PHILOX_M0), m1 = vdupq_n_u32(FI_PHILOX_M1);
    /* Round 0: counter words 2 and 3 (the stream) are the same in every lane. */
    uint32_t hi_s, lo_s = fi_mulhilo32(FI_PHILOX_M1, (uint32_t)p->stream, &hi_s);
    const uint32x4_t r0_c0_xor = vdupq_n_u32(hi_s ^ p->key.k0[0]);
    const uint32x4_t r0_c1 = vdupq_n_u32(lo_s);
    const uint32x4_t r0_c2_xor = vdupq_n_u32((uint32_t)(p->stream >> 32) ^ p->key.k1[0]);
    for (int g = 0; g < PHILOX_GROUPS; g++) {
        uint32x4_t ctr0, ctr1, hi0, lo0;
        philox4_counters(block + 4 * (uint64_t)g, &ctr0, &ctr1);
        mulhilo4(ctr0, m0, &hi0, &lo0);
        c0[g] = veorq_u32(ctr1, r0_c0_xor);
        c1[g] = r0_c1;
        c2[g] = veorq_u32(hi0, r0_c2_xor);
        c3[g] = lo0;
    }
    for (int r = 1; r < FI_PHILOX_ROUNDS; r++) {
        const uint32x4_t k0 = vdupq_n_u32(p->key.k0[r]), k1 = vdupq_n_u32(p->key.k1[r]);
        for (int g = 0; g < PHILOX_GROUPS; g++) {
            uint32x4_t hi0, lo0, hi1, lo1;
            mulhilo4(c0[g], m0, &hi0, &lo0);
            mulhilo4(c2[g], m1, &hi1, &lo1);
            c0[g] = veorq_u32(hi1, veorq_u32(c1[g], k0));
            c1[g] = lo1;
            c2[g] = veorq_u32(hi0, veorq_u32(c3[g], k1));
            c3[g] = lo0;
        }
    }
    for (int g = 0; g < PHILOX_GROUPS; g++) {
        w[g][0] = c0[g]; w[g][1] = c1[g]; w[g][2] = c2[g]; w[g][3] = c3[g];
    }
}

/* ---- float32 maths (mirrors fi_scalar.h) ----
 *
 * Each step runs over LANES4 independent vectors before the next starts, so
 * that the long chains (divide, polynomial, square root) overlap.
 */
#define LANES4 4
#define EACH(j) for (int j = 0; j < LANES4; j++)
#define F32(x) vdupq_n_f32(x)
#define MUL vmulq_f32
#define ADD vaddq_f32
#define SUB vsubq_f32

/* v > lo ? v : lo, then v < hi ? v : hi: the scalar clamps, signed zeros included. */
static inline float32x4_t clamp_f32(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcgtq_f32(v, lo), v, lo);
    return vbslq_f32(vcltq_f32(v, hi), v, hi);
}

static inline float32x4_t min_high_f32(float32x4_t v, float32x4_t hi)
{
    return vbslq_f32(vcltq_f32(v, hi), v, hi);
}

static inline void log4x4(const float32x4_t u[LANES4], float32x4_t out[LANES4])
{
    int32x4_t e[LANES4];
    float32x4_t m[LANES4], s[LANES4], s2[LANES4], poly[LANES4];
    EACH(j) {
        /* fi_log_f32's range reduction in integer steps (kernels_avx2.c log8x4):
         * adding FI_LOG_SQRT2_CARRY carries into the exponent exactly when the
         * mantissa exceeds sqrt(2)'s, which both halves m and bumps e. */
        uint32x4_t bits = vaddq_u32(vreinterpretq_u32_f32(u[j]), vdupq_n_u32(FI_LOG_SQRT2_CARRY));
        e[j] = vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(bits, 23)), vdupq_n_s32(127));
        m[j] = vreinterpretq_f32_u32(vaddq_u32(vandq_u32(bits, vdupq_n_u32(0x007FFFFFu)),
                                               vdupq_n_u32(0x3F800000u - FI_LOG_SQRT2_CARRY)));
    }
    EACH(j) s[j] = vdivq_f32(SUB(m[j], F32(1.0f)), ADD(m[j], F32(1.0f)));
    EACH(j) s2[j] = MUL(s[j], s[j]);
    EACH(j) poly[j] = F32(FI_LOG_F_C4);
    EACH(j) poly[j] = ADD(MUL(poly[j], s2[j]), F32(FI_LOG_F_C3));
    EACH(j) poly[j] = ADD(MUL(poly[j], s2[j]), F32(FI_LOG_F_C2));
    EACH(j) poly[j] = ADD(MUL(poly[j], s2[j]), F32(FI_LOG_F_C1));
    EACH(j) {
        float32x4_t lnm = ADD(ADD(s[j], s[j]), MUL(MUL(s[j], s2[j]), poly[j]));
        float32x4_t ef = vcvtq_f32_s32(e[j]);
        out[j] = ADD(MUL(ef, F32(FI_LN2_HI_F)), ADD(lnm, MUL(ef, F32(FI_LN2_LO_F))));
    }
}

/* fi_u32_to_f32: the two exact halves, one rounding in the sum. */
static inline float32x4_t u32_to_f32_4(uint32x4_t x)
{
    float32x4_t hi = vcvtq_f32_s32(vreinterpretq_s32_u32(vshrq_n_u32(x, 16)));
    float32x4_t lo = vcvtq_f32_s32(vreinterpretq_s32_u32(vandq_u32(x, vdupq_n_u32(0xFFFFu))));
    return ADD(MUL(hi, F32(65536.0f)), lo);
}

/* Four Box-Muller pairs of vectors: z[j] from radius words xr[j] and angle words xa[j]. */
static inline void box_muller4x4(const uint32x4_t xr[LANES4], const uint32x4_t xa[LANES4],
                                 float32x4_t z_cos[LANES4], float32x4_t z_sin[LANES4])
{
    float32x4_t u[LANES4], lnu[LANES4], r[LANES4], a[LANES4], a2[LANES4], sp[LANES4], cp[LANES4];
    uint32x4_t t[LANES4];
    EACH(j) u[j] = MUL(ADD(u32_to_f32_4(xr[j]), F32(1.0f)), F32(FI_TWO_M32_F));
    log4x4(u, lnu);
    EACH(j) r[j] = vsqrtq_f32(MUL(lnu[j], F32(-2.0f)));
    EACH(j) {
        /* t = x_angle + 2^29 holds the quadrant q in bits 31..30 (fi_box_muller_f32's q << 30). */
        t[j] = vaddq_u32(xa[j], vdupq_n_u32(0x20000000u));
        int32x4_t d = vreinterpretq_s32_u32(vsubq_u32(xa[j], vandq_u32(t[j], vdupq_n_u32(0xC0000000u))));
        a[j] = MUL(vcvtq_f32_s32(d), F32(FI_TWO_PI_2M32_F));
        a2[j] = MUL(a[j], a[j]);
    }
    EACH(j) { sp[j] = F32(FI_SIN_F_C4); cp[j] = F32(FI_COS_F_C5); }
    EACH(j) { sp[j] = ADD(MUL(sp[j], a2[j]), F32(FI_SIN_F_C3)); cp[j] = ADD(MUL(cp[j], a2[j]), F32(FI_COS_F_C4)); }
    EACH(j) { sp[j] = ADD(MUL(sp[j], a2[j]), F32(FI_SIN_F_C2)); cp[j] = ADD(MUL(cp[j], a2[j]), F32(FI_COS_F_C3)); }
    EACH(j) { sp[j] = ADD(MUL(sp[j], a2[j]), F32(FI_SIN_F_C1)); cp[j] = ADD(MUL(cp[j], a2[j]), F32(FI_COS_F_C2)); }
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    EACH(j) {
        float32x4_t s = ADD(a[j], MUL(MUL(a[j], a2[j]), sp[j]));
        float32x4_t c = ADD(SUB(F32(1.0f), MUL(a2[j], F32(0.5f))), MUL(MUL(a2[j], a2[j]), cp[j]));
        /* FI_ROTATE_QUADRANT read off t: odd q (bit 30) swaps sin and cos; the
         * signs are bit 1 of q (bit 31 of t) and of q + 1 (bit 31 of t + 2^30). */
        uint32x4_t swap = vtstq_u32(t[j], vdupq_n_u32(0x40000000u));
        uint32x4_t cos_t = vreinterpretq_u32_f32(vbslq_f32(swap, s, c));
        uint32x4_t sin_t = vreinterpretq_u32_f32(vbslq_f32(swap, c, s));
        uint32x4_t cos_sign = vandq_u32(vaddq_u32(t[j], vdupq_n_u32(0x40000000u)), sign);
        uint32x4_t sin_sign = vandq_u32(t[j], sign);
        z_cos[j] = MUL(r[j], vreinterpretq_f32_u32(veorq_u32(cos_t, cos_sign)));
        z_sin[j] = MUL(r[j], vreinterpretq_f32_u32(veorq_u32(sin_t, sin_sign)));
    }
}

/* Phi^-1(t), 0 < t <= 1/2: both rational branches, the right one chosen per lane, one division. */
static inline void ndtri_lower4x4(const float32x4_t t[LANES4], float32x4_t out[LANES4])
{
    float32x4_t q[LANES4], r[LANES4], num[LANES4], den[LANES4];
    uint32x4_t tail[LANES4], any = vdupq_n_u32(0);
    EACH(j) {
        tail[j] = vcltq_f32(t[j], F32((float)FI_NDTRI_TAIL));
        any = vorrq_u32(any, tail[j]);
        q[j] = SUB(t[j], F32(0.5f));
        r[j] = MUL(q[j], q[j]);
        num[j] = F32((float)fi_ndtri_a[0]);
        den[j] = F32((float)fi_ndtri_b[0]);
    }
    for (int k = 1; k < 6; k++)
        EACH(j) num[j] = ADD(MUL(num[j], r[j]), F32((float)fi_ndtri_a[k]));
    for (int k = 1; k < 5; k++)
        EACH(j) den[j] = ADD(MUL(den[j], r[j]), F32((float)fi_ndtri_b[k]));
    EACH(j) {
        num[j] = MUL(num[j], q[j]);
        den[j] = ADD(MUL(den[j], r[j]), F32(1.0f));
    }
    /* The tail branch only when some lane needs it: the other lanes ignore it. */
    if (vmaxvq_u32(any) != 0) {
        float32x4_t lnt[LANES4], qt[LANES4], num_t[LANES4], den_t[LANES4];
        log4x4(t, lnt);
        EACH(j) {
            qt[j] = vsqrtq_f32(MUL(lnt[j], F32(-2.0f)));
            num_t[j] = F32((float)fi_ndtri_c[0]);
            den_t[j] = F32((float)fi_ndtri_d[0]);
        }
        for (int k = 1; k < 6; k++)
            EACH(j) num_t[j] = ADD(MUL(num_t[j], qt[j]), F32((float)fi_ndtri_c[k]));
        for (int k = 1; k < 4; k++)
            EACH(j) den_t[j] = ADD(MUL(den_t[j], qt[j]), F32((float)fi_ndtri_d[k]));
        EACH(j) {
            den_t[j] = ADD(MUL(den_t[j], qt[j]), F32(1.0f));
            num[j] = vbslq_f32(tail[j], num_t[j], num[j]);
            den[j] = vbslq_f32(tail[j], den_t[j], den[j]);
        }
    }
    EACH(j) out[j] = vdivq_f32(num[j], den[j]);
}

static inline void trunc_normal4x4(const fi_params *p, const float32x4_t u[LANES4], float32x4_t v[LANES4])
{
    const float32x4_t pa = F32(p->pf[2]), width = F32(p->pf[3]), qb = F32(p->pf[4]);
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    const uint32x4_t mirror = vdupq_n_u32(p->pf[7] < 0.0f ? 0x80000000u : 0u);
    float32x4_t t[LANES4], x[LANES4];
    uint32x4_t lower[LANES4];
    EACH(j) {
        float32x4_t t_lower = ADD(pa, MUL(u[j], width));
        float32x4_t t_upper = ADD(qb, MUL(SUB(F32(1.0f), u[j]), width));
        lower[j] = vcleq_f32(t_lower, F32(0.5f));
        t[j] = vbslq_f32(lower[j], t_lower, t_upper);
    }
    ndtri_lower4x4(t, x);
    const float32x4_t mean = F32(p->pf[0]), std = F32(p->pf[1]), lo = F32(p->pf[5]), hi = F32(p->pf[6]);
    EACH(j) {
        /* Negate (flip the sign bit) when upper != mirrored, as the scalar does. */
        uint32x4_t flip = veorq_u32(vbicq_u32(sign, lower[j]), mirror);
        float32x4_t z = vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(x[j]), flip));
        v[j] = clamp_f32(ADD(mean, MUL(std, z)), lo, hi);
    }
}

/* ---- float64 maths (mirrors fi_scalar.h), two lanes per vector ---- */

#define F64(x) vdupq_n_f64(x)
#define MULD vmulq_f64
#define ADDD vaddq_f64
#define SUBD vsubq_f64

static inline float64x2_t clamp_f64(float64x2_t v, float64x2_t lo, float64x2_t hi)
{
    v = vbslq_f64(vcgtq_f64(v, lo), v, lo);
    return vbslq_f64(vcltq_f64(v, hi), v, hi);
}

static inline void log2dx4(const float64x2_t u[LANES4], float64x2_t out[LANES4])
{
    float64x2_t ef[LANES4], m[LANES4], s[LANES4], s2[LANES4], poly[LANES4];
    EACH(j) {
        uint64x2_t bits = vreinterpretq_u64_f64(u[j]);
        int64x2_t e = vsubq_s64(vreinterpretq_s64_u64(vshrq_n_u64(bits, 52)), vdupq_n_s64(1023));
        m[j] = vreinterpretq_f64_u64(vorrq_u64(vandq_u64(bits, vdupq_n_u64(0x000FFFFFFFFFFFFFull)),
                                               vdupq_n_u64(0x3FF0000000000000ull)));
        uint64x2_t big = vcgtq_f64(m[j], F64(FI_SQRT2));
        m[j] = vbslq_f64(big, MULD(m[j], F64(0.5)), m[j]);
        e = vsubq_s64(e, vreinterpretq_s64_u64(big));          /* e += 1 where big (all ones = -1) */
        ef[j] = vcvtq_f64_s64(e);                              /* exact: small integers */
    }
    EACH(j) s[j] = vdivq_f64(SUBD(m[j], F64(1.0)), ADDD(m[j], F64(1.0)));
    EACH(j) {
        s2[j] = MULD(s[j], s[j]);
        poly[j] = F64(fi_log_coef[FI_LOG_NCOEF - 1]);
    }
    for (int k = FI_LOG_NCOEF - 2; k >= 0; k--)
        EACH(j) poly[j] = ADDD(MULD(poly[j], s2[j]), F64(fi_log_coef[k]));
    EACH(j) {
        float64x2_t lnm = ADDD(ADDD(s[j], s[j]), MULD(MULD(s[j], s2[j]), poly[j]));
        out[j] = ADDD(MULD(ef[j], F64(FI_LN2_HI)), ADDD(lnm, MULD(ef[j], F64(FI_LN2_LO))));
    }
}

/* Exact conversions of 32-bit lanes (two of them) to double. */
static inline float64x2_t u32x2_to_f64(uint32x2_t x) { return vcvtq_f64_u64(vmovl_u32(x)); }
static inline float64x2_t s32x2_to_f64(int32x2_t x) { return vcvtq_f64_s64(vmovl_s32(x)); }

/* Low (h = 0) or high (h = 1) two lanes of a 4-lane word vector. */
static inline uint32x2_t half2(uint32x4_t v, int h) { return h ? vget_high_u32(v) : vget_low_u32(v); }

/* fi_u53 on two lanes. */
static inline float64x2_t u53_2(uint32x2_t x_hi, uint32x2_t x_lo)
{
    return ADDD(MULD(u32x2_to_f64(vshr_n_u32(x_hi, 5)), F64(FI_TWO_26)), u32x2_to_f64(vshr_n_u32(x_lo, 6)));
}

/* fi_open_u52 on two lanes. */
static inline float64x2_t open_u52_2(uint32x2_t x_hi, uint32x2_t x_lo)
{
    float64x2_t a = u32x2_to_f64(vshr_n_u32(x_hi, 6)), b = u32x2_to_f64(vshr_n_u32(x_lo, 6));
    return MULD(ADDD(ADDD(MULD(a, F64(FI_TWO_26)), b), F64(0.5)), F64(FI_TWO_M52));
}

/* Four Box-Muller pairs of 2-lane vectors; x[i][j] = word i of the two blocks of vector j. */
static inline void box_muller2dx4(const uint32x2_t x[4][LANES4], float64x2_t z_cos[LANES4],
                                  float64x2_t z_sin[LANES4])
{
    float64x2_t u[LANES4], lnu[LANES4], r[LANES4], a[LANES4], a2[LANES4], sp[LANES4], cp[LANES4];
    uint64x2_t q[LANES4];
    EACH(j) u[j] = MULD(ADDD(u53_2(x[0][j], x[1][j]), F64(1.0)), F64(FI_TWO_M53));
    log2dx4(u, lnu);
    EACH(j) {
        r[j] = vsqrtq_f64(MULD(lnu[j], F64(-2.0)));
        uint32x2_t q32 = vand_u32(vshr_n_u32(vadd_u32(x[3][j], vdup_n_u32(0x20000000u)), 30), vdup_n_u32(3));
        q[j] = vmovl_u32(q32);
        int32x2_t d = vreinterpret_s32_u32(vsub_u32(x[3][j], vshl_n_u32(q32, 30)));
        float64x2_t dfull = ADDD(MULD(s32x2_to_f64(d), F64(FI_TWO_21)), u32x2_to_f64(vshr_n_u32(x[2][j], 11)));
        a[j] = MULD(dfull, F64(FI_TWO_PI_2M53));
        a2[j] = MULD(a[j], a[j]);
        sp[j] = F64(fi_sin_coef[FI_SINCOS_NCOEF - 1]);
        cp[j] = F64(fi_cos_coef[FI_SINCOS_NCOEF - 1]);
    }
    for (int k = FI_SINCOS_NCOEF - 2; k >= 0; k--)
        EACH(j) {
            sp[j] = ADDD(MULD(sp[j], a2[j]), F64(fi_sin_coef[k]));
            cp[j] = ADDD(MULD(cp[j], a2[j]), F64(fi_cos_coef[k]));
        }
    const uint64x2_t one = vdupq_n_u64(1), two = vdupq_n_u64(2);
    EACH(j) {
        float64x2_t s = ADDD(a[j], MULD(MULD(a[j], a2[j]), sp[j]));
        float64x2_t c = ADDD(SUBD(F64(1.0), MULD(a2[j], F64(0.5))), MULD(MULD(a2[j], a2[j]), cp[j]));
        uint64x2_t swap = vtstq_u64(q[j], one);
        uint64x2_t cos_t = vreinterpretq_u64_f64(vbslq_f64(swap, s, c));
        uint64x2_t sin_t = vreinterpretq_u64_f64(vbslq_f64(swap, c, s));
        uint64x2_t cos_sign = vshlq_n_u64(vandq_u64(vaddq_u64(q[j], one), two), 62);
        uint64x2_t sin_sign = vshlq_n_u64(vandq_u64(q[j], two), 62);
        z_cos[j] = MULD(r[j], vreinterpretq_f64_u64(veorq_u64(cos_t, cos_sign)));
        z_sin[j] = MULD(r[j], vreinterpretq_f64_u64(veorq_u64(sin_t, sin_sign)));
    }
}

static inline void ndtri_lower2dx4(const float64x2_t t[LANES4], float64x2_t out[LANES4])
{
    float64x2_t q[LANES4], r[LANES4], num[LANES4], den[LANES4];
    uint64x2_t tail[LANES4], any = vdupq_n_u64(0);
    EACH(j) {
        tail[j] = vcltq_f64(t[j], F64(FI_NDTRI_TAIL));
        any = vorrq_u64(any, tail[j]);
        q[j] = SUBD(t[j], F64(0.5));
        r[j] = MULD(q[j], q[j]);
        num[j] = F64(fi_ndtri_a[0]);
        den[j] = F64(fi_ndtri_b[0]);
    }
    for (int k = 1; k < 6; k++)
        EACH(j) num[j] = ADDD(MULD(num[j], r[j]), F64(fi_ndtri_a[k]));
    for (int k = 1; k < 5; k++)
        EACH(j) den[j] = ADDD(MULD(den[j], r[j]), F64(fi_ndtri_b[k]));
    EACH(j) {
        num[j] = MULD(num[j], q[j]);
        den[j] = ADDD(MULD(den[j], r[j]), F64(1.0));
    }
    if (vmaxvq_u32(vreinterpretq_u32_u64(any)) != 0) {
        float64x2_t lnt[LANES4], qt[LANES4], num_t[LANES4], den_t[LANES4];
        log2dx4(t, lnt);
        EACH(j) {
            qt[j] = vsqrtq_f64(MULD(lnt[j], F64(-2.0)));
            num_t[j] = F64(fi_ndtri_c[0]);
            den_t[j] = F64(fi_ndtri_d[0]);
        }
        for (int k = 1; k < 6; k++)
            EACH(j) num_t[j] = ADDD(MULD(num_t[j], qt[j]), F64(fi_ndtri_c[k]));
        for (int k = 1; k < 4; k++)
            EACH(j) den_t[j] = ADDD(MULD(den_t[j], qt[j]), F64(fi_ndtri_d[k]));
        EACH(j) {
            den_t[j] = ADDD(MULD(den_t[j], qt[j]), F64(1.0));
            num[j] = vbslq_f64(tail[j], num_t[j], num[j]);
            den[j] = vbslq_f64(tail[j], den_t[j], den[j]);
        }
    }
    EACH(j) out[j] = vdivq_f64(num[j], den[j]);
}

static inline void trunc_normal2dx4(const fi_params *p, const float64x2_t u[LANES4], float64x2_t v[LANES4])
{
    const float64x2_t pa = F64(p->p[2]), width = F64(p->p[3]), qb = F64(p->p[4]);
    const uint64x2_t sign = vdupq_n_u64(0x8000000000000000ull);
    const uint64x2_t mirror = vdupq_n_u64(p->p[7] < 0.0 ? 0x8000000000000000ull : 0u);
    float64x2_t t[LANES4], x[LANES4];
    uint64x2_t lower[LANES4];
    EACH(j) {
        float64x2_t t_lower = ADDD(pa, MULD(u[j], width));
        float64x2_t t_upper = ADDD(qb, MULD(SUBD(F64(1.0), u[j]), width));
        lower[j] = vcleq_f64(t_lower, F64(0.5));
        t[j] = vbslq_f64(lower[j], t_lower, t_upper);
    }
    ndtri_lower2dx4(t, x);
    const float64x2_t mean = F64(p->p[0]), std = F64(p->p[1]), lo = F64(p->p[5]), hi = F64(p->p[6]);
    EACH(j) {
        uint64x2_t flip = veorq_u64(vbicq_u64(sign, lower[j]), mirror);
        float64x2_t z = vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(x[j]), flip));
        v[j] = clamp_f64(ADDD(mean, MULD(std, z)), lo, hi);
    }
}

/* ---- batches of BATCH_BLOCKS blocks: PHILOX_GROUPS groups of 4 ---- */

#define EACH_GROUP(g) for (int g = 0; g < PHILOX_GROUPS; g++)

static inline void raw_batch(const fi_params *p, uint64_t block, uint32_t *dst)
{
    uint32x4_t w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        uint32x4x4_t out = {{w[g][0], w[g][1], w[g][2], w[g][3]}};
        vst4q_u32(dst + 16 * g, out);              /* interleaving store: stream order */
    }
}

/* v[g][i] lane k: element i of block block + 4g + k, in float32. */
static inline void uniform_batch_f32(const fi_params *p, uint64_t block, float32x4_t v[PHILOX_GROUPS][4])
{
    uint32x4_t w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const float32x4_t low = F32(p->pf[0]), scale = F32(p->pf[1]), high = F32(p->pf[2]);
    EACH_GROUP(g) for (int i = 0; i < 4; i++) {
        float32x4_t u = MUL(vcvtq_f32_s32(vreinterpretq_s32_u32(vshrq_n_u32(w[g][i], 8))), F32(FI_TWO_M24_F));
        v[g][i] = min_high_f32(ADD(low, MUL(scale, u)), high);
    }
}

static inline void normal_batch_f32(const fi_params *p, uint64_t block, float32x4_t v[PHILOX_GROUPS][4])
{
    uint32x4_t w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const float32x4_t mean = F32(p->pf[0]), std = F32(p->pf[1]);
    for (int g = 0; g < PHILOX_GROUPS; g += 2) {
        /* Pairs (radius, angle) are words (0, 1) and (2, 3) of each block. */
        const uint32x4_t xr[LANES4] = {w[g][0], w[g][2], w[g + 1][0], w[g + 1][2]};
        const uint32x4_t xa[LANES4] = {w[g][1], w[g][3], w[g + 1][1], w[g + 1][3]};
        float32x4_t zc[LANES4], zs[LANES4];
        box_muller4x4(xr, xa, zc, zs);
        for (int h = 0; h < 2; h++) {
            v[g + h][0] = ADD(mean, MUL(std, zc[2 * h]));
            v[g + h][1] = ADD(mean, MUL(std, zs[2 * h]));
            v[g + h][2] = ADD(mean, MUL(std, zc[2 * h + 1]));
            v[g + h][3] = ADD(mean, MUL(std, zs[2 * h + 1]));
        }
    }
}

static inline void trunc_normal_batch_f32(const fi_params *p, uint64_t block, float32x4_t v[PHILOX_GROUPS][4])
{
    uint32x4_t w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    EACH_GROUP(g) {
        float32x4_t u[LANES4];
        EACH(j) u[j] = MUL(ADD(vcvtq_f32_s32(vreinterpretq_s32_u32(vshrq_n_u32(w[g][j], 9))), F32(0.5f)),
                           F32(FI_TWO_M23_F));
        trunc_normal4x4(p, u, v[g]);
    }
}

/* fi_f32_to_bf16 on four lanes: (u + 0x7FFF + lsb) >> 16, narrowed (ADDHN keeps the high halves). */
static inline uint16x4_t bf16_round4(float32x4_t v)
{
    uint32x4_t u = vreinterpretq_u32_f32(v);
    uint32x4_t bias = vaddq_u32(vdupq_n_u32(0x7FFFu), vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1u)));
    return vaddhn_u32(u, bias);
}

/* fi_f32_to_f16 on four lanes: FCVTN, IEEE round to nearest even under the default FPCR. */
static inline uint16x4_t f16_round4(float32x4_t v)
{
    return vreinterpret_u16_f16(vcvt_f16_f32(v));
}

#define DEFINE_F32_FAMILY(DIST)                                                               \
    static inline void DIST##_batch_store_f32(const fi_params *p, uint64_t b, float *d)        \
    {                                                                                         \
        float32x4_t v[PHILOX_GROUPS][4];                                                      \
        DIST##_batch_f32(p, b, v);                                                            \
        EACH_GROUP(g) {                                                                       \
            float32x4x4_t out = {{v[g][0], v[g][1], v[g][2], v[g][3]}};                       \
            vst4q_f32(d + 16 * g, out);                                                       \
        }                                                                                     \
    }                                                                                         \
    static inline void DIST##_batch_store_f16(const fi_params *p, uint64_t b, uint16_t *d)     \
    {                                                                                         \
        float32x4_t v[PHILOX_GROUPS][4];                                                      \
        DIST##_batch_f32(p, b, v);                                                            \
        EACH_GROUP(g) {                                                                       \
            uint16x4x4_t out = {{f16_round4(v[g][0]), f16_round4(v[g][1]),                     \
                                 f16_round4(v[g][2]), f16_round4(v[g][3])}};                   \
            vst4_u16(d + 16 * g, out);                                                        \
        }                                                                                     \
    }                                                                                         \
    static inline void DIST##_batch_store_bf16(const fi_params *p, uint64_t b, uint16_t *d)    \
    {                                                                                         \
        float32x4_t v[PHILOX_GROUPS][4];                                                      \
        DIST##_batch_f32(p, b, v);                                                            \
        EACH_GROUP(g) {                                                                       \
            uint16x4x4_t out = {{bf16_round4(v[g][0]), bf16_round4(v[g][1]),                   \
                                 bf16_round4(v[g][2]), bf16_round4(v[g][3])}};                 \
            vst4_u16(d + 16 * g, out);                                                        \
        }                                                                                     \
    }

DEFINE_F32_FAMILY(uniform)
DEFINE_F32_FAMILY(normal)
DEFINE_F32_FAMILY(trunc_normal)

/* float64 outputs: block k gives elements 2k (even) and 2k + 1 (odd); vst2q interleaves them. */
static inline void store_f64_pairs(double *dst, float64x2_t even, float64x2_t odd)
{
    float64x2x2_t out = {{even, odd}};
    vst2q_f64(dst, out);
}

static inline void uniform_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    uint32x4_t w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const float64x2_t low = F64(p->p[0]), scale = F64(p->p[1]), high = F64(p->p[2]);
    EACH_GROUP(g) for (int h = 0; h < 2; h++) {
        float64x2_t ue = MULD(u53_2(half2(w[g][0], h), half2(w[g][1], h)), F64(FI_TWO_M53));
        float64x2_t uo = MULD(u53_2(half2(w[g][2], h), half2(w[g][3], h)), F64(FI_TWO_M53));
        float64x2_t ve = ADDD(low, MULD(scale, ue)), vo = ADDD(low, MULD(scale, uo));
        store_f64_pairs(dst + 8 * g + 4 * h, vbslq_f64(vcltq_f64(ve, high), ve, high),
                        vbslq_f64(vcltq_f64(vo, high), vo, high));
    }
}

static inline void normal_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    uint32x4_t w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    const float64x2_t mean = F64(p->p[0]), std = F64(p->p[1]);
    for (int g = 0; g < PHILOX_GROUPS; g += 2) {
        /* Vector j holds blocks block + 4g + 2j, +1: the output pairs in order. */
        uint32x2_t x[4][LANES4];
        float64x2_t zc[LANES4], zs[LANES4];
        for (int i = 0; i < 4; i++)
            EACH(j) x[i][j] = half2(w[g + (j >> 1)][i], j & 1);
        box_muller2dx4(x, zc, zs);
        EACH(j) store_f64_pairs(dst + 8 * g + 4 * j, ADDD(mean, MULD(std, zc[j])), ADDD(mean, MULD(std, zs[j])));
    }
}

static inline void trunc_normal_batch_store_f64(const fi_params *p, uint64_t block, double *dst)
{
    uint32x4_t w[PHILOX_GROUPS][4];
    philox_groups(p, block, w);
    for (int g = 0; g < PHILOX_GROUPS; g += 2) {
        /* u[2j'] / u[2j'+1]: even / odd elements of the two blocks of vector j'. */
        float64x2_t u[LANES4], v[LANES4];
        for (int h = 0; h < 2; h++) {
            u[2 * h] = open_u52_2(half2(w[g + h][0], 0), half2(w[g + h][1], 0));
            u[2 * h + 1] = open_u52_2(half2(w[g + h][2], 0), half2(w[g + h][3], 0));
        }
        trunc_normal2dx4(p, u, v);
        for (int h = 0; h < 2; h++)
            store_f64_pairs(dst + 8 * (g + h), v[2 * h], v[2 * h + 1]);
        for (int h = 0; h < 2; h++) {
            u[2 * h] = open_u52_2(half2(w[g + h][0], 1), half2(w[g + h][1], 1));
            u[2 * h + 1] = open_u52_2(half2(w[g + h][2], 1), half2(w[g + h][3], 1));
        }
        trunc_normal2dx4(p, u, v);
        for (int h = 0; h < 2; h++)
            store_f64_pairs(dst + 8 * (g + h) + 4, v[2 * h], v[2 * h + 1]);
    }
}

#define NO_FINISH(p) ((void)(p))

FI_DEFINE_FILL(raw_u32, uint32_t, 4, fi_unit_raw_u32, BATCH_BLOCKS, raw_batch, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_f32, float, 4, fi_unit_uniform_f32, BATCH_BLOCKS, uniform_batch_store_f32, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_f64, double, 2, fi_unit_uniform_f64, BATCH_BLOCKS, uniform_batch_store_f64, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_f16, uint16_t, 4, fi_unit_uniform_f16, BATCH_BLOCKS, uniform_batch_store_f16, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_bf16, uint16_t, 4, fi_unit_uniform_bf16, BATCH_BLOCKS, uniform_batch_store_bf16, 0, NO_FINISH)
FI_DEFINE_FILL(normal_f32, float, 4, fi_unit_normal_f32, BATCH_BLOCKS, normal_batch_store_f32, 0, NO_FINISH)
FI_DEFINE_FILL(normal_f64, double, 2, fi_unit_normal_f64, BATCH_BLOCKS, normal_batch_store_f64, 0, NO_FINISH)
FI_DEFINE_FILL(normal_f16, uint16_t, 4, fi_unit_normal_f16, BATCH_BLOCKS, normal_batch_store_f16, 0, NO_FINISH)
FI_DEFINE_FILL(normal_bf16, uint16_t, 4, fi_unit_normal_bf16, BATCH_BLOCKS, normal_batch_store_bf16, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_f32, float, 4, fi_unit_trunc_normal_f32, BATCH_BLOCKS, trunc_normal_batch_store_f32, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_f64, double, 2, fi_unit_trunc_normal_f64, BATCH_BLOCKS, trunc_normal_batch_store_f64, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_f16, uint16_t, 4, fi_unit_trunc_normal_f16, BATCH_BLOCKS, trunc_normal_batch_store_f16, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_bf16, uint16_t, 4, fi_unit_trunc_normal_bf16, BATCH_BLOCKS, trunc_normal_batch_store_bf16, 0, NO_FINISH)

const fi_kernel_table fi_kernels_neon = {
    "neon",
    {
        FI_RANDOM_KERNELS,
        [FI_DIST_CONSTANT] = FI_CONSTANT_KERNELS,
    },
};

#endif /* __aarch64__ */
