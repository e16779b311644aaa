#include "util/digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/sha2.h>

#include "util/error.h"

void ns_sha256_buffer(const void *data, size_t len, uint8_t out[NS_SHA256_BYTES])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    sha256_digest(&ctx, NS_SHA256_BYTES, out);
}

ns_status ns_sha256_file(const char *path, uint8_t out[NS_SHA256_BYTES])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ns_fail(errno == ENOENT ? NS_ERR_NOT_FOUND : NS_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sha256_update(&ctx, n, buf);
    const int failed = ferror(f);
    const int err = errno;
    fclose(f);
    if (failed)
        return ns_fail(NS_ERR_IO, "%s: read error: %s", path, strerror(err));
    sha256_digest(&ctx, NS_SHA256_BYTES, out);
    return NS_OK;
}

void ns_sha256_hex(const uint8_t d[NS_SHA256_BYTES], char hex[NS_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < NS_SHA256_BYTES; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * NS_SHA256_BYTES] = '\0';
}

int ns_sha256_is_zero(const uint8_t d[NS_SHA256_BYTES])
{
    for (int i = 0; i < NS_SHA256_BYTES; i++)
        if (d[i])
            return 0;
    return 1;
}
