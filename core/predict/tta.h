/* Test-time augmentation (TTA): a model's probabilities for an image taken as
 * the mean of its softmax outputs over a few fixed views of the image, all in
 * eval mode. One implementation serves `predict --tta`, the labeler
 * (`label --tta`, selftrain's label_tta) and ns_evaluate (ns_eval_config.tta).
 *
 * The views, in the order they are summed:
 *   none        the image itself (1 view; exactly today's single forward)
 *   flip        the image, its left-right mirror (2 views)
 *   flip+crops  the image, its mirror, and the image shifted by 2 pixels
 *               right, left, down and up (6 views). A shift is the training
 *               pad-crop at a fixed offset (data/light_augment.h ns_pad_crop,
 *               pad 2, fill 0): the pixels shifted in are 0, as the teacher saw
 *               them in training (pad 4, fill 0), so every view is one of its
 *               training crops.
 * The mean is over probabilities (softmax outputs), never logits: the
 * views' rows are summed in the order above and divided by the view count
 * (for flip, bit-for-bit 0.5 * (p + p_mirror)). */
#ifndef NS_PREDICT_TTA_H
#define NS_PREDICT_TTA_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/backend.h>

#include "nn/model.h"

typedef enum ns_tta {
    NS_TTA_NONE = 0,
    NS_TTA_FLIP = 1,
    NS_TTA_FLIP_CROPS = 2,
} ns_tta;

#define NS_TTA_MAX_VIEWS 6
/* The spellings ns_tta_parse takes, for help texts and error lines. */
#define NS_TTA_SPECS "none, flip or flip+crops"

/* "none", "flip" or "flip+crops" into *out. Anything else (NULL too) is
 * NS_ERR_USAGE with one line "<what> <spec>: expected none, flip or
 * flip+crops" (what: the flag or key, e.g. "label --tta"). */
ns_status ns_tta_parse(const char *spec, const char *what, ns_tta *out);

/* The spelling of t ("none" for an out-of-range value is never returned:
 * NULL then). Static storage. */
const char *ns_tta_name(ns_tta t);

/* How many views t averages (1, 2 or 6; 0 for an unknown value). */
int ns_tta_views(ns_tta t);

/* Writes view v (0 <= v < ns_tta_views(t)) of the h x w x c HWC image src into
 * dst (h*w*c bytes, dst != src); scratch holds h*w*c bytes. View 0 is src. */
void ns_tta_view(ns_tta t, int v, const uint8_t *src, int h, int w, int c, uint8_t *dst, uint8_t *scratch);

/* Mirrors one h x w x c HWC image left-right into dst (dst != src). */
void ns_image_flip_horizontal(const uint8_t *src, int h, int w, int c, uint8_t *dst);

/* Batched inference under a TTA: owns the host and backend buffers of one
 * batch. Not thread-safe; one per model at a time. */
typedef struct ns_tta_runner {
    ns_model *m;
    ns_tta tta;
    int batch, c, h, w, classes;
    size_t img;
    const float *mean, *std; /* borrowed: c floats each */
    float *x;                /* batch normalised CHW images */
    float *view_probs;       /* batch x classes, views after the first */
    uint8_t *view, *scratch; /* one HWC image each */
    ns_buf *xbuf, *pbuf;
} ns_tta_runner;

/* Prepares a runner for batches of up to `batch` images (<= 0: 64) of m's
 * input shape, normalised with mean/std (borrowed, must outlive the runner).
 * Errors: NS_ERR_INVALID_ARG for an unknown t, NS_ERR_NOMEM, the backend's;
 * on error the runner is empty (ns_tta_runner_free is still safe). */
ns_status ns_tta_runner_init(ns_tta_runner *r, ns_model *m, ns_tta t, int batch, const float *mean,
                             const float *std);

/* Probabilities of n <= batch images (images[i]: one HWC uint8 image of the
 * model's input shape each) into probs ([n][classes]): the mean of the
 * views' softmax rows. logits, when not NULL ([n][classes]), receives the
 * logits of the images themselves (view 0). Errors: the backend's; probs and
 * logits are unspecified on error. */
ns_status ns_tta_runner_probs(ns_tta_runner *r, const uint8_t *const *images, int n, float *probs, float *logits);

/* Frees what init allocated and zeroes *r. Safe on a zeroed or failed runner. */
void ns_tta_runner_free(ns_tta_runner *r);

#endif
