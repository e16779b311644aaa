/* Enumerating OpenCL platforms and devices and choosing one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

#define OCL_MAX_PLATFORMS 16
#define OCL_MAX_DEVICES 64

void ocl_device_string(cl_device_id d, cl_device_info what, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, len, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[len - 1] = '\0';
}

void ocl_platform_string(cl_platform_id p, cl_platform_info what, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, len, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[len - 1] = '\0';
}

static const char *type_name(cl_device_id d)
{
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    return "other";
}

static int is_gpu(cl_device_id d)
{
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    return (t & CL_DEVICE_TYPE_GPU) != 0;
}

/* Platforms as the ICD loader lists them; a loader without any vendor file
 * answers CL_PLATFORM_NOT_FOUND_KHR, which deserves its own message. */
static ns_status platforms(const ns_host_api *host, cl_platform_id *out, cl_uint *count)
{
    cl_int err = clGetPlatformIDs(OCL_MAX_PLATFORMS, out, count);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && *count == 0)) {
        if (host)
            host->set_error("opencl: no OpenCL platform: the ICD loader found no vendor driver "
                            "(/etc/OpenCL/vendors or OCL_ICD_VENDORS); install pocl-opencl-icd "
                            "or a GPU driver");
        return NS_ERR_UNSUPPORTED;
    }
    if (err != CL_SUCCESS)
        return host ? ocl_fail_cl(host, "device", "clGetPlatformIDs", err) : NS_ERR_DEVICE;
    if (*count > OCL_MAX_PLATFORMS)
        *count = OCL_MAX_PLATFORMS;
    return NS_OK;
}

static cl_uint devices_of(cl_platform_id p, cl_device_id *out)
{
    cl_uint n = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, OCL_MAX_DEVICES, out, &n) != CL_SUCCESS)
        return 0;
    return n > OCL_MAX_DEVICES ? OCL_MAX_DEVICES : n;
}

ns_status ocl_device_parse_spec(const ns_host_api *host, const char *spec, int *pi, int *di)
{
    char *end = NULL;
    long p = strtol(spec, &end, 10), d = -1;
    int ok = end != spec && *end == ':';
    if (ok) {
        const char *ds = end + 1;
        d = strtol(ds, &end, 10);
        ok = end != ds && *end == '\0' && p >= 0 && d >= 0 && p <= 1000 && d <= 1000;
    }
    if (!ok) {
        if (host)
            host->set_error("opencl: device \"%s\": expected platform:device, e.g. 0:0", spec);
        return NS_ERR_INVALID_ARG;
    }
    *pi = (int)p;
    *di = (int)d;
    return NS_OK;
}

ns_status ocl_device_select(const ns_host_api *host, int flat_index, const char *spec,
                            ocl_device_ref *out)
{
    cl_platform_id plat[OCL_MAX_PLATFORMS];
    cl_uint np = 0;
    ns_status st = platforms(host, plat, &np);
    if (st != NS_OK)
        return st;

    int want_p = -1, want_d = -1;
    if (flat_index < 0 && spec && *spec) {
        st = ocl_device_parse_spec(host, spec, &want_p, &want_d);
        if (st != NS_OK)
            return st;
    }
    int flat = 0, total = 0;
    int first_p = -1, first_d = -1, gpu_p = -1, gpu_d = -1;
    cl_device_id first_dev = NULL, gpu_dev = NULL;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id dev[OCL_MAX_DEVICES];
        cl_uint nd = devices_of(plat[p], dev);
        for (cl_uint d = 0; d < nd; d++, flat++, total++) {
            int hit = (flat_index >= 0 && flat == flat_index) ||
                      (want_p == (int)p && want_d == (int)d);
            if (hit) {
                *out = (ocl_device_ref){plat[p], dev[d], (int)p, (int)d};
                return NS_OK;
            }
            if (!first_dev) {
                first_dev = dev[d];
                first_p = (int)p;
                first_d = (int)d;
            }
            if (!gpu_dev && is_gpu(dev[d])) {
                gpu_dev = dev[d];
                gpu_p = (int)p;
                gpu_d = (int)d;
            }
        }
    }
    if (total == 0) {
        host->set_error("opencl: no OpenCL device: %u platform(s) found but none lists a device",
                        (unsigned)np);
        return NS_ERR_UNSUPPORTED;
    }
    if (flat_index >= 0) {
        host->set_error("opencl: device %d does not exist: %d device(s) seen (0..%d)", flat_index,
                        total, total - 1);
        return NS_ERR_NOT_FOUND;
    }
    if (want_p >= 0) {
        host->set_error("opencl: device %s does not exist (%u platform(s), %d device(s) in all)",
                        spec, (unsigned)np, total);
        return NS_ERR_NOT_FOUND;
    }
    if (gpu_dev)
        *out = (ocl_device_ref){plat[gpu_p], gpu_dev, gpu_p, gpu_d};
    else
        *out = (ocl_device_ref){plat[first_p], first_dev, first_p, first_d};
    return NS_OK;
}

void ocl_device_list(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    cl_platform_id plat[OCL_MAX_PLATFORMS];
    cl_uint np = 0;
    if (platforms(NULL, plat, &np) != NS_OK)
        return;
    int flat = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id dev[OCL_MAX_DEVICES];
        cl_uint nd = devices_of(plat[p], dev);
        for (cl_uint d = 0; d < nd; d++, flat++) {
            char name[OCL_NAME_MAX];
            ocl_device_string(dev[d], CL_DEVICE_NAME, name, sizeof name);
            if (used < len) {
                int w = snprintf(buf + used, len - used, "%s[%d] %u:%u %s (%s)",
                                 flat ? "; " : "", flat, (unsigned)p, (unsigned)d, name,
                                 type_name(dev[d]));
                if (w > 0)
                    used += (size_t)w;
            }
        }
    }
}
