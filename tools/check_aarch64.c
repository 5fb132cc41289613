/*
 * Bit-identity check of the aarch64 NEON kernel table (src_c/kernels_neon.c)
 * against the scalar definition (the generic table, src_c/fi_scalar.h).
 * Built for aarch64 and run under qemu-aarch64 by tools/check_aarch64.sh;
 * it runs natively on an aarch64 machine just as well.
 *
 *   1. Philox4x32 known-answer vectors (Random123's kat_vectors), scalar and
 *      every lane of the NEON batch.
 *   2. float32 -> float16: FCVTN (what the NEON table uses) against
 *      fi_f32_to_f16 on every float32 whose exponent decides a rounding
 *      boundary (subnormal, normal and overflow edges: all mantissas), and a
 *      strided sample of the rest.
 *   3. The float32 normal transform: log4x4 against fi_log_f32, and
 *      box_muller4x4 against fi_box_muller_f32 over a strided sample of all
 *      2^32 radius words and of all 2^32 angle words (the other word
 *      scrambled), plus every word in windows around the quadrant edges.
 *   4. Every kernel of the NEON table against the generic table: several
 *      parameter sets per distribution (trunc_normal narrow, tail, mirrored;
 *      std tiny enough for float16/bfloat16 subnormals; values that overflow
 *      float16 to infinity; signed-zero clamps), runs that cross the 2^32-block
 *      carry at every lane of a batch, odd offsets and lengths, unaligned
 *      outputs, and guard elements that must stay untouched; at least
 *      WORDS_PER_KERNEL Philox words per kernel.
 * Exits 1 on any difference (printing the first few), 0 when all agree.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src_c/kernels_neon.c"

#ifndef WORDS_PER_KERNEL
#define WORDS_PER_KERNEL 10000000ull
#endif
/* Odd strides through all 2^32 words: about 2^32 / stride samples each, every low-bit pattern hit. */
#ifndef BM_STRIDE
#define BM_STRIDE 65u
#endif
#ifndef F16_STRIDE
#define F16_STRIDE 61u
#endif

static int failures = 0;

