/* A growing text buffer for writing HTML, with the escaping every string from
 * a run (class names, paths, configuration values) goes through.
 *
 * Writes never fail one by one: a failed allocation sets `oom`, later writes
 * do nothing, and the caller checks ns_html_status() once at the end. The
 * buffer owns its text (ns_html_free). */
#ifndef NS_REPORT_HTML_H
#define NS_REPORT_HTML_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

typedef struct ns_html {
    char *text; /* NUL-terminated, owned */
    size_t len, cap;
    int oom;
} ns_html;

void ns_html_free(ns_html *h); /* zeroes; safe twice */

/* Appends s as is (markup the caller wrote). */
void ns_html_raw(ns_html *h, const char *s);

/* Appends printf output as is: only for numbers and the caller's own markup,
 * never for a string from a file (use ns_html_text). */
void ns_html_printf(ns_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s escaped for an HTML text node or a quoted attribute value:
 * & < > " ' become entities; control characters other than tab and newline
 * become U+FFFD, so nothing in s can open a tag, end an attribute or start a
 * script. NULL appends nothing. */
void ns_html_text(ns_html *h, const char *s);

/* Appends the base64 encoding (RFC 4648, with padding) of n bytes. */
void ns_html_base64(ns_html *h, const uint8_t *data, size_t n);

/* NS_OK, or NS_ERR_NOMEM (with the message set) after a failed allocation. */
ns_status ns_html_status(const ns_html *h, const char *what);

#endif
