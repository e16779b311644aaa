/* A PNG contact sheet of what a policy's ops do (`noisystudent augment preview`).
 *
 * Layout, one row per line, `count` images per row, each scaled up by `scale`
 * (nearest) and separated by a white gap:
 *   row 0                      the originals
 *   then, for each op the policy selected, one row per magnitude in
 *   `magnitudes`: that op alone at that magnitude (its own random draws come
 *   from Philox keyed by (seed, row, column), so a sheet is reproducible)
 *   then `policy_rows` rows     the whole policy (n ops at m), as training sees it
 * The PNG is gray for 1-channel images, RGB for 3-channel ones. It carries the row legend in a tEXt
 * chunk ("Description"), and is written atomically with libpng.
 */
#ifndef NS_AUGMENT_PREVIEW_H
#define NS_AUGMENT_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "augment/policy.h"

typedef struct ns_augment_preview_config {
    const uint8_t *images; /* count images of height*width*channels bytes, HWC; borrowed */
    int count;             /* images per row, >= 1 */
    int width, height, channels;
    const float *magnitudes; /* n_magnitudes values; borrowed */
    int n_magnitudes;
    int policy_rows; /* >= 0 */
    int scale;       /* 1..16 */
    uint64_t seed;
} ns_augment_preview_config;

/* Rows the sheet will have for this policy and config (for captions). */
int ns_augment_preview_rows(const ns_augment_policy *p, const ns_augment_preview_config *cfg);

/* Writes the sheet to `path`. Errors: NS_ERR_INVALID_ARG naming the config
 * field, NS_ERR_USAGE for a "none" policy (nothing to show), an op's failure,
 * NS_ERR_IO / NS_ERR_NOMEM from writing. */
ns_status ns_augment_preview_write(const ns_augment_policy *p, const ns_augment_preview_config *cfg,
                                   const char *path);

#endif
