/* The compute flags every subcommand that runs a model shares:
 * --backend NAME|auto|PATH, --threads N, --device N, --precision fp32|bf16|fp16|auto. */
#ifndef NS_CLI_BACKEND_OPTIONS_H
#define NS_CLI_BACKEND_OPTIONS_H

#include "cli_options.h"
#include "plugin/backend_loader.h"

typedef struct ns_cli_backend {
    const char *backend;
    const char *precision;
    int threads;
    int device;
} ns_cli_backend;

#define NS_CLI_BACKEND_OPTS(b)                                                                          \
    {"backend", NS_OPT_STRING, &(b).backend, "NAME", "compute backend: auto, ref, cpu, opencl, cuda or a path "  \
                                                     "to a backend .so (default auto)", NULL, 0, -1},           \
    {"threads", NS_OPT_INT, &(b).threads, "N", "compute threads (default 0: one per core)", NULL, 0, 4096},     \
    {"device", NS_OPT_INT, &(b).device, "N", "device index for GPU backends (default: the backend's)", NULL,   \
     -1, 4096},                                                                                                 \
    {"precision", NS_OPT_STRING, &(b).precision, "P", "fp32, bf16, fp16, or auto: bf16 where the backend runs it natively (default: " \
                                                   "fp32; selftrain: auto)", NULL, 0, -1}

ns_cli_backend ns_cli_backend_default(void);
/* Opens the backend and prints what runs to stderr at verbosity >= 1.
 * Precision "auto" asks for bf16 and falls back to fp32 when no backend that
 * the spec names runs bf16 natively here. */
ns_status ns_cli_backend_open(const ns_cli_backend *b, ns_backend **out);
/* The precision the opened backend runs: "fp32", "bf16" or "fp16". */
const char *ns_cli_backend_precision(const ns_backend *be);

#endif
