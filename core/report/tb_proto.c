#include "report/tb_proto.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void ns_pb_free(ns_pb *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

ns_status ns_pb_status(const ns_pb *b, const char *what)
{
    return b->failed ? ns_fail(NS_ERR_NOMEM, "%s: out of memory encoding a protocol buffer", what) : NS_OK;
}

void ns_pb_raw(ns_pb *b, const void *p, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void ns_pb_varint(ns_pb *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    ns_pb_raw(b, tmp, n);
}

void ns_pb_tag(ns_pb *b, int field, int wire_type)
{
    ns_pb_varint(b, ((uint64_t)(uint32_t)field << 3) | (uint64_t)wire_type);
}

void ns_pb_int(ns_pb *b, int field, int64_t v)
{
    ns_pb_tag(b, field, NS_PB_VARINT);
    ns_pb_varint(b, (uint64_t)v);
}

static void put_le(ns_pb *b, uint64_t v, int n)
{
    uint8_t tmp[8];
    for (int i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    ns_pb_raw(b, tmp, (size_t)n);
}

void ns_pb_double(ns_pb *b, int field, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    ns_pb_tag(b, field, NS_PB_FIXED64);
    put_le(b, u, 8);
}

void ns_pb_float(ns_pb *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    ns_pb_tag(b, field, NS_PB_FIXED32);
    put_le(b, u, 4);
}

void ns_pb_bytes(ns_pb *b, int field, const void *p, size_t n)
{
    ns_pb_tag(b, field, NS_PB_BYTES);
    ns_pb_varint(b, n);
    ns_pb_raw(b, p, n);
}

void ns_pb_string(ns_pb *b, int field, const char *s)
{
    ns_pb_bytes(b, field, s, strlen(s));
}

void ns_pb_message(ns_pb *b, int field, const ns_pb *sub)
{
    if (sub->failed)
        b->failed = 1;
    ns_pb_bytes(b, field, sub->data, sub->len);
}
