/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * TFRecord framing, and TensorFlow's "masked" form of it. Implemented here
 * (a 256-entry table built once): zlib's crc32 is the other polynomial, and
 * Debian's libcrc32c is not a dependency worth adding for 20 lines. */
#ifndef NS_REPORT_TB_CRC32C_H
#define NS_REPORT_TB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes (initial value ~0, final xor ~0: "123456789" gives 0xE3069283). */
uint32_t ns_crc32c(const void *data, size_t n);

/* TFRecord's mask: rotate right by 15, add 0xa282ead8. A record stores the
 * masked CRC so that a CRC of data that itself holds CRCs stays useful. */
uint32_t ns_crc32c_mask(uint32_t crc);

#endif
