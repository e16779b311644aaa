#include "selftrain/source_images.h"

#include <stdlib.h>
#include <string.h>

#include "data/source.h"
#include "selftrain/image_folder.h"
#include "util/error.h"

/* Spreads the decoded images of a folder to their ordinals. */
static ns_status by_ordinal(const ns_dataset *loaded, const uint32_t *ordinal, ns_dataset *out)
{
    const size_t n = loaded->n ? (size_t)ordinal[loaded->n - 1] + 1 : 0; /* ordinals ascend */
    NS_TRY(ns_dataset_alloc(out, n, loaded->h, loaded->w, loaded->c));
    for (size_t i = 0; i < loaded->n; i++)
        memcpy(ns_dataset_image(out, ordinal[i]), ns_dataset_image(loaded, i), ns_dataset_image_bytes(loaded));
    memcpy(out->source, loaded->source, sizeof out->source);
    return NS_OK;
}

ns_status ns_source_images_open(const char *src, const char *pool_data, const ns_data_options *o, ns_dataset *out)
{
    memset(out, 0, sizeof *out);
    ns_status st;
    if (strcmp(src, "pool") == 0) {
        if (!pool_data || !*pool_data)
            return ns_fail(NS_ERR_INVALID_ARG, "pseudo-label source \"pool\": the dataset it was withheld from "
                                               "is unknown (no data spec given)");
        st = ns_dataset_open_opts(pool_data, 1, o, out);
    } else if (strncmp(src, "folder:", 7) == 0) {
        ns_dataset loaded;
        uint32_t *ordinal = NULL;
        size_t skipped = 0;
        st = ns_image_folder_load(src + 7, o->c, o->h, o->w, &loaded, &ordinal, &skipped);
        if (st == NS_OK)
            st = by_ordinal(&loaded, ordinal, out);
        free(ordinal);
        ns_dataset_free(&loaded);
    } else {
        st = ns_dataset_open_opts(src, 1, o, out);
    }
    if (st != NS_OK)
        return st;
    for (size_t i = 0; i < out->n; i++)
        out->labels[i] = -1;
    out->num_classes = 0;
    return NS_OK;
}
