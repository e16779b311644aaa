/* The backend's `extra` option string: "key=value,key=value".
 *   tf32=0|1      fp32 convolutions and GEMMs may use TF32 tensor cores (default 0:
 *                 exact float32, what the parity suite checks; PyTorch's cuDNN
 *                 default is 1)
 *   autotune=N    time up to N cuDNN engines per convolution shape and keep the
 *                 fastest (default 4); 0 takes cuDNN's heuristic first choice */
#ifndef NS_CUDA_OPTIONS_H
#define NS_CUDA_OPTIONS_H

#include <noisystudent/plugin.h>

typedef struct ns_cuda_options {
    int tf32;
    int autotune;
} ns_cuda_options;

/* Parses `extra` (NULL or "" keeps *o) over the defaults in *o. Unknown keys or
 * bad values: NS_ERR_INVALID_ARG naming the key and what is accepted. */
ns_status ns_cuda_options_parse(const ns_host_api *host, const char *extra, ns_cuda_options *o);

#endif
