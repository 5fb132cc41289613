/*
 * Scalar stream-v1 transforms, one Philox block at a time.
 *
 * These are the definition the SIMD kernels mirror operation for operation
 * (same operands, same order, no fused multiply-add: the build passes
 * -ffp-contract=off), so every path gives the same bits.  The generic kernel
 * table is made of these; the AVX2 table uses them for partial blocks.
 */
#ifndef FASTINIT_SCALAR_H
#define FASTINIT_SCALAR_H

#include <stdint.h>
#include <string.h>

#include "fastinit.h"
#include "fi_constants.h"

static inline uint32_t fi_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float fi_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint64_t fi_f64_bits(double f) { uint64_t u; memcpy(&u, &f, 8); return u; }
static inline double fi_bits_f64(uint64_t u) { double f; memcpy(&f, &u, 8); return f; }

/* ---- elementary functions (valid for the arguments the transforms pass) ---- */

/* ln(u) for a normal float u > 0. */
static inline float fi_log_f32(float u)
{
    uint32_t bits = fi_f32_bits(u);
    int32_t e = (int32_t)(bits >> 23) - 127;
    float m = fi_bits_f32((bits & 0x007FFFFFu) | 0x3F800000u);
    if (m > FI_SQRT2_F) {
        m = m * 0.5f;
        e += 1;
    }
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float poly = FI_LOG_F_C4;
    poly = poly * s2 + FI_LOG_F_C3;
    poly = poly * s2 + FI_LOG_F_C2;
    poly = poly * s2 + FI_LOG_F_C1;
    float lnm = (s + s) + (s * s2) * poly;
    float ef = (float)e;
    return ef * FI_LN2_HI_F + (lnm + ef * FI_LN2_LO_F);
}

