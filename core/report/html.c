#include "report/html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void ns_html_free(ns_html *h)
{
    free(h->text);
    memset(h, 0, sizeof *h);
}

static int reserve(ns_html *h, size_t more)
{
    if (h->oom)
        return 0;
    if (h->len + more + 1 <= h->cap)
        return 1;
    size_t cap = h->cap ? h->cap : 4096;
    while (cap < h->len + more + 1)
        cap *= 2;
    char *t = realloc(h->text, cap);
    if (!t) {
        h->oom = 1;
        return 0;
    }
    h->text = t;
    h->cap = cap;
    return 1;
}

static void append(ns_html *h, const char *s, size_t n)
{
    if (!reserve(h, n))
        return;
    memcpy(h->text + h->len, s, n);
    h->len += n;
    h->text[h->len] = 0;
}

void ns_html_raw(ns_html *h, const char *s)
{
    append(h, s, strlen(s));
}

void ns_html_printf(ns_html *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(h, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(h->text + h->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    h->len += (size_t)n;
}

void ns_html_text(ns_html *h, const char *s)
{
    if (!s)
        return;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': append(h, "&amp;", 5); break;
        case '<': append(h, "&lt;", 4); break;
        case '>': append(h, "&gt;", 4); break;
        case '"': append(h, "&quot;", 6); break;
        case '\'': append(h, "&#39;", 5); break;
        default:
            if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
                append(h, "\xef\xbf\xbd", 3);
            else
                append(h, (const char *)&ch, 1);
        }
    }
}

void ns_html_base64(ns_html *h, const uint8_t *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!reserve(h, (n + 2) / 3 * 4))
        return;
    char *o = h->text + h->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3, o += 4) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        o[0] = tab[v >> 18], o[1] = tab[(v >> 12) & 63], o[2] = tab[(v >> 6) & 63], o[3] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        o[0] = tab[v >> 18], o[1] = tab[(v >> 12) & 63];
        o[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    h->len = (size_t)(o - h->text);
    h->text[h->len] = 0;
}

ns_status ns_html_status(const ns_html *h, const char *what)
{
    return h->oom ? ns_fail(NS_ERR_NOMEM, "%s: out of memory", what) : NS_OK;
}
