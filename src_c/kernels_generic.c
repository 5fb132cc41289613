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
        [FI_DIST_RAW] = {[FI_U32] = raw_u32},
        [FI_DIST_UNIFORM] = {[FI_F32] = uniform_f32, [FI_F64] = uniform_f64,
                             [FI_F16] = uniform_f16, [FI_BF16] = uniform_bf16},
        [FI_DIST_NORMAL] = {[FI_F32] = normal_f32, [FI_F64] = normal_f64,
                            [FI_F16] = normal_f16, [FI_BF16] = normal_bf16},
        [FI_DIST_TRUNC_NORMAL] = {[FI_F32] = trunc_normal_f32, [FI_F64] = trunc_normal_f64,
                                  [FI_F16] = trunc_normal_f16, [FI_BF16] = trunc_normal_bf16},
        [FI_DIST_CONSTANT] = FI_CONSTANT_KERNELS,
    },
};
