/* noisystudent SDK — augmentation op sets (RandAugment and friends).
 *
 * An op set is a list of named image ops. The RandAugment POLICY (how many ops
 * per image, which magnitude, per-op probability, op subset) lives in the host,
 * so every op set gets it for free; an op only transforms one image at the
 * magnitude it is given.
 *
 * Images are 8-bit, interleaved HWC, 1 channel (gray) or 3 channels (RGB), any
 * size >= 1x1. Colour ops on a gray image act on its single channel as the
 * luminance (PIL's rule for mode "L"): Color (saturation) is the identity,
 * Contrast/Brightness/Sharpness/AutoContrast/Equalize work on that channel.
 *
 * Magnitude: `magnitude` is on the RandAugment scale, where 10 is the nominal
 * maximum and values above it are allowed and NOT clamped (the paper's M=27 is
 * 2.7x the nominal range). An op set defines how it maps magnitude to its own
 * parameters (randaugment: level L = magnitude/10; seed: a 10-step table) and
 * documents it per op. Fill value for pixels entering from outside: 128.
 *
 * Ownership: the host owns `img` and `scratch`. An op transforms img->data in
 * place; it may use `scratch` (exactly width*height*channels bytes, contents
 * undefined) as temporary storage; it must not keep either pointer after it
 * returns, must not change the image's shape, and must not allocate per call
 * unless unavoidable (ops run millions of times).
 *
 * Thread-safety: apply() runs concurrently on many loader threads with the same
 * ctx; ctx must be read-only after create(). All randomness comes from `rng`
 * (rng.h), a generator private to this image: never use rand() or global state,
 * so that images do not depend on the thread count.
 *
 * Errors: return NS_OK, or a status with a message set through host->set_error
 * (the host stops the run and shows it).
 */
#ifndef NS_AUGMENT_H
#define NS_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "plugin.h"
#include "rng.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_AUGMENT_FILL 128

typedef struct ns_image {
    uint8_t *data; /* height*width*channels bytes, row-major HWC, no padding */
    int width;
    int height;
    int channels; /* 1 or 3 */
} ns_image;

typedef ns_status (*ns_augment_apply_fn)(void *ctx, ns_image *img, uint8_t *scratch,
                                         float magnitude, ns_rng *rng);

typedef struct ns_augment_op {
    const char *name;        /* unique within the set, 1-32 of a-z 0-9 _ - (the host refuses
                                another name): "rotate", "shear_x" */
    const char *description; /* one line: what it does and how magnitude maps */
    ns_augment_apply_fn apply;
} ns_augment_op;

typedef struct ns_augment_api {
    uint32_t struct_size; /* sizeof(ns_augment_api) as the plugin saw it */
    /* Creates a context from "key=value,..." options the policy did not consume
     * (NULL or "" when none). NULL slot: ctx is NULL and options must be empty. */
    ns_status (*create)(const ns_host_api *host, const char *options, void **ctx);
    /* NULL slot: nothing to free. */
    void (*destroy)(void *ctx);
    size_t n_ops;
    const ns_augment_op *ops; /* n_ops entries, static */
} ns_augment_api;

#ifdef __cplusplus
}
#endif
#endif
