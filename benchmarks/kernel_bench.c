/*
 * Per-kernel speed of every usable kernel table, without Python: one thread,
 * an output that stays in cache (default 262144 elements), the tables
 * interleaved call by call, medians of many calls.  On a shared machine short
 * calls mostly run unpreempted, so these medians stay meaningful where
 * large multi-thread fills (benchmarks/compare.py) do not.
 * Build and run: bash benchmarks/kernel_bench.sh [elements] [calls]
 */
#define _POSIX_C_SOURCE 200112L   /* clock_gettime under -std=c11 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastinit.h"

#define MAX_TABLES 8

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 262144;
    int calls = argc > 2 ? atoi(argv[2]) : 301;
    if (n == 0 || calls < 1) {
        fprintf(stderr, "usage: kernel_bench [elements >= 1] [calls >= 1]\n");
        return 2;
    }
    static const struct { int dist, dtype; const char *name; } rows[] = {
        {FI_DIST_RAW, FI_U32, "raw uint32"},
        {FI_DIST_UNIFORM, FI_F32, "uniform float32"}, {FI_DIST_UNIFORM, FI_BF16, "uniform bfloat16"},
        {FI_DIST_UNIFORM, FI_F64, "uniform float64"},
        {FI_DIST_NORMAL, FI_F32, "normal float32"}, {FI_DIST_NORMAL, FI_F16, "normal float16"},
        {FI_DIST_NORMAL, FI_BF16, "normal bfloat16"}, {FI_DIST_NORMAL, FI_F64, "normal float64"},
        {FI_DIST_TRUNC_NORMAL, FI_F32, "trunc_normal float32"},
        {FI_DIST_TRUNC_NORMAL, FI_BF16, "trunc_normal bfloat16"},
        {FI_DIST_TRUNC_NORMAL, FI_F64, "trunc_normal float64"},
    };
    const char *names[MAX_TABLES];
    fi_kernel_table tables[MAX_TABLES];
    int ntables = 0;
    for (int i = 0; i < fi_kernel_table_count() && ntables < MAX_TABLES; i++)
        if (fi_kernel_table_usable(i) && fi_select_kernels(fi_kernel_table_name(i)) == 0) {
            names[ntables] = fi_kernel_table_name(i);
            tables[ntables++] = *fi_active_kernels();   /* the resolved copy */
        }
    void *buffer = aligned_alloc(64, (n * 8 + 63) / 64 * 64);
    double *times = malloc(sizeof(double) * (size_t)calls * MAX_TABLES);
    if (buffer == NULL || times == NULL)
        return 1;
    memset(buffer, 0, n * 8);
    /* trunc_normal on [-2, 2] std 1 (fi_params layout of fastinit.h); others read p[0], p[1]. */
    const double values[8] = {0.0, 1.0, 0.02275013194817921, 0.9544997361036416, 0.02275013194817921,
                              -2.0, 2.0, 1.0};
    fi_params params;
    fi_params_init(&params, 1, 0, values, 8);
    printf("%zu elements, 1 thread, median of %d interleaved calls, G samples/s\n", n, calls);
    printf("%-22s", "kernel");
    for (int t = 0; t < ntables; t++)
        printf(" %10s", names[t]);
    for (int t = 1; t < ntables; t++)
        printf(" %8s/%-8s", names[t - 1], names[t]);
    printf("\n");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double median[MAX_TABLES];
        for (int c = 0; c < calls; c++)
            for (int t = 0; t < ntables; t++) {
                double start = seconds();
                tables[t].fill[rows[r].dist][rows[r].dtype](&params, 0, n, buffer);
                times[t * calls + c] = seconds() - start;
            }
        printf("%-22s", rows[r].name);
        for (int t = 0; t < ntables; t++) {
            qsort(times + t * calls, (size_t)calls, sizeof(double), by_value);
            median[t] = times[t * calls + calls / 2];
            printf(" %10.3f", (double)n / median[t] / 1e9);
        }
        for (int t = 1; t < ntables; t++)
            printf(" %16.2fx", median[t] / median[t - 1]);
        printf("\n");
    }
    free(times);
    free(buffer);
    return 0;
}
