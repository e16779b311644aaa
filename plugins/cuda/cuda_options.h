/* The backend's `extra` option string: "key=value,key=value".
 *   tf32=0|1      fp32 convolutions and GEMMs may use TF32 tensor cores (default 0:
 *                 exact float32, what the parity suite checks; PyTorch's cuDNN
 *                 default is 1)
 *   autotune=N    time up to N cuDNN engines per convolution shape and keep the
 *                 fastest (default 4); 0 takes cuDNN's heuristic first choice
 *   nhwc16=0|1    bf16/fp16: keep activations resident in 16-bit NHWC and fuse
 *                 conv2d_bn_infer's epilogue (default 1, plugins/cuda/README.md);
 *                 0 restores the per-call conversion path and the unfused
 *                 composition, so a fault in the new path does not stop a run
 *   sync=0|1      1: synchronize the stream and check for a device fault when
 *                 every op starts and at synchronize(), and name the op that ran
 *                 before (default 0): localises an asynchronous fault (an
 *                 illegal address, a failed launch) to the op that caused it, at
 *                 the cost of the overlap of host and device
 * The same keys may come from the environment variable NS_CUDA_OPTIONS (read
 * first; `extra` overrides it), for commands that have no flag for `extra`. */
#ifndef NS_CUDA_OPTIONS_H
#define NS_CUDA_OPTIONS_H

#include <noisystudent/plugin.h>

typedef struct ns_cuda_options {
    int tf32;
    int autotune;
    int nhwc16;
    int sync;
} ns_cuda_options;

/* Parses `extra` (NULL or "" keeps *o) over the values already in *o. Unknown
 * keys or bad values: NS_ERR_INVALID_ARG naming `from` (where the string came
 * from), the key and what is accepted. */
ns_status ns_cuda_options_parse(const ns_host_api *host, const char *from, const char *extra,
                                ns_cuda_options *o);

#endif
