/* Picks the kernel table: once at import (fastinit/_config.py), by cpuid or FASTINIT_SIMD. */
#include <string.h>

#include "fastinit.h"

#if defined(FI_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

static int os_saves_ymm(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0x6u) == 0x6u;   /* XMM and YMM state enabled by the OS */
}

int fi_cpu_supports_avx2(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const unsigned osxsave = 1u << 27, avx = 1u << 28, f16c = 1u << 29;
    if ((c & (osxsave | avx | f16c)) != (osxsave | avx | f16c) || !os_saves_ymm())
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & (1u << 5)) != 0;   /* AVX2 */
}
#else
int fi_cpu_supports_avx2(void) { return 0; }
#endif

static const fi_kernel_table *active = NULL;

int fi_select_kernels(const char *name)
{
    if (strcmp(name, "generic") == 0) {
        active = &fi_kernels_generic;
        return 0;
    }
#ifdef FI_HAVE_AVX2_KERNELS
    if (strcmp(name, "avx2") == 0) {
        if (!fi_cpu_supports_avx2())
            return -2;
        active = &fi_kernels_avx2;
        return 0;
    }
    if (strcmp(name, "auto") == 0) {
        active = fi_cpu_supports_avx2() ? &fi_kernels_avx2 : &fi_kernels_generic;
        return 0;
    }
#else
    if (strcmp(name, "avx2") == 0)
        return -2;
    if (strcmp(name, "auto") == 0) {
        active = &fi_kernels_generic;
        return 0;
    }
#endif
    return -1;
}

const fi_kernel_table *fi_active_kernels(void)
{
    if (active == NULL)
        fi_select_kernels("auto");
    return active;
}
