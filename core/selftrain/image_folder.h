/* An unlabeled image folder as a dataset: every regular file in DIR (not
 * recursive) named *.png, *.jpg or *.jpeg (any case), in byte order of the
 * names, decoded and resized to the model's input (data/image_load.h).
 *
 * A file's ordinal is its position in that sorted list, so the ordinals of the
 * files that load stay the same whichever others fail. A file that does not
 * decode is reported on stderr by path (ns_log level 0) and skipped. */
#ifndef NS_SELFTRAIN_IMAGE_FOLDER_H
#define NS_SELFTRAIN_IMAGE_FOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

/* Loads the images of `dir` as h x w x c (c = 1 or 3) into *out (zeroed first,
 * every label -1; free with ns_dataset_free). *ordinal (malloc'd, out->n
 * entries, caller frees) maps dataset index -> file ordinal; *skipped counts
 * the files that were reported and skipped.
 * Errors: NS_ERR_IO / NS_ERR_NOT_FOUND when dir cannot be listed,
 * NS_ERR_NOT_FOUND when it holds no image file, NS_ERR_FORMAT when none of
 * them decodes, NS_ERR_NOMEM. On error *out is empty and *ordinal NULL. */
ns_status ns_image_folder_load(const char *dir, int c, int h, int w, ns_dataset *out, uint32_t **ordinal,
                               size_t *skipped);

#endif
