/* noisystudent SDK — status codes and the error-message convention.
 *
 * Every call across the plugin ABI returns an ns_status. NS_OK is zero; anything
 * else is a failure whose detail the callee has written through the host's
 * error sink (ns_host_api.set_error, see plugin.h) as ONE line that names the
 * file, offset, flag or argument at fault and what was expected, e.g.
 *   "conv2d_forward: weight buffer holds 288 floats, expected 576 (k=16 c=4 r=3 s=3)"
 * A callee never prints, aborts or exits; the host decides what to show.
 */
#ifndef NS_STATUS_H
#define NS_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ns_status {
    NS_OK = 0,
    NS_ERR_INVALID_ARG = 1, /* a caller broke the contract: bad shape, NULL, out of range */
    NS_ERR_IO = 2,          /* open/read/write/fsync/rename failed */
    NS_ERR_FORMAT = 3,      /* a file or string is malformed, truncated or has the wrong magic */
    NS_ERR_NOMEM = 4,       /* host or device allocation failed */
    NS_ERR_UNSUPPORTED = 5, /* valid request this implementation cannot do (say so and why) */
    NS_ERR_DEVICE = 6,      /* the device/driver/runtime reported an error */
    NS_ERR_ABI = 7,         /* plugin ABI version or descriptor mismatch */
    NS_ERR_NOT_FOUND = 8,   /* a named plugin, file, op or key does not exist */
    NS_ERR_NUMERIC = 9,     /* NaN/Inf met where finite values are required */
    NS_ERR_USAGE = 10,      /* command-line usage error (CLI exits 2) */
    NS_ERR_INTERNAL = 11    /* a bug: an invariant of our own did not hold */
} ns_status;

/* Short stable name of a status ("invalid argument", ...). Never NULL. */
static inline const char *ns_status_name(ns_status s)
{
    switch (s) {
    case NS_OK: return "ok";
    case NS_ERR_INVALID_ARG: return "invalid argument";
    case NS_ERR_IO: return "i/o error";
    case NS_ERR_FORMAT: return "bad format";
    case NS_ERR_NOMEM: return "out of memory";
    case NS_ERR_UNSUPPORTED: return "unsupported";
    case NS_ERR_DEVICE: return "device error";
    case NS_ERR_ABI: return "ABI mismatch";
    case NS_ERR_NOT_FOUND: return "not found";
    case NS_ERR_NUMERIC: return "non-finite value";
    case NS_ERR_USAGE: return "usage error";
    case NS_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

#ifdef __cplusplus
}
#endif
#endif
