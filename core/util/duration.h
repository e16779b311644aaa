/* Durations as people write them on a command line: "900", "900s", "15m",
 * "1.5h", "1h30m". */
#ifndef NS_UTIL_DURATION_H
#define NS_UTIL_DURATION_H

#include <noisystudent/status.h>

/* Parses text into seconds (> 0, finite). On error *seconds is unchanged and
 * the status is NS_ERR_USAGE with one line naming `flag` and the text. */
ns_status ns_parse_duration(const char *text, const char *flag, double *seconds);

/* "15m", "14m30s", "2h05m", "42s": the shortest of those forms, rounded to
 * the second. buf of 32 bytes is always enough. */
void ns_format_duration(double seconds, char *buf, unsigned len);

#endif
