/*
 * The one module that talks to OpenMP.  Without OpenMP every function still
 * exists and the library runs serially.
 */
#ifndef FASTINIT_PARALLEL_H
#define FASTINIT_PARALLEL_H

int fi_openmp_enabled(void);
/* 0 restores the default: OpenMP's own (OMP_NUM_THREADS, threadpoolctl). */
void fi_set_requested_threads(int n);
int fi_get_requested_threads(void);
/*
 * Threads a fill may use now: the requested count, else OpenMP's default
 * for the calling thread; 1 in a child forked after the parent used OpenMP,
 * since libgomp's thread pool does not survive fork().
 */
int fi_effective_threads(void);
/* Called by fill.c before it opens a parallel region. */
void fi_note_parallel_use(void);

#endif
