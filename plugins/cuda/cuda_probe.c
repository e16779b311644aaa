#include "cuda_probe.h"

#include <stdio.h>

#include <cuda_runtime_api.h>
#include <cudnn.h>

ns_status ns_cuda_probe(const ns_host_api *host, char *why, size_t why_len)
{
    (void)host;
    char none[1];
    if (!why || why_len == 0) { /* the caller does not want the detail */
        why = none;
        why_len = sizeof none;
    }
    int rt = 0, drv = 0, count = 0;
    (void)cudaRuntimeGetVersion(&rt);
    (void)cudaDriverGetVersion(&drv); /* 0 when no driver is installed */
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (drv == 0)
            snprintf(why, why_len, "no CUDA device: CUDA driver not found (%s)",
                     cudaGetErrorName(e));
        else if (drv < rt)
            snprintf(why, why_len,
                     "no CUDA device: driver too old for runtime %d.%d (driver supports %d.%d; %s)",
                     rt / 1000, rt % 1000 / 10, drv / 1000, drv % 1000 / 10, cudaGetErrorName(e));
        else
            snprintf(why, why_len, "no CUDA device: %s (%s)", cudaGetErrorString(e),
                     cudaGetErrorName(e));
        return NS_ERR_UNSUPPORTED;
    }
    if (count == 0) {
        snprintf(why, why_len, "no CUDA device: the driver lists none");
        return NS_ERR_UNSUPPORTED;
    }
    struct cudaDeviceProp prop;
    e = cudaGetDeviceProperties(&prop, 0);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(why, why_len, "no usable CUDA device: reading device 0 failed: %s (%s)",
                 cudaGetErrorString(e), cudaGetErrorName(e));
        return NS_ERR_UNSUPPORTED;
    }
    if (prop.major < 8) {
        snprintf(why, why_len,
                 "no usable CUDA device: %s is sm_%d%d; this build has code for sm_80 and newer",
                 prop.name, prop.major, prop.minor);
        return NS_ERR_UNSUPPORTED;
    }
    size_t dnn = cudnnGetVersion();
    if (dnn / 10000 != CUDNN_MAJOR) {
        snprintf(why, why_len, "cuDNN %zu.%zu.%zu loaded, this plugin was built against cuDNN %d",
                 dnn / 10000, dnn % 10000 / 100, dnn % 100, CUDNN_MAJOR);
        return NS_ERR_UNSUPPORTED;
    }
    snprintf(why, why_len, "%s (sm_%d%d), %d device(s), driver %d.%d, runtime %d.%d, cuDNN %zu.%zu.%zu",
             prop.name, prop.major, prop.minor, count, drv / 1000, drv % 1000 / 10, rt / 1000,
             rt % 1000 / 10, dnn / 10000, dnn % 10000 / 100, dnn % 100);
    return NS_OK;
}
