#include "backend_options.h"

#include <string.h>

#include "util/error.h"

ns_cli_backend ns_cli_backend_default(void)
{
    ns_cli_backend b = {"auto", "fp32", 0, -1};
    return b;
}

ns_status ns_cli_backend_open(const ns_cli_backend *b, ns_backend **out)
{
    ns_backend_options o = ns_backend_options_default();
    o.threads = b->threads;
    o.device = b->device;
    if (strcmp(b->precision, "fp32") == 0)
        o.precision = NS_PRECISION_FP32;
    else if (strcmp(b->precision, "bf16") == 0)
        o.precision = NS_PRECISION_BF16;
    else if (strcmp(b->precision, "fp16") == 0)
        o.precision = NS_PRECISION_FP16;
    else
        return ns_fail(NS_ERR_USAGE, "--precision %s: expected fp32, bf16 or fp16", b->precision);
    NS_TRY(ns_backend_open(b->backend, &o, out));
    ns_backend *be = *out;
    ns_log(1, "backend %s: %s", be->name, be->api->describe ? be->api->describe(be->ctx) : "");
    return NS_OK;
}
