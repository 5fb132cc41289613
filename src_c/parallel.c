#include "parallel.h"

#include <pthread.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static int requested_threads = 0;
static volatile int parallel_used = 0;
static volatile int forked_after_parallel = 0;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    if (parallel_used)
        forked_after_parallel = 1;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

int fi_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

void fi_set_requested_threads(int n) { requested_threads = n > 0 ? n : 0; }

int fi_get_requested_threads(void) { return requested_threads; }

int fi_effective_threads(void)
{
#ifdef _OPENMP
    if (forked_after_parallel)
        return 1;
    if (requested_threads > 0)
        return requested_threads;
    int n = omp_get_max_threads();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

void fi_note_parallel_use(void)
{
    pthread_once(&atfork_once, register_atfork);
    parallel_used = 1;
}