/* ln(u) for a normal double u > 0. */
static inline double fi_log_f64(double u)
{
    uint64_t bits = fi_f64_bits(u);
    int64_t e = (int64_t)(bits >> 52) - 1023;
    double m = fi_bits_f64((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    if (m > FI_SQRT2) {
        m = m * 0.5;
        e += 1;
    }
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double poly = fi_log_coef[FI_LOG_NCOEF - 1];
    for (int k = FI_LOG_NCOEF - 2; k >= 0; k--)
        poly = poly * s2 + fi_log_coef[k];
    double lnm = (s + s) + (s * s2) * poly;
    double ef = (double)e;
    return ef * FI_LN2_HI + (lnm + ef * FI_LN2_LO);
}

/* (cos, sin) of q*pi/2 + a from sin a, cos a: exact swaps and sign flips. */
#define FI_ROTATE_QUADRANT(q, s, c, cos_out, sin_out)            \
    do {                                                          \
        cos_out = ((q) & 1) ? (s) : (c);                          \
        sin_out = ((q) & 1) ? (c) : (s);                          \
        if (((q) + 1) & 2) cos_out = -cos_out;                    \
        if ((q) & 2) sin_out = -sin_out;                          \
    } while (0)

/* Correctly rounded uint32 -> float: both halves are exact, the sum rounds once. */
static inline float fi_u32_to_f32(uint32_t x)
{
    return (float)(int32_t)(x >> 16) * 65536.0f + (float)(int32_t)(x & 0xFFFFu);
}

/* (x_hi >> 5) * 2^26 + (x_lo >> 6): a 53-bit integer, exact in double. */
static inline double fi_u53(uint32_t x_hi, uint32_t x_lo)
{
    return (double)(int32_t)(x_hi >> 5) * FI_TWO_26 + (double)(int32_t)(x_lo >> 6);
}

/* Standard normal pair from a radius word and an angle word. */
static inline void fi_box_muller_f32(uint32_t x_radius, uint32_t x_angle, float *z_cos, float *z_sin)
{
    float u = (fi_u32_to_f32(x_radius) + 1.0f) * FI_TWO_M32_F;          /* (0, 1] */
    float r = __builtin_sqrtf(fi_log_f32(u) * -2.0f);
    uint32_t q = ((x_angle + 0x20000000u) >> 30) & 3u;
    int32_t d = (int32_t)(x_angle - (q << 30));                           /* [-2^29, 2^29) */
    float a = (float)d * FI_TWO_PI_2M32_F;                                /* [-pi/4, pi/4) */
    float a2 = a * a;
    float sp = FI_SIN_F_C4;
    sp = sp * a2 + FI_SIN_F_C3;
    sp = sp * a2 + FI_SIN_F_C2;
    sp = sp * a2 + FI_SIN_F_C1;
    float cp = FI_COS_F_C5;
    cp = cp * a2 + FI_COS_F_C4;
    cp = cp * a2 + FI_COS_F_C3;
    cp = cp * a2 + FI_COS_F_C2;
    float s = a + (a * a2) * sp;
    float c = (1.0f - a2 * 0.5f) + (a2 * a2) * cp;
    float cos_t, sin_t;
    FI_ROTATE_QUADRANT(q, s, c, cos_t, sin_t);
    *z_cos = r * cos_t;
    *z_sin = r * sin_t;
}

/* Standard normal pair from the four words of one block (53-bit radius and angle). */
static inline void fi_box_muller_f64(const uint32_t x[4], double *z_cos, double *z_sin)
{
    double u = (fi_u53(x[0], x[1]) + 1.0) * FI_TWO_M53;                  /* (0, 1] */
    double r = __builtin_sqrt(fi_log_f64(u) * -2.0);
    uint32_t q = ((x[3] + 0x20000000u) >> 30) & 3u;
    int32_t d = (int32_t)(x[3] - (q << 30));
    double dfull = (double)d * FI_TWO_21 + (double)(int32_t)(x[2] >> 11);
    double a = dfull * FI_TWO_PI_2M53;
    double a2 = a * a;
    double sp = fi_sin_coef[FI_SINCOS_NCOEF - 1];
    double cp = fi_cos_coef[FI_SINCOS_NCOEF - 1];
    for (int k = FI_SINCOS_NCOEF - 2; k >= 0; k--) {
        sp = sp * a2 + fi_sin_coef[k];
        cp = cp * a2 + fi_cos_coef[k];
    }
    double s = a + (a * a2) * sp;
    double c = (1.0 - a2 * 0.5) + (a2 * a2) * cp;
    double cos_t, sin_t;
    FI_ROTATE_QUADRANT(q, s, c, cos_t, sin_t);
    *z_cos = r * cos_t;
    *z_sin = r * sin_t;
}

/* Phi^-1(t) for 0 < t <= 1/2 (see fi_constants.h); float and double twins. */
#define FI_DEFINE_NDTRI_LOWER(NAME, T, CAST, LOG, SQRT)                       \
    static inline T NAME(T t)                                                \
    {                                                                        \
        T num, den;                                                          \
        if (t < (T)FI_NDTRI_TAIL) {                                          \
            T q = SQRT(LOG(t) * (T)-2.0);                                    \
            num = CAST(fi_ndtri_c[0]);                                       \
            for (int k = 1; k < 6; k++)                                      \
                num = num * q + CAST(fi_ndtri_c[k]);                         \
            den = CAST(fi_ndtri_d[0]);                                       \
            for (int k = 1; k < 4; k++)                                      \
                den = den * q + CAST(fi_ndtri_d[k]);                         \
            den = den * q + (T)1.0;                                          \
        } else {                                                             \
            T q = t - (T)0.5, r = q * q;                                     \
            num = CAST(fi_ndtri_a[0]);                                       \
            for (int k = 1; k < 6; k++)                                      \
                num = num * r + CAST(fi_ndtri_a[k]);                         \
            num = num * q;                                                   \
            den = CAST(fi_ndtri_b[0]);                                       \
            for (int k = 1; k < 5; k++)                                      \
                den = den * r + CAST(fi_ndtri_b[k]);                         \
            den = den * r + (T)1.0;                                          \
        }                                                                    \
        return num / den;                                                    \
    }

#define FI_AS_FLOAT(x) ((float)(x))
#define FI_AS_DOUBLE(x) ((double)(x))
FI_DEFINE_NDTRI_LOWER(fi_ndtri_lower_f32, float, FI_AS_FLOAT, fi_log_f32, __builtin_sqrtf)
FI_DEFINE_NDTRI_LOWER(fi_ndtri_lower_f64, double, FI_AS_DOUBLE, fi_log_f64, __builtin_sqrt)

/*
 * Truncated normal by inversion from a uniform u in (0, 1).  The bounds were
 * mirrored (if needed) so the interval leans to the lower tail; the CDF
 * value is taken from whichever end keeps precision: t = Phi(alpha) + u w
 * when that is <= 1/2, else t = Phi(-beta) + (1 - u) w and the sign flips.
 * P: mean, std, Phi(alpha), w, Phi(-beta), a, b, mirror.
 */
#define FI_DEFINE_TRUNC_NORMAL(NAME, T, P, NDTRI)                            \
    static inline T NAME(const T *P, T u)                                    \
    {                                                                        \
        T t_lower = P[2] + u * P[3];                                         \
        T t_upper = P[4] + ((T)1.0 - u) * P[3];                              \
        int upper = !(t_lower <= (T)0.5);                                    \
        T x = NDTRI(upper ? t_upper : t_lower);                              \
        T z = (upper != (P[7] < (T)0.0)) ? -x : x;                           \
        T v = P[0] + P[1] * z;                                               \
        v = v > P[5] ? v : P[5];                                             \
        return v < P[6] ? v : P[6];                                          \
    }

FI_DEFINE_TRUNC_NORMAL(fi_trunc_normal_f32, float, q, fi_ndtri_lower_f32)
FI_DEFINE_TRUNC_NORMAL(fi_trunc_normal_f64, double, q, fi_ndtri_lower_f64)

/* ---- half-precision rounding, round to nearest even ---- */

/*
 * Round to nearest even on the bits.  Exact for every non-NaN float,
 * infinities included; fills never produce NaN (parameters are finite and
 * range-checked), so there is no NaN case.
 */
static inline uint16_t fi_f32_to_bf16(float f)
{
    uint32_t u = fi_f32_bits(f);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline uint16_t fi_f32_to_f16(float f)
{
    uint32_t x = fi_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7FFFFFFFu;
    if (x > 0x7F800000u)                                 /* NaN, quieted, top payload bits kept */
        return sign | 0x7E00u | (uint16_t)((x >> 13) & 0x3FFu);
    if (x >= 0x477FF000u)                                /* >= 65520 rounds to infinity */
        return sign | 0x7C00u;
    if (x >= 0x38800000u) {                              /* normal half: rebias, round on bit 13 */
        uint32_t r = x - 0x38000000u + 0xFFFu + ((x >> 13) & 1u);
        return sign | (uint16_t)(r >> 13);
    }
    uint32_t e = x >> 23;
    if (e < 102)                                         /* below 2^-25: rounds to zero */
        return sign;
    uint32_t mant = (x & 0x7FFFFFu) | 0x800000u;          /* value = mant * 2^(e-150) */
    uint32_t shift = 126 - e;                            /* to units of 2^-24: 14..24 */
    uint32_t result = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (result & 1u)))
        result += 1;
    return sign | (uint16_t)result;
}

/* ---- one Philox block -> elements ---- */

static inline void fi_unit_raw_u32(const fi_params *p, uint64_t block, uint32_t *out)
{
    fi_philox_block(&p->key, p->stream, block, out);
}

static inline void fi_unit_uniform_f32(const fi_params *p, uint64_t block, float *out)
{
    uint32_t x[4];
    fi_philox_block(&p->key, p->stream, block, x);
    for (int i = 0; i < 4; i++) {
        float u = (float)(int32_t)(x[i] >> 8) * FI_TWO_M24_F;           /* [0, 1) */
        float v = p->pf[0] + p->pf[1] * u;
        out[i] = v < p->pf[2] ? v : p->pf[2];     /* rounding must not step past high */
    }
}

static inline void fi_unit_uniform_f64(const fi_params *p, uint64_t block, double *out)
{
    uint32_t x[4];
    fi_philox_block(&p->key, p->stream, block, x);
    for (int i = 0; i < 2; i++) {
        double v = p->p[0] + p->p[1] * (fi_u53(x[2 * i], x[2 * i + 1]) * FI_TWO_M53);
        out[i] = v < p->p[2] ? v : p->p[2];
    }
}

static inline void fi_unit_normal_f32(const fi_params *p, uint64_t block, float *out)
{
    uint32_t x[4];
    float z[4];
    fi_philox_block(&p->key, p->stream, block, x);
    fi_box_muller_f32(x[0], x[1], &z[0], &z[1]);
    fi_box_muller_f32(x[2], x[3], &z[2], &z[3]);
    for (int i = 0; i < 4; i++)
        out[i] = p->pf[0] + p->pf[1] * z[i];
}

static inline void fi_unit_normal_f64(const fi_params *p, uint64_t block, double *out)
{
    uint32_t x[4];
    double z[2];
    fi_philox_block(&p->key, p->stream, block, x);
    fi_box_muller_f64(x, &z[0], &z[1]);
    out[0] = p->p[0] + p->p[1] * z[0];
    out[1] = p->p[0] + p->p[1] * z[1];
}

static inline void fi_unit_trunc_normal_f32(const fi_params *p, uint64_t block, float *out)
{
    uint32_t x[4];
    fi_philox_block(&p->key, p->stream, block, x);
    for (int i = 0; i < 4; i++) {
        float u = ((float)(int32_t)(x[i] >> 9) + 0.5f) * FI_TWO_M23_F;     /* (0, 1) */
        out[i] = fi_trunc_normal_f32(p->pf, u);
    }
}

/* 52-bit (x_hi >> 6) * 2^26 + (x_lo >> 6) + 1/2, times 2^-52: exact, in (0, 1). */
static inline double fi_open_u52(uint32_t x_hi, uint32_t x_lo)
{
    return ((double)(int32_t)(x_hi >> 6) * FI_TWO_26 + (double)(int32_t)(x_lo >> 6) + 0.5) * FI_TWO_M52;
}

static inline void fi_unit_trunc_normal_f64(const fi_params *p, uint64_t block, double *out)
{
    uint32_t x[4];
    fi_philox_block(&p->key, p->stream, block, x);
    out[0] = fi_trunc_normal_f64(p->p, fi_open_u52(x[0], x[1]));
    out[1] = fi_trunc_normal_f64(p->p, fi_open_u52(x[2], x[3]));
}

/* Half-precision units: the float32 unit, then round to nearest even. */
#define FI_DEFINE_HALF_UNIT(NAME, F32_UNIT, ROUND)                          \
    static inline void NAME(const fi_params *p, uint64_t block, uint16_t *out) \
    {                                                                       \
        float v[4];                                                         \
        F32_UNIT(p, block, v);                                              \
        for (int i = 0; i < 4; i++)                                         \
            out[i] = ROUND(v[i]);                                           \
    }

FI_DEFINE_HALF_UNIT(fi_unit_uniform_f16, fi_unit_uniform_f32, fi_f32_to_f16)
FI_DEFINE_HALF_UNIT(fi_unit_uniform_bf16, fi_unit_uniform_f32, fi_f32_to_bf16)
FI_DEFINE_HALF_UNIT(fi_unit_normal_f16, fi_unit_normal_f32, fi_f32_to_f16)
FI_DEFINE_HALF_UNIT(fi_unit_normal_bf16, fi_unit_normal_f32, fi_f32_to_bf16)
FI_DEFINE_HALF_UNIT(fi_unit_trunc_normal_f16, fi_unit_trunc_normal_f32, fi_f32_to_f16)
FI_DEFINE_HALF_UNIT(fi_unit_trunc_normal_bf16, fi_unit_trunc_normal_f32, fi_f32_to_bf16)

#endif
