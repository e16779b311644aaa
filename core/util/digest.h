/* SHA-256 digests (Nettle's implementation) of files and buffers: what the
 * self-training stages record about their inputs, so that a stage is reused
 * only when what it was made from is still what the run has. */
#ifndef NS_UTIL_DIGEST_H
#define NS_UTIL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

#define NS_SHA256_BYTES 32
#define NS_SHA256_HEX 65 /* 64 hex digits and the terminator */

void ns_sha256_buffer(const void *data, size_t len, uint8_t out[NS_SHA256_BYTES]);

/* Streams the file. A missing file is NS_ERR_NOT_FOUND, another failure to
 * open or read it NS_ERR_IO; either names the path. */
ns_status ns_sha256_file(const char *path, uint8_t out[NS_SHA256_BYTES]);

/* Lower-case hex of a digest into hex[NS_SHA256_HEX]. */
void ns_sha256_hex(const uint8_t d[NS_SHA256_BYTES], char hex[NS_SHA256_HEX]);

/* 1 when every byte is zero: the file formats' "unknown" value. */
int ns_sha256_is_zero(const uint8_t d[NS_SHA256_BYTES]);

#endif
