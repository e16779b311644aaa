#include "selftrain/image_folder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/file_list.h"
#include "data/file_list_load.h"
#include "util/error.h"

ns_status ns_image_folder_load(const char *dir, int c, int h, int w, ns_dataset *out, uint32_t **ordinal,
                               size_t *skipped)
{
    memset(out, 0, sizeof *out);
    *ordinal = NULL;
    *skipped = 0;
    char what[600];
    snprintf(what, sizeof what, "folder:%s", dir);
    ns_file_list l;
    ns_status st = ns_flat_folder_scan(dir, &l);
    if (st != NS_OK)
        return st;
    /* The list index is the file's ordinal: the position in the sorted list. */
    st = ns_file_list_load(&l, c, h, w, what, out, ordinal, skipped);
    ns_file_list_free(&l);
    return st;
}
