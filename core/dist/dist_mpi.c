/* The MPI side of the process world (dist.h). Compiled empty without MPI. */
#include "dist/dist_backend.h"

#ifdef NS_HAVE_MPI

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "util/error.h"

/* MPI counts are int: long buffers go in pieces of at most this many elements. */
#define CHUNK ((size_t)1 << 30)

static ns_status mpi_fail(int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", rc);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return ns_fail(NS_ERR_IO, "dist: %s failed on rank %d: %s", what, rank, text);
}

int ns_dist_mpi_launched(void)
{
    /* Open MPI's mpirun, PMIx launchers (Open MPI 5, Slurm srun --mpi=pmix), PMI-1/2 (Slurm, MPICH). */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

ns_status ns_dist_mpi_init(int *argc, char ***argv, int *rank, int *size, char *describe, size_t cap)
{
    int provided = 0;
    /* FUNNELED: only the main thread talks to MPI; loader and backend threads never do. */
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return ns_fail(NS_ERR_IO, "dist: MPI_Init_thread failed (code %d)", rc);
    /* Errors come back as codes so they become one clear line and an abort, not MPI's own exit. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    char *nl = strpbrk(lib, ",\n"); /* first clause only: "Open MPI v4.1.4" */
    if (nl)
        *nl = '\0';
    snprintf(describe, cap, "MPI (%s), %d ranks", lib, *size);
    return NS_OK;
}

void ns_dist_mpi_finalize(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
}

ns_status ns_dist_mpi_allreduce(void *buf, size_t n, ns_dist_type type, ns_dist_op op)
{
    MPI_Datatype dt = type == NS_DIST_F32 ? MPI_FLOAT : type == NS_DIST_F64 ? MPI_DOUBLE : MPI_INT64_T;
    size_t esize = type == NS_DIST_F32 ? 4 : 8;
    MPI_Op mop = op == NS_DIST_SUM ? MPI_SUM : MPI_MAX;
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + at * esize, (int)m, dt, mop, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "all-reduce");
    }
    return NS_OK;
}

ns_status ns_dist_mpi_broadcast(void *buf, size_t bytes, int root)
{
    for (size_t at = 0; at < bytes; at += CHUNK) {
        size_t m = bytes - at < CHUNK ? bytes - at : CHUNK;
        int rc = MPI_Bcast((char *)buf + at, (int)m, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "broadcast");
    }
    return NS_OK;
}

/* Point to point from each rank to root, rank order: MPI_Gatherv's int
 * displacements cap the total at 2 GiB, and a label file of a large pool
 * exceeds that. */
ns_status ns_dist_mpi_gatherv(const void *send, size_t bytes, void *out, const size_t *counts, int root, int size)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const int tag = 7301;
    if (rank != root) {
        for (size_t at = 0; at < bytes; at += CHUNK) {
            size_t m = bytes - at < CHUNK ? bytes - at : CHUNK;
            int rc = MPI_Send((const char *)send + at, (int)m, MPI_BYTE, root, tag, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS)
                return mpi_fail(rc, "gather (send)");
        }
        return NS_OK;
    }
    if (!counts || counts[root] != bytes)
        return ns_fail(NS_ERR_INVALID_ARG, "dist: gather on root needs counts[] with counts[root] == its bytes");
    size_t off = 0;
    for (int r = 0; r < size; r++) {
        char *dst = (char *)out + off;
        if (r == root) {
            if (bytes && dst != send)
                memmove(dst, send, bytes);
        } else {
            for (size_t at = 0; at < counts[r]; at += CHUNK) {
                size_t m = counts[r] - at < CHUNK ? counts[r] - at : CHUNK;
                int rc = MPI_Recv(dst + at, (int)m, MPI_BYTE, r, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                if (rc != MPI_SUCCESS)
                    return mpi_fail(rc, "gather (receive)");
            }
        }
        off += counts[r];
    }
    return NS_OK;
}

ns_status ns_dist_mpi_barrier(void)
{
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? NS_OK : mpi_fail(rc, "barrier");
}

_Noreturn void ns_dist_mpi_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code); /* MPI_Abort does not return; this satisfies _Noreturn */
}

#else
typedef int ns_dist_mpi_unused; /* ISO C: a translation unit must not be empty */
#endif
