/* Portable kernel table: scalar C, one Philox block at a time. */
#include "fastinit.h"
#include "fi_run.h"
#include "fi_scalar.h"

#define NO_FINISH(p) ((void)(p))

FI_DEFINE_FILL(raw_u32, uint32_t, 4, fi_unit_raw_u32, 1, fi_unit_raw_u32, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_f32, float, 4, fi_unit_uniform_f32, 1, fi_unit_uniform_f32, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_f64, double, 2, fi_unit_uniform_f64, 1, fi_unit_uniform_f64, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_f16, uint16_t, 4, fi_unit_uniform_f16, 1, fi_unit_uniform_f16, 0, NO_FINISH)
FI_DEFINE_FILL(uniform_bf16, uint16_t, 4, fi_unit_uniform_bf16, 1, fi_unit_uniform_bf16, 0, NO_FINISH)
FI_DEFINE_FILL(normal_f32, float, 4, fi_unit_normal_f32, 1, fi_unit_normal_f32, 0, NO_FINISH)
FI_DEFINE_FILL(normal_f64, double, 2, fi_unit_normal_f64, 1, fi_unit_normal_f64, 0, NO_FINISH)
FI_DEFINE_FILL(normal_f16, uint16_t, 4, fi_unit_normal_f16, 1, fi_unit_normal_f16, 0, NO_FINISH)
FI_DEFINE_FILL(normal_bf16, uint16_t, 4, fi_unit_normal_bf16, 1, fi_unit_normal_bf16, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_f32, float, 4, fi_unit_trunc_normal_f32, 1, fi_unit_trunc_normal_f32, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_f64, double, 2, fi_unit_trunc_normal_f64, 1, fi_unit_trunc_normal_f64, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_f16, uint16_t, 4, fi_unit_trunc_normal_f16, 1, fi_unit_trunc_normal_f16, 0, NO_FINISH)
FI_DEFINE_FILL(trunc_normal_bf16, uint16_t, 4, fi_unit_trunc_normal_bf16, 1, fi_unit_trunc_normal_bf16, 0, NO_FINISH)

/*
 * Truncated normal on a narrow interval (docs/stream.md, "Corrections").
 * In standardized units the interval is [alpha, alpha + h]; the fraction
 * q in [0, 1] of the way from v0 to v1 has density prop. to
 * f(q) = exp(-A q - B q^2), A = alpha h, B = h^2 / 2.  Both halves are
 * inverted from their own end (q from v0 on [0, 1/2], r = 1 - q from v1,
 * whose density is exp(-A' r - B r^2) with A' = -(A + 2B)), so each keeps
 * relative precision towards its endpoint.  f and its integral F are power
 * series (f' = -(A + 2Bq) f gives the coefficients), F(q) = T is solved by
 * a fixed number of Newton steps.  Only IEEE +, -, *, / in double, in the
 * order fastinit/reference.py (_narrow_*) uses.
 */
typedef struct {
    double c[FI_NARROW_NCOEF], d[FI_NARROW_NCOEF];   /* f = sum c_k q^k, F = q sum d_k q^k */
} narrow_series;

typedef struct {
    narrow_series lo, hi;
    double mid_mass, lo_mass, lo_scale, hi_scale;   /* see narrow_init */
    double v0, v1, span, a, b;
} narrow_plan;

static void narrow_series_init(narrow_series *s, double A, double B)
{
    s->c[0] = 1.0;
    s->c[1] = -A;
    for (int k = 1; k < FI_NARROW_NCOEF - 1; k++)
        s->c[k + 1] = ((-A) * s->c[k] - (B + B) * s->c[k - 1]) / (double)(k + 1);
    for (int k = 0; k < FI_NARROW_NCOEF; k++)
        s->d[k] = s->c[k] / (double)(k + 1);
}