static void fail(const char *what)
{
    if (failures < 20)
        printf("MISMATCH %s\n", what);
    failures++;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64: the driver's own deterministic randomness. */
static uint64_t rng_state = 0x853C49E6748FEA9Bull;
static uint64_t rnd64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- 1. known-answer vectors ---- */

static void check_kat(void)
{
    static const struct {
        int rounds;
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {10, {0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {10, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {10, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
        {7, {0, 0, 0, 0}, {0, 0}, {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
    };
    int checked = 0;
    for (size_t v = 0; v < sizeof kat / sizeof kat[0]; v++) {
        fi_params p;
        memset(&p, 0, sizeof p);
        fi_philox_key_init(&p.key, (uint64_t)kat[v].key[1] << 32 | kat[v].key[0]);
        uint32_t got[4];
        fi_philox4x32_rounds(&p.key, kat[v].rounds, kat[v].ctr, got);
        if (memcmp(got, kat[v].out, sizeof got) != 0)
            fail("Philox known-answer vector, scalar");
        checked++;
        if (kat[v].rounds != FI_PHILOX_ROUNDS)
            continue;
        /* The vector's counter as block L of a NEON batch, for every lane L. */
        uint64_t block = (uint64_t)kat[v].ctr[1] << 32 | kat[v].ctr[0];
        p.stream = (uint64_t)kat[v].ctr[3] << 32 | kat[v].ctr[2];
        for (int lane = 0; lane < BATCH_BLOCKS; lane++) {
            uint32x4_t w[PHILOX_GROUPS][4];
            philox_groups(&p, block - (uint64_t)lane, w);
            for (int i = 0; i < 4; i++) {
                uint32_t words[4];
                vst1q_u32(words, w[lane / 4][i]);
                if (words[lane % 4] != kat[v].out[i]) {
                    fail("Philox known-answer vector, NEON batch lane");
                    break;
                }
            }
            checked++;
        }
    }
    printf("known-answer vectors: %d checks (scalar and every NEON batch lane)\n", checked);
}

/* ---- 2. float32 -> float16 ---- */

static int64_t f16_checked = 0;

static void check_f16_range(uint32_t first_bits, uint64_t count, uint32_t stride)
{
    for (uint64_t n = 0; n < count; n += 4) {
        uint32_t in[4];
        for (int k = 0; k < 4; k++)
            in[k] = first_bits + (uint32_t)((n + (uint64_t)k) * stride);
        uint16_t got[4];
        vst1_u16(got, f16_round4(vreinterpretq_f32_u32(vld1q_u32(in))));
        for (int k = 0; k < 4; k++) {
            uint32_t x = in[k];
            if ((x & 0x7FFFFFFFu) > 0x7F800000u)
                continue;                        /* NaN: never produced by a fill */
            uint16_t want = fi_f32_to_f16(fi_bits_f32(x));
            if (got[k] != want) {
                char msg[120];
                snprintf(msg, sizeof msg, "f16 of bits 0x%08" PRIx32 ": fcvtn 0x%04x scalar 0x%04x", x, got[k], want);
                fail(msg);
            }
        }
        f16_checked += 4;
    }
}

static void check_f16(void)
{
    double t0 = seconds();
    for (uint32_t sign = 0; sign < 2; sign++) {
        uint32_t s = sign << 31;
        /* Every mantissa of the exponents at the edges: 2^-25 (rounds to zero or the
         * smallest subnormal), 2^-15 (largest subnormal / smallest normal), 2^15
         * (largest finite / overflow), plus +-0, infinities and everything around. */
        static const uint32_t edge_exponents[] = {101, 102, 103, 112, 113, 142, 143};
        for (size_t k = 0; k < sizeof edge_exponents / sizeof edge_exponents[0]; k++)
            check_f16_range(s | edge_exponents[k] << 23, 1u << 23, 1);
        check_f16_range(s, 4096, 1);                          /* zero and the smallest subnormals */
        check_f16_range(s | 0x7F800000u, 4, 1);               /* infinity (and 3 NaNs, skipped) */
        check_f16_range(s | 0x7F7FF000u, 4096, 1);            /* the largest finite floats */
        /* All the rest: an odd stride through the whole positive range. */
        check_f16_range(s, (uint64_t)0x7F800000u / F16_STRIDE, F16_STRIDE);
    }
    printf("float32 -> float16, fcvtn vs fi_f32_to_f16: %" PRId64 " values (%.1f s)\n", f16_checked, seconds() - t0);
}

/* ---- 3. float32 normal transform ---- */

static int64_t log_checked = 0, bm_checked = 0;

/* log4x4 on LANES4 * 4 float bit patterns from `bits`. */
static void check_log16(const uint32_t bits[LANES4 * 4])
{
    float32x4_t u[LANES4], got[LANES4];
    EACH(j) u[j] = vreinterpretq_f32_u32(vld1q_u32(bits + 4 * j));
    log4x4(u, got);
    EACH(j) {
        float out[4];
        vst1q_f32(out, got[j]);
        for (int k = 0; k < 4; k++) {
            float want = fi_log_f32(fi_bits_f32(bits[4 * j + k]));
            if (memcmp(&want, &out[k], 4) != 0) {
                char msg[120];
                snprintf(msg, sizeof msg, "log of bits 0x%08" PRIx32 ": neon %.9g scalar %.9g",
                         bits[4 * j + k], out[k], want);
                fail(msg);
            }
        }
    }
    log_checked += LANES4 * 4;
}

/* box_muller4x4 on 16 (radius, angle) pairs. */
static void check_bm16(const uint32_t r[LANES4 * 4], const uint32_t a[LANES4 * 4])
{
    uint32x4_t xr[LANES4], xa[LANES4];
    float32x4_t zc[LANES4], zs[LANES4];
    EACH(j) { xr[j] = vld1q_u32(r + 4 * j); xa[j] = vld1q_u32(a + 4 * j); }
    box_muller4x4(xr, xa, zc, zs);
    EACH(j) {
        float c[4], s[4];
        vst1q_f32(c, zc[j]);
        vst1q_f32(s, zs[j]);
        for (int k = 0; k < 4; k++) {
            float want_c, want_s;
            fi_box_muller_f32(r[4 * j + k], a[4 * j + k], &want_c, &want_s);
            if (memcmp(&want_c, &c[k], 4) != 0 || memcmp(&want_s, &s[k], 4) != 0) {
                char msg[160];
                snprintf(msg, sizeof msg, "box_muller radius 0x%08" PRIx32 " angle 0x%08" PRIx32
                         ": neon (%.9g, %.9g) scalar (%.9g, %.9g)", r[4 * j + k], a[4 * j + k],
                         c[k], s[k], want_c, want_s);
                fail(msg);
            }
        }
    }
    bm_checked += LANES4 * 4;
}

#define GOLDEN_RATIO_32 0x9E3779B9u   /* odd: a bijective scramble of the other word */

/* Words first, first + stride, ... (count of them, a multiple of 16) as radius or angle words. */
static void check_bm_words(uint32_t first, uint64_t count, uint32_t stride, int vary_angle)
{
    for (uint64_t n = 0; n < count; n += 16) {
        uint32_t w[16], other[16];
        for (int k = 0; k < 16; k++) {
            w[k] = first + (uint32_t)((n + (uint64_t)k) * stride);
            other[k] = w[k] * GOLDEN_RATIO_32 + 0x6A09E667u;
        }
        if (vary_angle)
            check_bm16(other, w);
        else
            check_bm16(w, other);
    }
}

static void check_log(void)
{
    double t0 = seconds();
    /* log: every finite float >= 0 on an odd stride, plus every mantissa of [1, 2) and [0.5, 1)
     * (the sqrt(2) carry of the range reduction), the tiny and the largest floats. */
    uint32_t bits[16];
    for (uint64_t b = 0; b < 0x7F800000u; b += 16u * 257u) {
        for (int k = 0; k < 16; k++)
            bits[k] = (uint32_t)(b + (uint64_t)k * 257u);
        check_log16(bits);
    }
    for (uint32_t b = 0x3F000000u; b < 0x40000000u; b += 16) {
        for (int k = 0; k < 16; k++)
            bits[k] = b + (uint32_t)k;
        check_log16(bits);
    }
    for (uint32_t b = 0x00800000u; b < 0x00800000u + 65536u; b += 16) {
        for (int k = 0; k < 16; k++) {
            bits[k] = b + (uint32_t)k;
            if (b >= 0x00800000u + 32768u)
                bits[k] = 0x7F7FFFFFu - (b - 0x00800000u - 32768u) - (uint32_t)k;
        }
        check_log16(bits);
    }

    printf("log4x4 vs fi_log_f32: %" PRId64 " inputs (%.1f s)\n", log_checked, seconds() - t0);
}

/* Box-Muller: every radius word (vary_angle = 0) or every angle word (1) on an odd stride. */
static void check_box_muller(int vary_angle)
{
    double t0 = seconds();
    bm_checked = 0;
    const uint64_t n = ((uint64_t)1 << 32) / BM_STRIDE / 16 * 16;
    check_bm_words(0, n, BM_STRIDE, vary_angle);
    if (!vary_angle) {
        /* Every word near the radius extremes (u = 2^-32 ... and u = 1). */
        check_bm_words(0, 1u << 16, 1, 0);
        check_bm_words(0u - (1u << 16), 1u << 16, 1, 0);
    } else {
        /* Every angle word within 2^12 of a quadrant edge (q changes at k 2^30 + 2^29) ... */
        for (uint32_t q = 0; q < 4; q++)
            check_bm_words(q * 0x40000000u + 0x20000000u - 4096u, 8192, 1, 1);
        /* ... and of a quadrant centre (a = 0). */
        for (uint32_t q = 0; q < 4; q++)
            check_bm_words(q * 0x40000000u - 4096u, 8192, 1, 1);
    }
    printf("box_muller4x4 vs fi_box_muller_f32, %s words: %" PRId64 " pairs (all 2^32 on stride %u, plus windows)"
           " (%.1f s)\n", vary_angle ? "angle" : "radius", bm_checked, BM_STRIDE, seconds() - t0);
}

/* ---- 4. kernel tables ---- */

/* Slots only the generic table has on purpose (scalar-only kernels): the registry serves
 * them to every other table from generic, so the NEON table must leave them empty. */
static int generic_only(int dist) { return dist == FI_DIST_TRUNC_NORMAL_NARROW; }
static const size_t itemsize[FI_NDTYPE] = {4, 8, 2, 2, 4};
/* Philox words per element and elements per block. */
static const int words_per_elem[FI_NDTYPE] = {1, 2, 1, 1, 1};

typedef struct {
    const char *name;
    uint64_t seed, stream;
    double v[FI_MAX_PARAMS];
    int nv;
} param_set;

static double std_normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* fastinit.reference.trunc_normal_parameters, the same expressions. */
static param_set trunc_set(const char *name, uint64_t seed, uint64_t stream, double mean, double std,
                           double a, double b)
{
    param_set s = {name, seed, stream, {0}, 8};
    double alpha = (a - mean) / std, beta = (b - mean) / std;
    int mirror = alpha + beta > 0;
    if (mirror) {
        double t = alpha;
        alpha = -beta;
        beta = -t;
    }
    double pa = std_normal_cdf(alpha), pb = std_normal_cdf(beta);
    double width = beta <= 0 ? pb - pa : 0.5 * (erf(beta / sqrt(2.0)) - erf(alpha / sqrt(2.0)));
    double v[8] = {mean, std, pa, width, std_normal_cdf(-beta), a, b, mirror ? -1.0 : 1.0};
    memcpy(s.v, v, sizeof v);
    return s;
}

static param_set uniform_set(const char *name, uint64_t seed, uint64_t stream, double low, double high)
{
    param_set s = {name, seed, stream, {low, high - low, high}, 3};
    return s;
}

static param_set two_set(const char *name, uint64_t seed, uint64_t stream, double a, double b)
{
    param_set s = {name, seed, stream, {a, b}, 2};
    return s;
}

#define MAX_SETS 12

static int param_sets(int dist, param_set *sets)
{
    int n = 0;
    const uint64_t s_hi = 0xA58A31CD3632FAE4ull;          /* a stream id with both halves non-zero */
    switch (dist) {
    case FI_DIST_RAW:
        sets[n++] = two_set("seed 0", 0, 0, 0, 0);
        sets[n++] = two_set("seed 2^64-1", ~0ull, s_hi, 0, 0);
        sets[n++] = two_set("seed 42", 42, 7, 0, 0);
        break;
    case FI_DIST_UNIFORM:
        sets[n++] = uniform_set("[-1, 1]", 42, 0, -1.0, 1.0);
        sets[n++] = uniform_set("[0, 1]", ~0ull, s_hi, 0.0, 1.0);
        sets[n++] = uniform_set("[0, 1e-6] (float16 subnormal)", 7, 3, 0.0, 1e-6);
        sets[n++] = uniform_set("[-1e-38, 1e-38] (float32 subnormal)", 8, 3, -1e-38, 1e-38);
        sets[n++] = uniform_set("[-1e5, 1e5] (float16 overflow)", 9, s_hi, -1e5, 1e5);
        sets[n++] = uniform_set("[1, 1 + 2^-22] (clamp at high)", 10, 1, 1.0, 1.0 + ldexp(1.0, -22));
        /* Not reachable from Python (scale < 0): low + scale * u is -0 (the product is -0 or
         * underflows to it), and the clamp must give high = +0, since -0 < +0 is false. */
        sets[n++] = (param_set){"signed-zero clamp (synthetic)", 11, 2, {-0.0, -4.9406564584124654e-324, 0.0}, 3};
        break;
    case FI_DIST_NORMAL:
        sets[n++] = two_set("(0, 1)", 42, 0, 0.0, 1.0);
        sets[n++] = two_set("(0.5, 2)", ~0ull, s_hi, 0.5, 2.0);
        sets[n++] = two_set("(0, 1e-6) (float16 subnormal)", 7, 3, 0.0, 1e-6);
        sets[n++] = two_set("(0, 1e-39) (float32 subnormal)", 8, 3, 0.0, 1e-39);
        sets[n++] = two_set("(3, 3e4) (float16 overflow)", 9, s_hi, 3.0, 3e4);
        sets[n++] = two_set("(-2.5, 0.02)", 10, 5, -2.5, 0.02);
        break;
    case FI_DIST_TRUNC_NORMAL:
        sets[n++] = trunc_set("(0, 1) on [-2, 2]", 42, 0, 0.0, 1.0, -2.0, 2.0);
        sets[n++] = trunc_set("(0, 1) on [0.1, 0.2] (narrow)", ~0ull, s_hi, 0.0, 1.0, 0.1, 0.2);
        sets[n++] = trunc_set("(0, 1) on [5, 8] (upper tail, mirrored)", 7, 1, 0.0, 1.0, 5.0, 8.0);
        sets[n++] = trunc_set("(0, 1) on [-10, -3] (lower tail)", 8, 2, 0.0, 1.0, -10.0, -3.0);
        sets[n++] = trunc_set("(0, 1) on [-3, 0.5] (both branches)", 9, 3, 0.0, 1.0, -3.0, 0.5);
        sets[n++] = trunc_set("(1, 2) on [-100, 100] (wide)", 10, 4, 1.0, 2.0, -100.0, 100.0);
        sets[n++] = trunc_set("(0, 1e-6) on [-2e-6, 2e-6] (float16 subnormal)", 11, 5, 0.0, 1e-6, -2e-6, 2e-6);
        sets[n++] = trunc_set("(0, 1e5) on [-1e6, 1e6] (float16 overflow)", 12, s_hi, 0.0, 1e5, -1e6, 1e6);
        sets[n++] = trunc_set("(0, 1e-39) on [-2e-39, 2e-39] (float32 subnormal)", 13, 6, 0.0, 1e-39, -2e-39, 2e-39);
        /* std * z is +-0 (float32: std rounds to 0; float64: it underflows for |z| < 1/2),
         * mean + that is +0, and the clamp at a = -0 must give -0 (+0 > -0 is false). */
        param_set z = trunc_set("signed-zero clamp (synthetic)", 14, 7, 0.0, 1.0, -1.0, 1.0);
        z.v[1] = 4.9406564584124654e-324;
        z.v[5] = -0.0;
        sets[n++] = z;
        break;
    case FI_DIST_CONSTANT:
        sets[n++] = two_set("0.75", 0, 0, 0.75, 0);
        sets[n++] = two_set("-0.0", 0, 0, -0.0, 0);
        sets[n++] = two_set("65504", 0, 0, 65504.0, 0);
        break;
    }
    return n;
}

#define GUARD 40                       /* elements checked untouched on each side of a run */
#define MAX_RUN (1u << 16)
static unsigned char buf_neon[(MAX_RUN + 2 * GUARD + 2) * 8];
static unsigned char buf_ref[(MAX_RUN + 2 * GUARD + 2) * 8];

/* Fills [first, first + count) with both tables (output `misalign` elements off) and compares. */
static void compare_run(const char *what, fi_fill_fn neon, fi_fill_fn ref, const fi_params *p,
                        size_t size, uint64_t first, size_t count, int misalign)
{
    size_t lead = (GUARD + (size_t)misalign) * size, bytes = count * size;
    memset(buf_neon, 0xA5, lead + bytes + GUARD * size);
    memset(buf_ref, 0xA5, lead + bytes + GUARD * size);
    neon(p, first, count, buf_neon + lead);
    ref(p, first, count, buf_ref + lead);
    for (size_t i = 0; i < lead + bytes + GUARD * size; i++) {
        if (buf_neon[i] != buf_ref[i]) {
            char msg[240];
            if (i < lead || i >= lead + bytes)
                snprintf(msg, sizeof msg, "%s: write outside the run (first %" PRIu64 ", count %zu)",
                         what, first, count);
            else {
                size_t e = (i - lead) / size;
                uint64_t a = 0, b = 0;
                memcpy(&a, buf_neon + lead + e * size, size);
                memcpy(&b, buf_ref + lead + e * size, size);
                snprintf(msg, sizeof msg, "%s: element %" PRIu64 " (run first %" PRIu64 ", count %zu):"
                         " neon 0x%" PRIx64 " generic 0x%" PRIx64, what, first + e, first, count, a, b);
            }
            fail(msg);
            return;
        }
    }
}

static uint64_t check_kernel(int dist, int dtype)
{
    fi_fill_fn neon = fi_kernels_neon.fill[dist][dtype], ref = fi_kernels_generic.fill[dist][dtype];
    if (ref == NULL) {
        if (neon != NULL)
            fail("the NEON table has a kernel the generic table lacks");
        return 0;
    }
    char what[200];
    snprintf(what, sizeof what, "%s %s", fi_dist_name(dist), fi_dtype_name(dtype));
    if (generic_only(dist)) {
        if (neon != NULL)
            fail("the NEON table has a kernel that is meant to come from the generic table");
        return 0;
    }
    if (neon == NULL) {
        fail(what);
        printf("  (NEON table lacks %s)\n", what);
        return 0;
    }
    param_set sets[MAX_SETS];
    int nsets = param_sets(dist, sets);
    const size_t size = itemsize[dtype];
    const uint64_t epb = 4 / (uint64_t)words_per_elem[dtype];     /* elements per Philox block */
    const uint64_t carry = epb << 32;                              /* first element of block 2^32 */
    const uint64_t batch = epb * BATCH_BLOCKS;
    const uint64_t want_elems = WORDS_PER_KERNEL / (uint64_t)words_per_elem[dtype];
    uint64_t elems = 0;
    for (int s = 0; s < nsets; s++) {
        fi_params p;
        fi_params_init(&p, sets[s].seed, sets[s].stream, sets[s].v, sets[s].nv);
        snprintf(what, sizeof what, "%s %s, %s", fi_dist_name(dist), fi_dtype_name(dtype), sets[s].name);
        /* The block carry at every block position of a batch, every element offset. */
        for (uint64_t m = 1; m <= BATCH_BLOCKS; m++)
            for (uint64_t off = 0; off < epb; off++) {
                uint64_t first = carry - m * epb + off;
                size_t count = (size_t)(3 * batch + 2 * m + 1);
                compare_run(what, neon, ref, &p, size, first, count, (int)(m & 1));
                elems += count;
            }
        /* A long run across the carry. */
        compare_run(what, neon, ref, &p, size, carry - 12345, MAX_RUN - 7, 0);
        elems += MAX_RUN - 7;
        /* Short runs: every length up to two batches at a few odd starts. */
        for (size_t count = 0; count <= 2 * batch + 3; count++) {
            compare_run(what, neon, ref, &p, size, 3 + count, count, (int)(count % 3));
            elems += count;
        }
        /* Random odd starts and lengths, up to this set's share of the words. */
        const uint64_t target = want_elems * (uint64_t)(s + 1) / (uint64_t)nsets;
        while (elems < target) {
            uint64_t first = rnd64() >> (rnd64() & 1 ? 2 : 30);
            size_t count = (size_t)(rnd64() % (rnd64() & 3 ? 4096 : MAX_RUN));
            compare_run(what, neon, ref, &p, size, first | 1, count | 1, (int)(rnd64() % 3));
            elems += count | 1;
        }
    }
    return elems * (uint64_t)words_per_elem[dtype];
}

static void check_tables(void)
{
    for (int dist = 0; dist < FI_NDIST; dist++)
        for (int dtype = 0; dtype < FI_NDTYPE; dtype++) {
            if (fi_kernels_generic.fill[dist][dtype] == NULL && fi_kernels_neon.fill[dist][dtype] == NULL)
                continue;
            double t0 = seconds();
            int before = failures;
            uint64_t words = check_kernel(dist, dtype);
            if (generic_only(dist) && failures == before) {
                printf("%-12s %-8s served from the generic table (scalar only)\n", fi_dist_name(dist),
                       fi_dtype_name(dtype));
                continue;
            }
            printf("%-12s %-8s neon vs generic: %s, %" PRIu64 " words (%.1f s)\n", fi_dist_name(dist),
                   fi_dtype_name(dtype), failures == before ? "identical" : "DIFFERENT", words, seconds() - t0);
            fflush(stdout);
        }
}

static int wanted(int argc, char **argv, const char *part)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], part) == 0)
            return 1;
    return 0;
}

/* Usage: check_aarch64 [kat] [f16] [log] [radius] [angle] [tables]  (default: all parts). */
int main(int argc, char **argv)
{
    static const char *const parts[] = {"kat", "f16", "log", "radius", "angle", "tables"};
    for (int i = 1; i < argc; i++) {
        int known = 0;
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
            known |= strcmp(argv[i], parts[k]) == 0;
        if (!known) {
            fprintf(stderr, "check_aarch64: unknown part '%s' (parts: kat f16 log radius angle tables)\n", argv[i]);
            return 2;
        }
    }
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    printf("FPCR = 0x%" PRIx64 " (rounding mode %d, FZ %d, DN %d, AHP %d)\n", fpcr, (int)(fpcr >> 22) & 3,
           (int)(fpcr >> 24) & 1, (int)(fpcr >> 25) & 1, (int)(fpcr >> 26) & 1);
    if (((fpcr >> 22) & 0x1F) != 0)
        fail("FPCR is not the default (round to nearest, no flush to zero, IEEE half)");
    if (wanted(argc, argv, "kat"))
        check_kat();
    if (wanted(argc, argv, "f16"))
        check_f16();
    if (wanted(argc, argv, "log"))
        check_log();
    fflush(stdout);
    if (wanted(argc, argv, "radius"))
        check_box_muller(0);
    fflush(stdout);
    if (wanted(argc, argv, "angle"))
        check_box_muller(1);
    fflush(stdout);
    if (wanted(argc, argv, "tables"))
        check_tables();
    if (failures) {
        printf("check_aarch64: %d differences: NOT bit-identical\n", failures);
        return 1;
    }
    printf("check_aarch64: no difference in the parts checked\n");
    return 0;
}
