#include "util/duration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/error.h"

ns_status ns_parse_duration(const char *text, const char *flag, double *seconds)
{
    double total = 0;
    const char *p = text;
    int parts = 0, last_unit = 4; /* units must come in the order h, m, s */
    while (p && *p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0)
            break;
        int unit;
        double scale;
        switch (*end) {
        case 'h': unit = 3, scale = 3600; end++; break;
        case 'm': unit = 2, scale = 60; end++; break;
        case 's': unit = 1, scale = 1; end++; break;
        case '\0': unit = 0, scale = 1; break; /* bare seconds, last only */
        default: unit = -1, scale = 0; break;
        }
        if (unit < 0 || unit >= last_unit || (unit == 0 && parts > 0))
            break;
        total += v * scale;
        last_unit = unit;
        parts++;
        p = end;
    }
    if (!p || *p || parts == 0 || !(total > 0) || !isfinite(total))
        return ns_fail(NS_ERR_USAGE, "%s %s: expected a duration like 900, 900s, 15m, 1.5h or 1h30m (more than 0)",
                       flag, text ? text : "(null)");
    *seconds = total;
    return NS_OK;
}

void ns_format_duration(double seconds, char *buf, unsigned len)
{
    long s = lround(seconds > 0 ? seconds : 0);
    long h = s / 3600, m = s % 3600 / 60, r = s % 60;
    if (h && r)
        snprintf(buf, len, "%ldh%02ldm%02lds", h, m, r);
    else if (h && m)
        snprintf(buf, len, "%ldh%02ldm", h, m);
    else if (h)
        snprintf(buf, len, "%ldh", h);
    else if (m && r)
        snprintf(buf, len, "%ldm%02lds", m, r);
    else if (m)
        snprintf(buf, len, "%ldm", m);
    else
        snprintf(buf, len, "%lds", r);
}
