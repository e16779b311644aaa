#include "backend_options.h"

#include <string.h>

#include "util/error.h"

ns_cli_backend ns_cli_backend_default(void)
{
    ns_cli_backend b = {"auto", "fp32", 0, -1};
    return b;
}

static ns_status parse_precision(const char *s, ns_precision *out)
{
    if (strcmp(s, "fp32") == 0)
        *out = NS_PRECISION_FP32;
    else if (strcmp(s, "bf16") == 0)
        *out = NS_PRECISION_BF16;
    else if (strcmp(s, "fp16") == 0)
        *out = NS_PRECISION_FP16;
    else
        return ns_fail(NS_ERR_USAGE, "--precision %s: expected fp32, bf16, fp16 or auto", s);
    return NS_OK;
}

ns_status ns_cli_backend_open(const ns_cli_backend *b, ns_backend **out)
{
    ns_backend_options o = ns_backend_options_default();
    o.threads = b->threads;
    o.device = b->device;
    int fallback = strcmp(b->precision, "auto") == 0;
    if (fallback) {
        /* bf16 where the backend computes it natively (a backend refuses a
         * precision it would only emulate), float32 everywhere else. */
        o.precision = NS_PRECISION_BF16;
    } else {
        NS_TRY(parse_precision(b->precision, &o.precision));
    }
    ns_status st = ns_backend_open(b->backend, &o, out);
    if (st != NS_OK && fallback) {
        ns_log(1, "--precision auto: no bf16 backend here (%s); using fp32", ns_last_error());
        o.precision = NS_PRECISION_FP32;
        st = ns_backend_open(b->backend, &o, out);
    }
    NS_TRY(st);
    ns_backend *be = *out;
    ns_log(1, "backend %s: %s", be->name, be->api->describe ? be->api->describe(be->ctx) : "");
    return NS_OK;
}

const char *ns_cli_backend_precision(const ns_backend *be)
{
    switch (be->opt.precision) {
    case NS_PRECISION_BF16: return "bf16";
    case NS_PRECISION_FP16: return "fp16";
    default: return "fp32";
    }
}
