/* One CSV cell (RFC 4180): quoted with inner quotes doubled. */
#ifndef NS_UTIL_CSV_H
#define NS_UTIL_CSV_H

#include <stdio.h>

/* Writes s as a cell to f. always_quote = 0 quotes only a cell that needs it
 * (a comma, quote, CR or LF inside); 1 quotes every cell. */
void ns_csv_cell(FILE *f, const char *s, int always_quote);

#endif
