#include "util/csv.h"

#include <string.h>

void ns_csv_cell(FILE *f, const char *s, int always_quote)
{
    if (!always_quote && !strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
