/* Can the CUDA backend run here? See ns_plugin.probe. */
#ifndef NS_CUDA_PROBE_H
#define NS_CUDA_PROBE_H

#include <stddef.h>

#include <noisystudent/plugin.h>

/* NS_OK with "NVIDIA H200 (sm_90), driver 13.0, ..." in why, or
 * NS_ERR_UNSUPPORTED with the exact reason ("no CUDA device: CUDA driver not
 * found (cudaErrorInsufficientDriver)", "no CUDA device: driver too old for
 * runtime 13.0 (driver supports 12.4)", ...). Keeps no state. */
ns_status ns_cuda_probe(const ns_host_api *host, char *why, size_t why_len);

#endif
