/*
 * Constants of the stream-v1 transforms.  fastinit/reference.py builds the
 * same values with the same expressions (a double rounded once to float), so
 * C and NumPy agree bit for bit.  Changing any of them changes the stream.
 */
#ifndef FASTINIT_CONSTANTS_H
#define FASTINIT_CONSTANTS_H

#define FI_PI 3.14159265358979323846

/* Uniform conversions. */
#define FI_TWO_M24_F ((float)(1.0 / 16777216.0))          /* 2^-24 */
#define FI_TWO_M32_F ((float)(1.0 / 4294967296.0))        /* 2^-32 */
#define FI_TWO_M32 (1.0 / 4294967296.0)                   /* 2^-32 */
#define FI_TWO_M53 (1.0 / 9007199254740992.0)             /* 2^-53 */
#define FI_TWO_26 67108864.0                              /* 2^26 */
#define FI_TWO_21 2097152.0                               /* 2^21 */

/* Angle scales: integer turn fraction -> radians. */
#define FI_TWO_PI_2M32_F ((float)(2.0 * FI_PI / 4294967296.0))
#define FI_TWO_PI_2M53 (2.0 * FI_PI / 9007199254740992.0)

/* ln(2) split so that e * LN2_HI is exact for the small exponents we meet. */
#define FI_LN2_HI_F ((float)0.693145751953125)
#define FI_LN2_LO_F ((float)1.428606765330187e-06)
#define FI_LN2_HI 6.93147180369123816490e-01
#define FI_LN2_LO 1.90821492927058770002e-10
#define FI_SQRT2_F ((float)1.41421356237309504880)
#define FI_SQRT2 1.41421356237309504880
/*
 * 2^23 minus (FI_SQRT2_F's mantissa bits 0x3504F3, plus one): added to a
 * float's bits it carries into the exponent exactly when the mantissa, read
 * as m in [1, 2), is > FI_SQRT2_F.  Vector logs use it for their range
 * reduction (tools/exhaustive_f32.c checks it against fi_log_f32).
 */
#define FI_LOG_SQRT2_CARRY 0x004AFB0C

/*
 * ln(m) = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.1716 for
 * m in [sqrt(1/2), sqrt(2)]: 2s + s^3 P(s^2), P's coefficients 2/(2k+1).
 */
#define FI_LOG_F_C1 ((float)(2.0 / 3.0))
#define FI_LOG_F_C2 ((float)(2.0 / 5.0))
#define FI_LOG_F_C3 ((float)(2.0 / 7.0))
#define FI_LOG_F_C4 ((float)(2.0 / 9.0))
#define FI_LOG_NCOEF 10
static const double fi_log_coef[FI_LOG_NCOEF] = {
    2.0 / 3.0, 2.0 / 5.0, 2.0 / 7.0, 2.0 / 9.0, 2.0 / 11.0,
    2.0 / 13.0, 2.0 / 15.0, 2.0 / 17.0, 2.0 / 19.0, 2.0 / 21.0};

/*
 * Taylor series on |a| <= pi/4: sin a = a + a^3 S(a^2),
 * cos a = (1 - a^2/2) + a^4 C(a^2).  Truncation error < 2e-9 (float),
 * < 1e-19 (double).
 */
#define FI_SIN_F_C1 ((float)(-1.0 / 6.0))
#define FI_SIN_F_C2 ((float)(1.0 / 120.0))
#define FI_SIN_F_C3 ((float)(-1.0 / 5040.0))
#define FI_SIN_F_C4 ((float)(1.0 / 362880.0))
#define FI_COS_F_C2 ((float)(1.0 / 24.0))
#define FI_COS_F_C3 ((float)(-1.0 / 720.0))
#define FI_COS_F_C4 ((float)(1.0 / 40320.0))
#define FI_COS_F_C5 ((float)(-1.0 / 3628800.0))
#define FI_SINCOS_NCOEF 8
static const double fi_sin_coef[FI_SINCOS_NCOEF] = {
    -1.0 / 6.0, 1.0 / 120.0, -1.0 / 5040.0, 1.0 / 362880.0,
    -1.0 / 39916800.0, 1.0 / 6227020800.0, -1.0 / 1307674368000.0,
    1.0 / 355687428096000.0};
static const double fi_cos_coef[FI_SINCOS_NCOEF] = {
    1.0 / 24.0, -1.0 / 720.0, 1.0 / 40320.0, -1.0 / 3628800.0,
    1.0 / 479001600.0, -1.0 / 87178291200.0, 1.0 / 20922789888000.0,
    -1.0 / 6402373705728000.0};

/*
 * Inverse normal CDF for 0 < t <= 1/2 (truncated normal): P. J. Acklam's
 * rational approximations, relative error < 1.15e-9 (checked against
 * scipy.special.ndtri in tests).  Central region (t >= FI_NDTRI_TAIL):
 * q = t - 1/2, r = q^2, A(r) q / (B(r) r + 1); lower tail: q = sqrt(-2 ln t),
 * C(q) / (D(q) q + 1).  Horner order: first coefficient innermost.
 */
#define FI_NDTRI_TAIL 0.02425
#define FI_TWO_M23_F ((float)(1.0 / 8388608.0))           /* 2^-23 */
#define FI_TWO_M52 (1.0 / 4503599627370496.0)             /* 2^-52 */
static const double fi_ndtri_a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                     -2.759285104469687e+02, 1.383577518672690e+02,
                                     -3.066479806614716e+01, 2.506628277459239e+00};
static const double fi_ndtri_b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                     -1.556989798598866e+02, 6.680131188771972e+01,
                                     -1.328068155288572e+01};
static const double fi_ndtri_c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                     -2.400758277161838e+00, -2.549732539343734e+00,
                                     4.374664141464968e+00, 2.938163982698783e+00};
static const double fi_ndtri_d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                                     2.445134137142996e+00, 3.754408661907416e+00};

/*
 * Truncated normal on a narrow interval (FI_DIST_TRUNC_NORMAL_NARROW):
 * Taylor coefficients c_0..c_20 of exp(-A q - B q^2), Newton steps per half.
 * |A| <= 0.7, B <= 0.23 in that regime; on q in [0, 1/2] the dropped terms
 * are below 1.1e-20 and 4 steps from q0 = T converge to < 5e-16 relative.
 */
#define FI_NARROW_NCOEF 21
#define FI_NARROW_STEPS 4

#endif
