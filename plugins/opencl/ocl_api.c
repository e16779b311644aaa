/* Run-time binding of OpenCL and CLBlast (see ocl_api.h). */
#include "ocl_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

ocl_api_table ocl_fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static ns_status load_status = NS_ERR_INTERNAL;
static char load_why[512];

static void *open_first(const char *const *names, char *err, size_t err_len)
{
    err[0] = '\0';
    for (const char *const *n = names; *n; n++) {
        void *h = dlopen(*n, RTLD_NOW | RTLD_LOCAL);
        if (h)
            return h;
        if (!err[0]) {
            const char *e = dlerror();
            snprintf(err, err_len, "%s", e ? e : *n);
        }
    }
    return NULL;
}

static void load(void)
{
    static const char *const opencl_names[] = {"libOpenCL.so.1", "libOpenCL.so", NULL};
    static const char *const clblast_names[] = {"libclblast.so.1", "libclblast.so", NULL};
    char err[384];
    void *cl = open_first(opencl_names, err, sizeof err);
    if (!cl) {
        snprintf(load_why, sizeof load_why,
                 "no OpenCL ICD loader (%s); Debian: apt install ocl-icd-libopencl1 and a driver "
                 "such as pocl-opencl-icd", err);
        load_status = NS_ERR_UNSUPPORTED;
        return;
    }
    void *blast = open_first(clblast_names, err, sizeof err);
    if (!blast) {
        snprintf(load_why, sizeof load_why, "no CLBlast library (%s); Debian: apt install "
                 "libclblast1", err);
        load_status = NS_ERR_UNSUPPORTED;
        return;
    }
    /* POSIX lets a void * from dlsym convert to a function pointer. */
#define OCL_API_RESOLVE(lib, libname, name)                                                    \
    do {                                                                                        \
        void *sym = dlsym(lib, #name);                                                          \
        if (!sym) {                                                                             \
            snprintf(load_why, sizeof load_why, "%s has no %s: too old (OpenCL 1.2 needed)",    \
                     libname, #name);                                                           \
            load_status = NS_ERR_UNSUPPORTED;                                                   \
            return;                                                                             \
        }                                                                                       \
        *(void **)&ocl_fn.name = sym;                                                           \
    } while (0);
#define OCL_API_RESOLVE_CL(name) OCL_API_RESOLVE(cl, "libOpenCL", name)
#define OCL_API_RESOLVE_BLAST(name) OCL_API_RESOLVE(blast, "libclblast", name)
    OCL_API_FUNCTIONS(OCL_API_RESOLVE_CL)
    OCL_BLAST_FUNCTIONS(OCL_API_RESOLVE_BLAST)
    load_status = NS_OK;
}

ns_status ocl_api_load(char *why, size_t why_len)
{
    pthread_once(&load_once, load);
    if (load_status != NS_OK && why && why_len)
        snprintf(why, why_len, "%s", load_why);
    return load_status;
}
