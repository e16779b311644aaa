/* Helpers shared by the augment suites: images with known pixels, and an op
 * set opened through the real plugin path. */
#ifndef NS_AUGMENT_TEST_UTIL_H
#define NS_AUGMENT_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <noisystudent/augment.h>

#include "augment/opset.h"
#include "util/error.h"

/* Pixel (x, y, ch) of the position-coded test image: every pixel of a 16x16
 * image differs, so an output pixel says exactly where it came from. */
static inline uint8_t coded_px(int x, int y, int ch) { return (uint8_t)((y * 16 + x) ^ (ch * 0x55)); }

static inline void fill_coded(ns_image *img)
{
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < img->channels; c++)
                img->data[(y * img->width + x) * img->channels + c] = coded_px(x, y, c);
}

static inline void fill_random(ns_image *img, uint64_t seed)
{
    ns_rng r = ns_rng_make(seed, 7);
    size_t n = (size_t)img->width * img->height * img->channels;
    for (size_t i = 0; i < n; i++)
        img->data[i] = (uint8_t)ns_rng_u32(&r);
}

static inline ns_augment_opset *open_set_or_fail(const char *name)
{
    ns_augment_opset *s = NULL;
    ns_status st = ns_augment_opset_open(name, NULL, &s);
    if (st != NS_OK)
        fail_msg("opening op set %s: %s", name, ns_last_error());
    return s;
}

static inline size_t op_index_or_fail(const ns_augment_opset *s, const char *op)
{
    long i = ns_augment_opset_find(s, op);
    if (i < 0)
        fail_msg("op set %s has no op %s", ns_augment_opset_name(s), op);
    return (size_t)i;
}

#endif