static inline double narrow_horner(const double *coef, double x)
{
    double acc = coef[FI_NARROW_NCOEF - 1];
    for (int k = FI_NARROW_NCOEF - 2; k >= 0; k--)
        acc = acc * x + coef[k];
    return acc;
}

/*
 * Masses of the halves in units of the density at the midpoint:
 * lo_mass = F_lo(1/2) / f_lo(1/2), mid_mass = lo_mass + F_hi(1/2) / f_hi(1/2).
 * An element takes the lower half when u * mid_mass <= lo_mass; its target
 * is u * mid_mass * f_lo(1/2) there, else (1 - u) * mid_mass * f_hi(1/2).
 */
static void narrow_init(narrow_plan *n, const double *p)
{
    narrow_series_init(&n->lo, p[0], p[1]);
    narrow_series_init(&n->hi, -(p[0] + (p[1] + p[1])), p[1]);
    n->lo_scale = narrow_horner(n->lo.c, 0.5);
    n->hi_scale = narrow_horner(n->hi.c, 0.5);
    n->lo_mass = (narrow_horner(n->lo.d, 0.5) * 0.5) / n->lo_scale;
    n->mid_mass = n->lo_mass + (narrow_horner(n->hi.d, 0.5) * 0.5) / n->hi_scale;
    n->v0 = p[2];
    n->v1 = p[3];
    n->span = p[4];
    n->a = p[5];
    n->b = p[6];
}

/*
 * Values of NARROW_LANES uniforms u in (0, 1), in double.  Per lane: the half,
 * then q in [0, 1/2] with F(q) = target by FI_NARROW_STEPS Newton steps from
 * q = target (F(q) ~ q since f(0) = 1).  The lanes run in lockstep only so
 * their independent Horner chains overlap; each lane's operations are those
 * of fastinit/reference.py.
 */
#define NARROW_LANES 4
static void narrow_values(const narrow_plan *n, const double u[NARROW_LANES], double v[NARROW_LANES])
{
    const double *c[NARROW_LANES], *d[NARROW_LANES];
    double target[NARROW_LANES], q[NARROW_LANES];
    int lower[NARROW_LANES];
    for (int l = 0; l < NARROW_LANES; l++) {
        lower[l] = u[l] * n->mid_mass <= n->lo_mass;
        const narrow_series *s = lower[l] ? &n->lo : &n->hi;
        c[l] = s->c;
        d[l] = s->d;
        target[l] = lower[l] ? (u[l] * n->mid_mass) * n->lo_scale
                             : ((1.0 - u[l]) * n->mid_mass) * n->hi_scale;
        q[l] = target[l] < 0.5 ? target[l] : 0.5;
    }
    for (int i = 0; i < FI_NARROW_STEPS; i++) {
        double f[NARROW_LANES], F[NARROW_LANES];
        for (int l = 0; l < NARROW_LANES; l++) {
            f[l] = c[l][FI_NARROW_NCOEF - 1];
            F[l] = d[l][FI_NARROW_NCOEF - 1];
        }
        for (int k = FI_NARROW_NCOEF - 2; k >= 0; k--)
            for (int l = 0; l < NARROW_LANES; l++) {
                f[l] = f[l] * q[l] + c[l][k];
                F[l] = F[l] * q[l] + d[l][k];
            }
        for (int l = 0; l < NARROW_LANES; l++) {
            double x = q[l] - (F[l] * q[l] - target[l]) / f[l];
            x = x > 0.0 ? x : 0.0;
            q[l] = x < 0.5 ? x : 0.5;
        }
    }
    for (int l = 0; l < NARROW_LANES; l++) {
        double x = lower[l] ? n->v0 + n->span * q[l] : n->v1 - n->span * q[l];
        x = x > n->a ? x : n->a;
        v[l] = x < n->b ? x : n->b;
    }
}

/*
 * Elements [first, first + count) in groups of NARROW_LANES consecutive
 * elements.  float32 family: element i takes word i, u = (w + 1/2) 2^-32
 * (exact in double), the double result rounded once to float.  float64:
 * words 2i, 2i+1, the 52-bit u of the float64 trunc_normal.
 */
