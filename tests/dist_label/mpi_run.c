#include "mpi_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dist/dist.h"

const char *mpi_run_unavailable(void)
{
    if (!ns_dist_built_with_mpi())
        return "built without MPI (-DNS_MPI=OFF or no MPI found)";
    if (!NS_MPIRUN_PATH[0] || access(NS_MPIRUN_PATH, X_OK) != 0)
        return "no mpirun found at configure time";
    return NULL;
}

int mpi_run(int ranks, const char *args, const char *log)
{
    /* Open MPI's documented switches for running as root (CI containers) and
     * for TCP over loopback next to shared memory. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_pml", "ob1", 0);
    setenv("OMPI_MCA_btl", "self,vader,tcp", 0);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
    /* Sanitizer build: Open MPI keeps process-lifetime allocations in
     * components it has unloaded by exit, which LeakSanitizer cannot tell
     * from ours (no module to suppress). The ranks keep AddressSanitizer's
     * memory checks (the variable is set for the ranks only); leaks are
     * checked in the one-process runs and suites. */
    char cmd[8192];
    int n;
    if (ranks > 0)
        n = snprintf(cmd, sizeof cmd,
                     "ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} '%s' --oversubscribe -np %d -x NS_PLUGIN_PATH "
                     "-x ASAN_OPTIONS%s %s >'%s' 2>&1",
                     NS_MPIRUN_PATH, ranks, getenv("NS_FAULT_TRACE") ? " -x NS_FAULT_TRACE" : "", args, log);
    else
        n = snprintf(cmd, sizeof cmd, "%s >'%s' 2>&1", args, log);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    int rc = system(cmd);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}
