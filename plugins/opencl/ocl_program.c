/* Building the plugin's OpenCL program, with an on-disk cache of the device
 * binary so that the second run skips the front-end compile.
 *
 * Cache directory: $NS_OPENCL_CACHE ("off" disables it), else
 * $XDG_CACHE_HOME/noisystudent/opencl, else ~/.cache/noisystudent/opencl.
 * Entry: <key>.bin where key = FNV-1a 64 of (platform, device, device version,
 * driver version, build options, source), so a new driver or an edited kernel
 * never reuses a stale binary. File: "NSOCLBN1", key, size (u64 each), the
 * binary, FNV-1a 64 of the binary. A bad or refused entry is ignored (logged)
 * and rebuilt from source. PoCL keeps its own cache of the final machine code
 * in $POCL_CACHE_DIR, which this code leaves alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocl_internal.h"

static const char cache_magic[8] = {'N', 'S', 'O', 'C', 'L', 'B', 'N', '1'};

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv1a(h, s, strlen(s) + 1); /* the NUL separates fields */
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    return (mkdir(path, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

/* Fills dir (created if missing); returns 0 when caching is off or impossible. */
static int cache_dir(const ns_host_api *host, char *dir, size_t len)
{
    const char *env = getenv("NS_OPENCL_CACHE");
    int n;
    if (env && *env) {
        if (strcmp(env, "off") == 0 || strcmp(env, "0") == 0)
            return 0;
        n = snprintf(dir, len, "%s", env);
    } else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME")) {
        n = snprintf(dir, len, "%s/noisystudent/opencl", getenv("XDG_CACHE_HOME"));
    } else if (getenv("HOME") && *getenv("HOME")) {
        n = snprintf(dir, len, "%s/.cache/noisystudent/opencl", getenv("HOME"));
    } else {
        return 0;
    }
    if (n <= 0 || (size_t)n >= len)
        return 0;
    if (mkdir_p(dir) != 0) {
        host->log(0, "opencl: kernel cache %s: cannot create (%s); compiling every run", dir,
                  strerror(errno));
        return 0;
    }
    return 1;
}

static int read_u64(FILE *f, uint64_t *v) { return fread(v, sizeof *v, 1, f) == 1; }

/* Returns a malloc'd binary for `key`, or NULL (absent or damaged). */
static unsigned char *cache_load(const ns_host_api *host, const char *path, uint64_t key,
                                 size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char magic[8];
    uint64_t k = 0, n = 0, sum = 0;
    unsigned char *bin = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, cache_magic, 8) != 0 || !read_u64(f, &k) ||
        k != key || !read_u64(f, &n) || n == 0 || n > ((uint64_t)1 << 31))
        goto bad;
    bin = malloc((size_t)n);
    if (!bin || fread(bin, 1, (size_t)n, f) != (size_t)n || !read_u64(f, &sum) ||
        sum != fnv1a(0xcbf29ce484222325ull, bin, (size_t)n))
        goto bad;
    fclose(f);
    *size = (size_t)n;
    return bin;
bad:
    host->log(1, "opencl: kernel cache entry %s is damaged or stale; rebuilding it", path);
    free(bin);
    fclose(f);
    return NULL;
}

static void cache_store(const ns_host_api *host, const char *path, uint64_t key,
                        const unsigned char *bin, size_t size)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        host->log(0, "opencl: kernel cache %s: %s", tmp, strerror(errno));
        return;
    }
    uint64_t n = size, sum = fnv1a(0xcbf29ce484222325ull, bin, size);
    int ok = fwrite(cache_magic, 1, 8, f) == 8 && fwrite(&key, 8, 1, f) == 1 &&
             fwrite(&n, 8, 1, f) == 1 && fwrite(bin, 1, size, f) == size &&
             fwrite(&sum, 8, 1, f) == 1;
    ok = (fclose(f) == 0) && ok;
    /* rename() is atomic: a concurrent reader sees the old entry or the new one. */
    if (!ok || rename(tmp, path) != 0) {
        host->log(0, "opencl: kernel cache %s: write failed (%s)", path, strerror(errno));
        remove(tmp);
    }
}

