#include "parallel.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static int requested_threads = 0;
static int cpu_limit = 0;
#ifdef _OPENMP
static int omp_default = 0;          /* omp_get_max_threads() when fastinit was imported */
static int omp_env_set = 0;          /* OMP_NUM_THREADS chose that default */
static int omp_recorded = 0;
#endif
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

void fi_set_cpu_limit(int n)
{
#ifdef _OPENMP
    if (!omp_recorded) {
        const char *env = getenv("OMP_NUM_THREADS");
        omp_env_set = env != NULL && *env != '\0';
        omp_default = omp_get_max_threads();
        omp_recorded = 1;
    }
#endif
    cpu_limit = n > 0 ? n : 0;
}

int fi_get_cpu_limit(void) { return cpu_limit; }

int fi_effective_threads(void)
{
#ifdef _OPENMP
    if (forked_after_parallel)
        return 1;
    if (requested_threads > 0)
        return requested_threads;
    int n = omp_get_max_threads();
    if (n < 1)
        n = 1;
    /*
     * OpenMP's default counts the CPUs of the affinity mask at start-up but
     * ignores a cgroup CPU quota, so a container limited to 2 CPUs on a
     * 64-core host would start 64 threads.  A count someone chose (the
     * environment variable, or omp_set_num_threads: it differs from the
     * recorded default) is kept as is.
     */
    int chosen = omp_env_set || !omp_recorded || n != omp_default;
    if (!chosen && cpu_limit > 0 && n > cpu_limit)
        n = cpu_limit;
    return n;
#else
    return 1;
#endif
}

#ifdef _OPENMP
/* OMP_STACKSIZE / GOMP_STACKSIZE as libgomp reads them: a size, unit B, K, M or G (default K). */
static size_t stacksize_from(const char *name)
{
    const char *text = getenv(name);
    if (text == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text)
        return 0;
    while (isspace((unsigned char)*end))
        end++;
    unsigned shift = 10;
    switch (tolower((unsigned char)*end)) {
    case '\0': break;
    case 'b': shift = 0; end++; break;
    case 'k': shift = 10; end++; break;
    case 'm': shift = 20; end++; break;
    case 'g': shift = 30; end++; break;
    default: return 0;
    }
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0' || value > (((unsigned long long)-1) >> shift))
        return 0;
    return (size_t)(value << shift);
}

struct probe {
    pthread_mutex_t lock;
    pthread_cond_t released;
    int release;
};

static void *probe_wait(void *arg)
{
    struct probe *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->release)
        pthread_cond_wait(&p->released, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}
#endif

int fi_check_threads(int n)
{
#ifdef _OPENMP
    if (n <= 1)
        return 0;
    pthread_t *ids = malloc((size_t)(n - 1) * sizeof *ids);
    if (ids == NULL)
        return ENOMEM;
    pthread_attr_t attr;
    pthread_attr_t *attr_used = NULL;
    size_t stack = stacksize_from("OMP_STACKSIZE");
    if (stack == 0)
        stack = stacksize_from("GOMP_STACKSIZE");
    if (stack != 0 && pthread_attr_init(&attr) == 0) {
        if (pthread_attr_setstacksize(&attr, stack) == 0)
            attr_used = &attr;
        else
            pthread_attr_destroy(&attr);
    }
    struct probe p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int started = 0, err = 0;
    /* All alive at once: a fill needs their stacks at the same time. */
    while (started < n - 1) {
        err = pthread_create(&ids[started], attr_used, probe_wait, &p);
        if (err != 0)
            break;
        started++;
    }
    pthread_mutex_lock(&p.lock);
    p.release = 1;
    pthread_cond_broadcast(&p.released);
    pthread_mutex_unlock(&p.lock);
    for (int i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
    if (attr_used != NULL)
        pthread_attr_destroy(attr_used);
    free(ids);
    return err;
#else
    (void)n;
    return 0;
#endif
}

void fi_note_parallel_use(void)
{
    pthread_once(&atfork_once, register_atfork);
    parallel_used = 1;
}
