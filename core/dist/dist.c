#include "dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_backend.h"
#include "util/error.h"

/* The one world of this process (see dist.h for why it is global). */
static struct {
    int mpi; /* 1 once MPI is initialised */
    int rank, size;
    char describe[256];
} world = {0, 0, 1, "single process"};

int ns_dist_built_with_mpi(void)
{
#ifdef NS_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

ns_status ns_dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
#ifdef NS_HAVE_MPI
    if (world.mpi || !ns_dist_mpi_launched())
        return NS_OK;
    NS_TRY(ns_dist_mpi_init(argc, argv, &world.rank, &world.size, world.describe, sizeof world.describe));
    world.mpi = 1;
#endif
    return NS_OK;
}

void ns_dist_finalize(void)
{
#ifdef NS_HAVE_MPI
    if (world.mpi)
        ns_dist_mpi_finalize();
#endif
    world.mpi = 0;
    world.rank = 0;
    world.size = 1;
    snprintf(world.describe, sizeof world.describe, "single process");
}

int ns_dist_rank(void) { return world.rank; }
int ns_dist_size(void) { return world.size; }
const char *ns_dist_describe(void) { return world.describe; }

#ifdef NS_HAVE_MPI
#define DISPATCH(call)                                                                                       \
    do {                                                                                                     \
        if (world.mpi && world.size > 1)                                                                     \
            return call;                                                                                     \
    } while (0)
#else
#define DISPATCH(call) ((void)0)
#endif

ns_status ns_dist_allreduce_sum_f32(float *buf, size_t n)
{
    DISPATCH(ns_dist_mpi_allreduce(buf, n, NS_DIST_F32, NS_DIST_SUM));
    (void)buf, (void)n;
    return NS_OK;
}

ns_status ns_dist_allreduce_sum_f64(double *buf, size_t n)
{
    DISPATCH(ns_dist_mpi_allreduce(buf, n, NS_DIST_F64, NS_DIST_SUM));
    (void)buf, (void)n;
    return NS_OK;
}

ns_status ns_dist_allreduce_sum_i64(int64_t *buf, size_t n)
{
    DISPATCH(ns_dist_mpi_allreduce(buf, n, NS_DIST_I64, NS_DIST_SUM));
    (void)buf, (void)n;
    return NS_OK;
}

ns_status ns_dist_allreduce_max_i64(int64_t *buf, size_t n)
{
    DISPATCH(ns_dist_mpi_allreduce(buf, n, NS_DIST_I64, NS_DIST_MAX));
    (void)buf, (void)n;
    return NS_OK;
}

ns_status ns_dist_broadcast(void *buf, size_t bytes, int root)
{
    if (root < 0 || root >= world.size)
        return ns_fail(NS_ERR_INVALID_ARG, "dist: broadcast root %d outside 0..%d", root, world.size - 1);
    DISPATCH(ns_dist_mpi_broadcast(buf, bytes, root));
    (void)buf, (void)bytes;
    return NS_OK;
}

ns_status ns_dist_gatherv(const void *send, size_t bytes, void *out, const size_t *counts, int root)
{
    if (root < 0 || root >= world.size)
        return ns_fail(NS_ERR_INVALID_ARG, "dist: gather root %d outside 0..%d", root, world.size - 1);
    DISPATCH(ns_dist_mpi_gatherv(send, bytes, out, counts, root, world.size));
    (void)counts;
    if (bytes && out != send)
        memmove(out, send, bytes);
    return NS_OK;
}

ns_status ns_dist_barrier(void)
{
    DISPATCH(ns_dist_mpi_barrier());
    return NS_OK;
}

_Noreturn void ns_dist_abort(int code, const char *msg)
{
    fprintf(stderr, "noisystudent: rank %d of %d: %s\n", world.rank, world.size, msg ? msg : "aborting");
    fflush(stderr);
#ifdef NS_HAVE_MPI
    if (world.mpi && world.size > 1)
        ns_dist_mpi_abort(code);
#endif
    exit(code);
}