#define DEFINE_NARROW(NAME, T, PER_BLOCK, UNIFORM, CONVERT)                       \
    static void NAME(const fi_params *p, uint64_t first, size_t count, void *dst) \
    {                                                                             \
        narrow_plan n;                                                            \
        narrow_init(&n, p->p);                                                    \
        T *out = (T *)dst;                                                        \
        uint64_t group = first / NARROW_LANES;                                    \
        unsigned lane = (unsigned)(first % NARROW_LANES);                         \
        while (count) {                                                           \
            uint32_t x[NARROW_LANES / (PER_BLOCK)][4];                            \
            double u[NARROW_LANES], v[NARROW_LANES];                              \
            for (int j = 0; j < NARROW_LANES / (PER_BLOCK); j++)                  \
                fi_philox_block(&p->key, p->stream,                               \
                                group * (NARROW_LANES / (PER_BLOCK)) + j, x[j]);  \
            for (int l = 0; l < NARROW_LANES; l++)                                \
                u[l] = UNIFORM(x[l / (PER_BLOCK)], l % (PER_BLOCK));              \
            narrow_values(&n, u, v);                                              \
            for (; lane < NARROW_LANES && count; lane++, count--)                 \
                *out++ = CONVERT(v[lane]);                                        \
            group++;                                                              \
            lane = 0;                                                             \
        }                                                                         \
    }

#define NARROW_U32(x, i) (((double)(x)[i] + 0.5) * FI_TWO_M32)
#define NARROW_U52(x, i) fi_open_u52((x)[2 * (i)], (x)[2 * (i) + 1])
#define NARROW_TO_F32(v) ((float)(v))
#define NARROW_TO_F16(v) fi_f32_to_f16((float)(v))
#define NARROW_TO_BF16(v) fi_f32_to_bf16((float)(v))
#define NARROW_TO_F64(v) (v)
DEFINE_NARROW(trunc_normal_narrow_f32, float, 4, NARROW_U32, NARROW_TO_F32)
DEFINE_NARROW(trunc_normal_narrow_f16, uint16_t, 4, NARROW_U32, NARROW_TO_F16)
DEFINE_NARROW(trunc_normal_narrow_bf16, uint16_t, 4, NARROW_U32, NARROW_TO_BF16)
DEFINE_NARROW(trunc_normal_narrow_f64, double, 2, NARROW_U52, NARROW_TO_F64)

#define DEFINE_CONSTANT(NAME, T, VALUE)                                          \
    void NAME(const fi_params *p, uint64_t first, size_t count, void *dst)     \
    {                                                                         \
        (void)first;                                                          \
        const T value = VALUE;                                                \
        T *out = (T *)dst;                                                    \
        for (size_t i = 0; i < count; i++)                                    \
            out[i] = value;                                                   \
    }

/* The value is exact in the output type (checked in Python), so these conversions are exact. */
DEFINE_CONSTANT(fi_constant_f32, float, p->pf[0])
DEFINE_CONSTANT(fi_constant_f64, double, p->p[0])
DEFINE_CONSTANT(fi_constant_f16, uint16_t, fi_f32_to_f16(p->pf[0]))
DEFINE_CONSTANT(fi_constant_bf16, uint16_t, fi_f32_to_bf16(p->pf[0]))

const fi_kernel_table fi_kernels_generic = {
    "generic",
    {
        FI_RANDOM_KERNELS,
        [FI_DIST_CONSTANT] = FI_CONSTANT_KERNELS,
        [FI_DIST_TRUNC_NORMAL_NARROW] = {[FI_F32] = trunc_normal_narrow_f32,
                                         [FI_F64] = trunc_normal_narrow_f64,
                                         [FI_F16] = trunc_normal_narrow_f16,
                                         [FI_BF16] = trunc_normal_narrow_bf16},
    },
};
