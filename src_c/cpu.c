/*
 * What this CPU and OS can run, by cpuid and xgetbv.  Kept apart from
 * dispatch.c so that tools (tools/exhaustive_f32.c) can ask without linking
 * every kernel table.
 */
#include "fastinit.h"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

#define XCR0_SSE_AVX 0x06u            /* XMM (bit 1) and YMM (bit 2) state */
#define XCR0_AVX512 0xE6u             /* ... plus opmask (5), ZMM0-15 upper (6), ZMM16-31 (7) */

/* XCR0 where the OS has enabled XSAVE (CPUID.1:ECX.OSXSAVE), else 0. */
static uint32_t os_xsave_features(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))
        return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return lo;
}

int fi_cpu_supports_avx2(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const unsigned avx = 1u << 28, f16c = 1u << 29;
    if ((c & (avx | f16c)) != (avx | f16c) || (os_xsave_features() & XCR0_SSE_AVX) != XCR0_SSE_AVX)
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & (1u << 5)) != 0;   /* AVX2 */
}

int fi_cpu_supports_avx512(void)
{
    unsigned a, b, c, d;
    if ((os_xsave_features() & XCR0_AVX512) != XCR0_AVX512)
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    /* x86-64-v4: AVX512F (bit 16), DQ (17), BW (30), VL (31); each implies AVX2 and F16C. */
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    return (b & need) == need && fi_cpu_supports_avx2();
}

int fi_cpu_supports_avx512_bf16(void)
{
    unsigned a, b, c, d;
    if (!fi_cpu_supports_avx512() || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1)
        return 0;   /* leaf 7's EAX is its highest subleaf */
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d))
        return 0;
    return (a & (1u << 5)) != 0;   /* AVX512_BF16 */
}
#else
int fi_cpu_supports_avx2(void) { return 0; }
int fi_cpu_supports_avx512(void) { return 0; }
int fi_cpu_supports_avx512_bf16(void) { return 0; }
#endif

/* Advanced SIMD (NEON) is part of the base aarch64 architecture. */
int fi_cpu_supports_neon(void)
{
#if defined(__aarch64__) || defined(_M_ARM64)
    return 1;
#else
    return 0;
#endif
}
