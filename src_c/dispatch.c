/*
 * The kernel-table registry: every table this project knows, best first.
 *
 * Adding an instruction set means one kernel file, one entry below and its
 * flags in src_c/simd_sources.json; Python (fastinit/_config.py), the tests'
 * `simd` fixture and the tools read the names from here.
 *
 * A table may leave slots NULL.  Selecting a table builds a resolved copy in
 * which each NULL slot is taken from the next usable table below it that has
 * the slot (generic, last, has them all), so a fill never meets a missing
 * kernel that some other table provides.
 */
#include <pthread.h>
#include <string.h>

#include "fastinit.h"

typedef struct {
    const char *name;
    const fi_kernel_table *table;   /* NULL: not compiled into this build */
    int (*cpu_supports)(void);      /* NULL: runs everywhere */
    const char *requirement;        /* what the table needs, for error messages */
} fi_registry_entry;

static const fi_registry_entry registry[] = {
#ifdef FI_HAVE_AVX512_KERNELS
    {"avx512", &fi_kernels_avx512, fi_cpu_supports_avx512,
     "an x86-64 CPU with AVX-512 F/BW/DQ/VL and an OS that saves ZMM state"},
#else
    {"avx512", NULL, NULL, "an x86-64 build"},
#endif
#ifdef FI_HAVE_AVX2_KERNELS
    {"avx2", &fi_kernels_avx2, fi_cpu_supports_avx2,
     "an x86-64 CPU with AVX2 and F16C and an OS that saves YMM state"},
#else
    {"avx2", NULL, NULL, "an x86-64 build"},
#endif
#ifdef FI_HAVE_NEON_KERNELS
    {"neon", &fi_kernels_neon, fi_cpu_supports_neon, "an aarch64 CPU (Advanced SIMD)"},
#else
    {"neon", NULL, NULL, "an aarch64 build with the NEON kernels"},
#endif
    {"generic", &fi_kernels_generic, NULL, "nothing (portable C)"},
};

#define NTABLES ((int)(sizeof registry / sizeof registry[0]))

/* Per registry entry: the table with NULL slots resolved, and which entry serves each slot. */
static fi_kernel_table resolved[NTABLES];
static signed char source[NTABLES][FI_NDIST][FI_NDTYPE];
static int usable[NTABLES];
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;
static int active = -1;

static void resolve_all(void)
{
    for (int i = 0; i < NTABLES; i++)
        usable[i] = registry[i].table != NULL && (registry[i].cpu_supports == NULL || registry[i].cpu_supports());
    for (int i = 0; i < NTABLES; i++) {
        resolved[i].name = registry[i].name;
        for (int d = 0; d < FI_NDIST; d++)
            for (int t = 0; t < FI_NDTYPE; t++) {
                resolved[i].fill[d][t] = NULL;
                source[i][d][t] = -1;
                if (!usable[i])
                    continue;
                for (int j = i; j < NTABLES; j++) {
                    if (usable[j] && registry[j].table->fill[d][t] != NULL) {
                        resolved[i].fill[d][t] = registry[j].table->fill[d][t];
                        source[i][d][t] = (signed char)j;
                        break;
                    }
                }
            }
    }
}

static void ensure_resolved(void) { pthread_once(&resolve_once, resolve_all); }

int fi_kernel_table_count(void) { return NTABLES; }

const char *fi_kernel_table_name(int index)
{
    return index >= 0 && index < NTABLES ? registry[index].name : NULL;
}

int fi_kernel_table_usable(int index)
{
    ensure_resolved();
    return index >= 0 && index < NTABLES && usable[index];
}

const char *fi_kernel_table_requirement(int index)
{
    return index >= 0 && index < NTABLES ? registry[index].requirement : NULL;
}

int fi_select_kernels(const char *name)
{
    ensure_resolved();
    if (strcmp(name, "auto") == 0) {
        for (int i = 0; i < NTABLES; i++)
            if (usable[i]) {
                active = i;
                return 0;
            }
        return -2;   /* unreachable: generic is always usable */
    }
    for (int i = 0; i < NTABLES; i++)
        if (strcmp(name, registry[i].name) == 0) {
            if (!usable[i])
                return -2;
            active = i;
            return 0;
        }
    return -1;
}

const fi_kernel_table *fi_active_kernels(void)
{
    if (active < 0)
        fi_select_kernels("auto");
    return &resolved[active];
}

int fi_active_kernel_source(int dist, int dtype)
{
    if (dist < 0 || dist >= FI_NDIST || dtype < 0 || dtype >= FI_NDTYPE)
        return -1;
    if (active < 0)
        fi_select_kernels("auto");
    return source[active][dist][dtype];
}

void fi_allow_native_bf16(int allow)
{
#ifdef FI_HAVE_AVX512_KERNELS
    fi_avx512_allow_native_bf16(allow);
#else
    (void)allow;
#endif
}
