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
    },
};
