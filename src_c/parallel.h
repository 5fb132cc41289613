/*
 * The one module that talks to OpenMP.  Without OpenMP every function still
 * exists and the library runs serially.
 *
 * All settings here are process-wide: a fill started from any thread reads
 * them.  Only OpenMP's own count (omp_get_max_threads, which threadpoolctl
 * changes through omp_set_num_threads) is per calling thread, as OpenMP
 * defines it.
 */
#ifndef FASTINIT_PARALLEL_H
#define FASTINIT_PARALLEL_H

int fi_openmp_enabled(void);
/* 0 restores the default (see fi_effective_threads). */
void fi_set_requested_threads(int n);
int fi_get_requested_threads(void);
/*
 * The CPUs this process may use (affinity, cgroup CPU quota), as computed by
 * fastinit/_cpus.py; 0 for "unknown".  The first call also records OpenMP's
 * default count and whether OMP_NUM_THREADS set it.
 */
void fi_set_cpu_limit(int n);
int fi_get_cpu_limit(void);
/*
 * Threads a fill may use now: the requested count if any; else OpenMP's
 * count for the calling thread, capped at the CPU limit unless it is an
 * explicit choice (OMP_NUM_THREADS, or omp_set_num_threads as threadpoolctl
 * calls it); 1 in a child forked after the parent used OpenMP, since
 * libgomp's thread pool does not survive fork().
 */
int fi_effective_threads(void);
/*
 * Starts n - 1 threads with the stack size OpenMP gives its workers, holds
 * them all alive at once, then joins them: 0 if that worked, else the errno
 * of the pthread_create that failed.  libgomp cannot report that error (it
 * prints "Thread creation failed" and exits the process), so fastinit checks
 * a thread count before it accepts one.
 */
int fi_check_threads(int n);
/* Called by fill.c before it opens a parallel region. */
void fi_note_parallel_use(void);

#endif
