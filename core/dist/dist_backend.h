/* What dist.c dispatches to once a world of more than one process exists:
 * the MPI implementation (dist_mpi.c, compiled with NS_HAVE_MPI). Internal to
 * core/dist. Every function mirrors its ns_dist_* namesake. */
#ifndef NS_DIST_DIST_BACKEND_H
#define NS_DIST_DIST_BACKEND_H

#include "dist/dist.h"

#ifdef NS_HAVE_MPI
typedef enum { NS_DIST_F32, NS_DIST_F64, NS_DIST_I64 } ns_dist_type;
typedef enum { NS_DIST_SUM, NS_DIST_MAX } ns_dist_op;

/* 1 when a launcher started this process (so MPI should be initialised). */
int ns_dist_mpi_launched(void);
ns_status ns_dist_mpi_init(int *argc, char ***argv, int *rank, int *size, char *describe, size_t cap);
void ns_dist_mpi_finalize(void);
ns_status ns_dist_mpi_allreduce(void *buf, size_t n, ns_dist_type type, ns_dist_op op);
ns_status ns_dist_mpi_broadcast(void *buf, size_t bytes, int root);
ns_status ns_dist_mpi_gatherv(const void *send, size_t bytes, void *out, const size_t *counts, int root, int size);
ns_status ns_dist_mpi_barrier(void);
_Noreturn void ns_dist_mpi_abort(int code);
#endif

#endif
