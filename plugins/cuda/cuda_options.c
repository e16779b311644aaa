#include "cuda_options.h"

#include <stdlib.h>
#include <string.h>

/* An integer in [lo, hi] spelled by value[0..len). */
static int parse_int(const char *value, size_t len, int lo, int hi, int *out)
{
    if (len == 0 || len > 9)
        return 0;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return 0;
        v = v * 10 + (value[i] - '0');
    }
    if (v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

ns_status ns_cuda_options_parse(const ns_host_api *host, const char *from, const char *extra,
                                ns_cuda_options *o)
{
    const char *p = extra;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq) {
            host->set_error("cuda options (%s): '%.*s' is not key=value (accepted: tf32=0|1, "
                            "autotune=0..64, nhwc16=0|1, sync=0|1)", from, (int)len, p);
            return NS_ERR_INVALID_ARG;
        }
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *val = eq + 1;
        if (klen == 4 && memcmp(p, "tf32", 4) == 0) {
            if (!parse_int(val, vlen, 0, 1, &o->tf32)) {
                host->set_error("cuda options (%s): tf32=%.*s, expected 0 or 1", from, (int)vlen, val);
                return NS_ERR_INVALID_ARG;
            }
        } else if (klen == 8 && memcmp(p, "autotune", 8) == 0) {
            if (!parse_int(val, vlen, 0, 64, &o->autotune)) {
                host->set_error("cuda options (%s): autotune=%.*s, expected 0..64", from, (int)vlen, val);
                return NS_ERR_INVALID_ARG;
            }
        } else if (klen == 6 && memcmp(p, "nhwc16", 6) == 0) {
            if (!parse_int(val, vlen, 0, 1, &o->nhwc16)) {
                host->set_error("cuda options (%s): nhwc16=%.*s, expected 0 or 1", from, (int)vlen, val);
                return NS_ERR_INVALID_ARG;
            }
        } else if (klen == 4 && memcmp(p, "sync", 4) == 0) {
            if (!parse_int(val, vlen, 0, 1, &o->sync)) {
                host->set_error("cuda options (%s): sync=%.*s, expected 0 or 1", from, (int)vlen, val);
                return NS_ERR_INVALID_ARG;
            }
        } else {
            host->set_error("cuda options (%s): unknown key '%.*s' (accepted: tf32=0|1, "
                            "autotune=0..64, nhwc16=0|1, sync=0|1)", from, (int)klen, p);
            return NS_ERR_INVALID_ARG;
        }
        p = end ? end + 1 : NULL;
    }
    return NS_OK;
}
