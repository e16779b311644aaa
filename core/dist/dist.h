/* The process world: which process of how many this is, and the few
 * collectives the trainer, the labeler and selftrain need. Nothing else in the
 * project calls MPI; they call this.
 *
 * One world per process, like MPI_COMM_WORLD: the state lives in dist.c and is
 * set once by ns_dist_init at the start of main (a deliberate, documented
 * exception to "no global mutable state": a process cannot be in two worlds).
 * Before ns_dist_init, and in any build without MPI, or when the process was
 * not started by an MPI launcher (mpirun, srun), the world is this one process:
 * rank 0 of 1, every collective a no-op copy. So the same binary runs alone
 * or under `mpirun -np N`.
 *
 * Errors: collectives return NS_OK or NS_ERR_IO (the MPI error string in the
 * message). A failed collective leaves the world unusable: the caller reports
 * and calls ns_dist_abort so no other rank waits forever.
 * Every rank must call the same collectives in the same order with the same
 * sizes (MPI's rule); buffers of any length (beyond INT_MAX elements too). */
#ifndef NS_DIST_DIST_H
#define NS_DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

/* Joins the MPI world when built with MPI and started by a launcher (Open MPI,
 * PMIx or Slurm environment variables present); otherwise stays single.
 * Call once, first thing in main. argc/argv may be NULL. */
ns_status ns_dist_init(int *argc, char ***argv);

/* Leaves the world (MPI_Finalize). Safe to call when single or twice. */
void ns_dist_finalize(void);

int ns_dist_rank(void); /* 0 .. size-1 */
int ns_dist_size(void); /* >= 1 */
static inline int ns_dist_is_root(void) { return ns_dist_rank() == 0; }

/* "single process" or "MPI (<library version>, N ranks)"; what `--version` prints. */
const char *ns_dist_describe(void);
/* 1 when the binary was built with MPI support (whether or not it runs under a launcher). */
int ns_dist_built_with_mpi(void);

/* Element-wise sum over all ranks, in place, result on every rank. */
ns_status ns_dist_allreduce_sum_f32(float *buf, size_t n);
ns_status ns_dist_allreduce_sum_f64(double *buf, size_t n);
ns_status ns_dist_allreduce_sum_i64(int64_t *buf, size_t n);
/* Element-wise maximum (e.g. "any rank failed": each contributes 0/1). */
ns_status ns_dist_allreduce_max_i64(int64_t *buf, size_t n);

/* Copies root's `bytes` bytes to every rank's buf. */
ns_status ns_dist_broadcast(void *buf, size_t bytes, int root);

/* Gathers each rank's `bytes` bytes (may differ per rank) into root's `out`,
 * rank after rank. counts[r] (needed on root only, may be NULL elsewhere) is
 * rank r's byte count; `out` holds their sum. Non-root ranks pass out NULL. */
ns_status ns_dist_gatherv(const void *send, size_t bytes, void *out, const size_t *counts, int root);

ns_status ns_dist_barrier(void);

/* Ends every rank of the world now with `code` (MPI_Abort): the way out of a
 * failure that other ranks would otherwise wait on in a collective. Prints
 * one line "rank R of N: <msg>" to stderr first. Single process: exit(code). */
_Noreturn void ns_dist_abort(int code, const char *msg);

#endif
