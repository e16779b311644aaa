/* The few protocol-buffer wire encodings TensorBoard's Event messages need,
 * written by hand: no Debian package ships TensorBoard's event.proto or
 * summary.proto (checked: no such .proto under /usr), and the messages used
 * are five fields deep at most. Encodings (protobuf "wire format"):
 *   tag      varint of (field << 3 | wire type)
 *   varint   7 bits a byte, low group first, high bit = more follows (wire type 0)
 *   fixed64  8 bytes little-endian: double (wire type 1)
 *   bytes    varint length then the bytes: strings, bytes, nested messages (wire type 2)
 *   fixed32  4 bytes little-endian: float (wire type 5)
 *
 * An ns_pb is a growing buffer; an allocation failure is remembered in
 * `failed` and every later write is a no-op, so a caller checks once at the
 * end (ns_pb_status). The caller owns `data` and frees it with ns_pb_free. */
#ifndef NS_REPORT_TB_PROTO_H
#define NS_REPORT_TB_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "noisystudent/status.h"

typedef struct ns_pb {
    uint8_t *data;
    size_t len, cap;
    int failed;
} ns_pb;

enum { NS_PB_VARINT = 0, NS_PB_FIXED64 = 1, NS_PB_BYTES = 2, NS_PB_FIXED32 = 5 };

void ns_pb_free(ns_pb *b);
/* NS_OK, or NS_ERR_NOMEM naming `what` when a write ran out of memory. */
ns_status ns_pb_status(const ns_pb *b, const char *what);

void ns_pb_raw(ns_pb *b, const void *p, size_t n);
void ns_pb_varint(ns_pb *b, uint64_t v);
void ns_pb_tag(ns_pb *b, int field, int wire_type);
/* int32/int64/enum fields: negative values as 10-byte two's complement, as protobuf does. */
void ns_pb_int(ns_pb *b, int field, int64_t v);
void ns_pb_double(ns_pb *b, int field, double v);
void ns_pb_float(ns_pb *b, int field, float v);
void ns_pb_bytes(ns_pb *b, int field, const void *p, size_t n);
void ns_pb_string(ns_pb *b, int field, const char *s);
/* A nested message: `sub`'s bytes as a length-delimited field (sub is not freed). */
void ns_pb_message(ns_pb *b, int field, const ns_pb *sub);

#endif
