/* Small helpers shared by the report suites: files, counting in HTML text. */
#ifndef NS_REPORT_TEST_UTIL_H
#define NS_REPORT_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int rt_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(text, 1, strlen(text), f);
    return fclose(f) == 0 && n == strlen(text) ? 0 : -1;
}

static inline char *rt_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = malloc((size_t)n + 1);
    if (t && fread(t, 1, (size_t)n, f) != (size_t)n) {
        free(t);
        t = NULL;
    }
    if (t)
        t[n] = 0;
    fclose(f);
    return t;
}

/* Occurrences of needle in [s, end) (end NULL: to the end of s). */
static inline int rt_count(const char *s, const char *end, const char *needle)
{
    int n = 0;
    size_t l = strlen(needle);
    for (const char *p = strstr(s, needle); p && (!end || p + l <= end); p = strstr(p + l, needle))
        n++;
    return n;
}

/* The integer value of attribute `attr` (e.g. "data-points") of the element
 * whose attribute `key` is "value" (e.g. data-chart="run-loss"); -1 when the
 * element is absent. *body (may be NULL) gets where the element's text starts
 * and *end where `closing` (e.g. "</svg>") follows it. */
static inline long rt_attr(const char *html, const char *key, const char *value, const char *attr, const char **body,
                           const char **end, const char *closing)
{
    char want[256];
    snprintf(want, sizeof want, "%s=\"%s\"", key, value);
    const char *p = strstr(html, want);
    if (!p)
        return -1;
    const char *tag_end = strchr(p, '>');
    char a[128];
    snprintf(a, sizeof a, "%s=\"", attr);
    const char *v = strstr(p, a);
    if (!v || !tag_end || v > tag_end)
        return -1;
    if (body)
        *body = tag_end;
    if (end)
        *end = closing ? strstr(tag_end, closing) : NULL;
    return strtol(v + strlen(a), NULL, 10);
}

#endif