/* The first lines of the build log, joined into one line. */
static void build_log_head(cl_program prog, cl_device_id dev, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) != CL_SUCCESS || !n)
        return;
    char *log = malloc(n + 1);
    if (!log)
        return;
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, n, log, NULL) == CL_SUCCESS) {
        log[n] = '\0';
        size_t o = 0;
        int lines = 0;
        for (const char *p = log; *p && o + 4 < len && lines < 4; p++) {
            if (*p == '\n') {
                if (o > 0 && out[o - 1] != ' ') {
                    out[o++] = ' ';
                    out[o++] = '|';
                    out[o++] = ' ';
                }
                lines++;
                continue;
            }
            out[o++] = *p;
        }
        out[o] = '\0';
    }
    free(log);
}

static ns_status build(const ns_host_api *host, ocl_runtime *rt, cl_program prog,
                       const char *options, int from_binary)
{
    cl_int err = clBuildProgram(prog, 1, &rt->dev.device, options, NULL, NULL);
    if (err == CL_SUCCESS)
        return NS_OK;
    if (from_binary)
        return NS_ERR_DEVICE; /* caller falls back to source */
    char head[600];
    build_log_head(prog, rt->dev.device, head, sizeof head);
    host->set_error("opencl create: clBuildProgram failed: %s (%d); build log: %s",
                    ocl_cl_error_name(err), (int)err, head[0] ? head : "(empty)");
    return ocl_status_of(err);
}

static void store_binary(const ns_host_api *host, cl_program prog, const char *path, uint64_t key)
{
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *bin = malloc(size);
    if (!bin)
        return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
        cache_store(host, path, key, bin, size);
    free(bin);
}

ns_status ocl_program_build(const ns_host_api *host, ocl_runtime *rt, const char *source,
                            const char *options, cl_program *out)
{
    char dev_version[OCL_NAME_MAX], plat_version[OCL_NAME_MAX];
    ocl_device_string(rt->dev.device, CL_DEVICE_VERSION, dev_version, sizeof dev_version);
    ocl_platform_string(rt->dev.platform, CL_PLATFORM_VERSION, plat_version, sizeof plat_version);
    uint64_t key = 0xcbf29ce484222325ull;
    key = fnv_str(key, rt->platform_name);
    key = fnv_str(key, plat_version);
    key = fnv_str(key, rt->device_name);
    key = fnv_str(key, dev_version);
    key = fnv_str(key, rt->driver_version);
    key = fnv_str(key, options);
    key = fnv_str(key, source);

    char dir[900], path[1000];
    int cached = cache_dir(host, dir, sizeof dir);
    if (cached)
        snprintf(path, sizeof path, "%s/%016llx.bin", dir, (unsigned long long)key);

    cl_int err;
    if (cached) {
        size_t size = 0;
        unsigned char *bin = cache_load(host, path, key, &size);
        if (bin) {
            const unsigned char *bins[1] = {bin};
            cl_int bin_status = CL_SUCCESS;
            cl_program prog = clCreateProgramWithBinary(rt->context, 1, &rt->dev.device, &size,
                                                        bins, &bin_status, &err);
            free(bin);
            if (err == CL_SUCCESS && bin_status == CL_SUCCESS &&
                build(host, rt, prog, options, 1) == NS_OK) {
                snprintf(rt->program_origin, sizeof rt->program_origin, "kernels from cache %s",
                         path);
                *out = prog;
                return NS_OK;
            }
            if (prog)
                clReleaseProgram(prog);
            host->log(1, "opencl: the driver refused cached binary %s; rebuilding it", path);
        }
    }

    cl_program prog = clCreateProgramWithSource(rt->context, 1, &source, NULL, &err);
    if (err != CL_SUCCESS)
        return ocl_fail_cl(host, "create", "clCreateProgramWithSource", err);
    ns_status st = build(host, rt, prog, options, 0);
    if (st != NS_OK) {
        clReleaseProgram(prog);
        return st;
    }
    if (cached) {
        store_binary(host, prog, path, key);
        snprintf(rt->program_origin, sizeof rt->program_origin, "kernels compiled, cached in %s",
                 dir);
    } else {
        snprintf(rt->program_origin, sizeof rt->program_origin, "kernels compiled, cache off");
    }
    *out = prog;
    return NS_OK;
}
