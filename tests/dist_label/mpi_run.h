/* Runs a command line under mpirun for the dist suites: Open MPI as root
 * needs its two ALLOW variables, more ranks than cores need --oversubscribe,
 * and the plugin path (and NS_FAULT_TRACE when set) must reach every rank (-x). */
#ifndef NS_TESTS_MPI_RUN_H
#define NS_TESTS_MPI_RUN_H

#include <stddef.h>

/* NULL when the suite can run ranks (mpirun found, the library built with
 * MPI); otherwise why not, for the skip message. */
const char *mpi_run_unavailable(void);

/* Runs `mpirun -np ranks <args>` (ranks <= 0: `<args>` alone, one process
 * without a launcher) through the shell; stdout+stderr go to `log`.
 * Returns the exit status (-1 when it could not run). */
int mpi_run(int ranks, const char *args, const char *log);

#endif
