/*
 * Walks an output box in parallel.  Work is cut into fixed items (one
 * segment of at most FI_SEGMENT elements of one row), scheduled statically;
 * since each element's value depends only on its logical index, neither the
 * thread count nor the cut changes any bit.
 */
#include <string.h>

#include "fastinit.h"
#include "parallel.h"

#define FI_SEGMENT 16384            /* elements per work item */
#define FI_SCRATCH_ELEMS 2048       /* staging for strided or unaligned outputs */
#define FI_SERIAL_BELOW (1 << 16)   /* smaller fills never start threads (and stay fork-safe) */
/*
 * Outputs at least this large are written with non-temporal stores: they
 * cannot stay in cache anyway, and skipping the read-for-ownership of each
 * line nearly halves the memory traffic.  Smaller outputs stay cached for
 * the caller.
 */
#define FI_STREAMING_BYTES ((int64_t)32 << 20)

const char *fi_dist_name(int dist)
{
    static const char *const names[FI_NDIST] = {
        [FI_DIST_RAW] = "raw",
        [FI_DIST_UNIFORM] = "uniform",
        [FI_DIST_NORMAL] = "normal",
        [FI_DIST_TRUNC_NORMAL] = "trunc_normal",
        [FI_DIST_CONSTANT] = "constant",
        [FI_DIST_TRUNC_NORMAL_NARROW] = "trunc_normal_narrow",
    };
    return dist >= 0 && dist < FI_NDIST ? names[dist] : NULL;
}

const char *fi_dtype_name(int dtype)
{
    static const char *const names[FI_NDTYPE] = {
        [FI_F32] = "float32", [FI_F64] = "float64", [FI_F16] = "float16", [FI_BF16] = "bfloat16",
        [FI_U32] = "uint32",
    };
    return dtype >= 0 && dtype < FI_NDTYPE ? names[dtype] : NULL;
}

void fi_params_init(fi_params *p, uint64_t seed, uint64_t stream, const double *values, int count)
{
    memset(p, 0, sizeof *p);
    fi_philox_key_init(&p->key, seed);
    p->stream = stream;
    for (int i = 0; i < count && i < FI_MAX_PARAMS; i++) {
        p->p[i] = values[i];
        p->pf[i] = (float)values[i];
    }
}

int64_t fi_plan_segment_length(void) { return FI_SEGMENT; }
int64_t fi_plan_streaming_bytes(void) { return FI_STREAMING_BYTES; }

void fi_plan_init(fi_plan *plan, fi_fill_fn fill, const fi_params *params, size_t itemsize,
                  int ndim, const int64_t *shape, const int64_t *lstride, const int64_t *bstride,
                  uint64_t loffset, char *data)
{
    memset(plan, 0, sizeof *plan);
    plan->fill = fill;
    plan->params = *params;             /* a copy: the caller's parameters are never written */
    plan->params.streaming = 0;
    plan->itemsize = itemsize;
    plan->loffset = loffset;
    plan->data = data;

    /* Drop unit axes, then merge neighbours that are contiguous in both index spaces. */
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0) {
            plan->ndim = 1;
            plan->shape[0] = 0;
            return;                     /* nothing to fill: items stays 0 */
        }
        if (shape[d] == 1)
            continue;
        if (n > 0 && lstride[n - 1] == shape[d] * lstride[d] && bstride[n - 1] == shape[d] * bstride[d]) {
            plan->shape[n - 1] *= shape[d];
            plan->lstride[n - 1] = lstride[d];
            plan->bstride[n - 1] = bstride[d];
            continue;
        }
        plan->shape[n] = shape[d];
        plan->lstride[n] = lstride[d];
        plan->bstride[n] = bstride[d];
        n++;
    }
    /* Kernels write runs of consecutive indices: the last axis must have logical stride 1. */
    if (n == 0 || plan->lstride[n - 1] != 1) {
        plan->shape[n] = 1;
        plan->lstride[n] = 1;
        plan->bstride[n] = (int64_t)itemsize;
        n++;
    }
    plan->ndim = n;

    int aligned = ((uintptr_t)data % itemsize) == 0;
    for (int d = 0; d < n; d++)
        aligned = aligned && (plan->bstride[d] % (int64_t)itemsize == 0);
    plan->direct = aligned && plan->bstride[n - 1] == (int64_t)itemsize;

    plan->rows = 1;
    for (int d = 0; d < n - 1; d++)
        plan->rows *= plan->shape[d];
    plan->segments_per_row = (plan->shape[n - 1] + FI_SEGMENT - 1) / FI_SEGMENT;
    plan->items = plan->rows * plan->segments_per_row;
    plan->params.streaming = plan->direct && plan->rows * plan->shape[n - 1] * (int64_t)itemsize >= FI_STREAMING_BYTES;
}

static void run_item(const fi_plan *plan, int64_t item, unsigned char *scratch)
{
    const int last = plan->ndim - 1;
    int64_t row = item / plan->segments_per_row;
    int64_t begin = (item % plan->segments_per_row) * FI_SEGMENT;
    uint64_t index = plan->loffset;
    char *ptr = plan->data;
    for (int d = last - 1; d >= 0; d--) {
        int64_t i = row % plan->shape[d];
        row /= plan->shape[d];
        index += (uint64_t)(i * plan->lstride[d]);
        ptr += i * plan->bstride[d];
    }
    int64_t count = plan->shape[last] - begin;
    if (count > FI_SEGMENT)
        count = FI_SEGMENT;
    index += (uint64_t)begin;
    ptr += begin * plan->bstride[last];

    if (plan->direct) {
        plan->fill(&plan->params, index, (size_t)count, ptr);
        return;
    }
    const size_t size = plan->itemsize;
    const int64_t stride = plan->bstride[last];
    while (count > 0) {
        int64_t n = count < FI_SCRATCH_ELEMS ? count : FI_SCRATCH_ELEMS;
        plan->fill(&plan->params, index, (size_t)n, scratch);
        for (int64_t k = 0; k < n; k++)
            memcpy(ptr + k * stride, scratch + (size_t)k * size, size);
        index += (uint64_t)n;
        ptr += n * stride;
        count -= n;
    }
}

void fi_plan_run(const fi_plan *plan, int64_t item_begin, int64_t item_end, int nthreads)
{
    int64_t items = item_end - item_begin;
    int64_t row_part = plan->shape[plan->ndim - 1] < FI_SEGMENT ? plan->shape[plan->ndim - 1] : FI_SEGMENT;
    int serial = nthreads <= 1 || items < 2 || items * row_part < FI_SERIAL_BELOW;
    if (serial) {
        _Alignas(64) unsigned char scratch[FI_SCRATCH_ELEMS * 8];
        for (int64_t i = item_begin; i < item_end; i++)
            run_item(plan, i, scratch);
        return;
    }
    if (nthreads > items)           /* threads beyond the work items would only wait */
        nthreads = (int)items;
    fi_note_parallel_use();
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
    {
        _Alignas(64) unsigned char scratch[FI_SCRATCH_ELEMS * 8];
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t i = item_begin; i < item_end; i++)
            run_item(plan, i, scratch);
    }
}
