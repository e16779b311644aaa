#include "predict/tta.h"

#include <stdlib.h>
#include <string.h>

#include "data/light_augment.h"
#include "data/normalize.h"
#include "util/error.h"

/* flip+crops' shifts: ns_pad_crop offsets (dy, dx) in [0, 2 * SHIFT] with
 * pad SHIFT; (SHIFT, SHIFT) would be the image itself. */
#define SHIFT 2
static const int crop_offsets[4][2] = {
    {SHIFT, 0},         /* out(y, x) = in(y, x - 2): content moves right */
    {SHIFT, 2 * SHIFT}, /* left */
    {0, SHIFT},         /* down */
    {2 * SHIFT, SHIFT}, /* up */
};

static const char *const names[] = {"none", "flip", "flip+crops"};

ns_status ns_tta_parse(const char *spec, const char *what, ns_tta *out)
{
    for (int t = 0; spec && t < (int)(sizeof names / sizeof *names); t++)
        if (strcmp(spec, names[t]) == 0) {
            *out = (ns_tta)t;
            return NS_OK;
        }
    return ns_fail(NS_ERR_USAGE, "%s %s: expected " NS_TTA_SPECS, what, spec ? spec : "(none given)");
}

const char *ns_tta_name(ns_tta t)
{
    return (int)t >= 0 && (int)t < (int)(sizeof names / sizeof *names) ? names[t] : NULL;
}

int ns_tta_views(ns_tta t)
{
    switch (t) {
    case NS_TTA_NONE:
        return 1;
    case NS_TTA_FLIP:
        return 2;
    case NS_TTA_FLIP_CROPS:
        return 2 + (int)(sizeof crop_offsets / sizeof *crop_offsets);
    }
    return 0;
}

void ns_image_flip_horizontal(const uint8_t *src, int h, int w, int c, uint8_t *dst)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(dst + ((size_t)y * w + x) * c, src + ((size_t)y * w + (w - 1 - x)) * c, (size_t)c);
}

void ns_tta_view(ns_tta t, int v, const uint8_t *src, int h, int w, int c, uint8_t *dst, uint8_t *scratch)
{
    (void)t; /* the views are a common prefix: flip+crops extends flip */
    if (v == 1) {
        ns_image_flip_horizontal(src, h, w, c, dst);
        return;
    }
    memcpy(dst, src, (size_t)h * w * c);
    if (v >= 2) {
        ns_image im = {dst, w, h, c};
        ns_pad_crop(&im, scratch, SHIFT, 0, crop_offsets[v - 2][0], crop_offsets[v - 2][1]);
    }
}

void ns_tta_runner_free(ns_tta_runner *r)
{
    if (r->m) {
        ns_backend *be = ns_model_backend(r->m);
        be->api->buf_free(be->ctx, r->xbuf);
        be->api->buf_free(be->ctx, r->pbuf);
    }
    free(r->x);
    free(r->view_probs);
    free(r->view);
    free(r->scratch);
    memset(r, 0, sizeof *r);
}

ns_status ns_tta_runner_init(ns_tta_runner *r, ns_model *m, ns_tta t, int batch, const float *mean,
                             const float *std)
{
    memset(r, 0, sizeof *r);
    if (ns_tta_views(t) < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "test-time augmentation %d: unknown", (int)t);
    r->m = m;
    r->tta = t;
    r->batch = batch > 0 ? batch : 64;
    ns_model_input(m, &r->c, &r->h, &r->w);
    r->classes = ns_model_classes(m);
    r->img = (size_t)r->c * r->h * r->w;
    r->mean = mean;
    r->std = std;
    const int multi = ns_tta_views(t) > 1; /* views beyond the image itself */
    r->x = malloc((size_t)r->batch * r->img * sizeof *r->x);
    if (multi) {
        r->view_probs = malloc((size_t)r->batch * r->classes * sizeof *r->view_probs);
        r->view = malloc(r->img);
        r->scratch = malloc(r->img);
    }
    ns_status st = NS_OK;
    if (!r->x || (multi && (!r->view_probs || !r->view || !r->scratch)))
        st = ns_fail(NS_ERR_NOMEM, "inference: out of memory for a batch of %d", r->batch);
    ns_backend *be = ns_model_backend(m);
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, (size_t)r->batch * r->img, &r->xbuf);
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, (size_t)r->batch * r->classes, &r->pbuf);
    if (st != NS_OK)
        ns_tta_runner_free(r);
    return st;
}

/* One forward of the n normalised images in r->x: softmax into probs and
 * (optionally) the logits downloaded. */
static ns_status forward(ns_tta_runner *r, int n, float *probs, float *logits)
{
    ns_backend *be = ns_model_backend(r->m);
    const ns_buf *out = NULL;
    ns_status st = be->api->upload(be->ctx, r->xbuf, 0, r->x, (size_t)n * r->img);
    if (st == NS_OK)
        st = ns_model_forward(r->m, r->xbuf, n, 0, NULL, 0, 0, &out);
    if (st == NS_OK && logits)
        st = be->api->download(be->ctx, out, 0, logits, (size_t)n * r->classes);
    if (st == NS_OK)
        st = be->api->softmax(be->ctx, n, r->classes, out, r->pbuf);
    if (st == NS_OK)
        st = be->api->download(be->ctx, r->pbuf, 0, probs, (size_t)n * r->classes);
    return st;
}

ns_status ns_tta_runner_probs(ns_tta_runner *r, const uint8_t *const *images, int n, float *probs, float *logits)
{
    if (n < 0 || n > r->batch)
        return ns_fail(NS_ERR_INTERNAL, "inference: %d images for a batch of %d", n, r->batch);
    const int views = ns_tta_views(r->tta);
    const size_t row = (size_t)n * r->classes;
    ns_status st = NS_OK;
    for (int v = 0; st == NS_OK && v < views; v++) {
        for (int i = 0; i < n; i++) {
            const uint8_t *src = images[i];
            if (v > 0) {
                ns_tta_view(r->tta, v, images[i], r->h, r->w, r->c, r->view, r->scratch);
                src = r->view;
            }
            ns_image_to_chw(src, r->h, r->w, r->c, r->mean, r->std, r->x + (size_t)i * r->img);
        }
        st = forward(r, n, v == 0 ? probs : r->view_probs, v == 0 ? logits : NULL);
        for (size_t j = 0; st == NS_OK && v > 0 && j < row; j++)
            probs[j] += r->view_probs[j];
    }
    /* Sum, then one division: for two views exactly 0.5f * (p + q). */
    for (size_t j = 0; st == NS_OK && views > 1 && j < row; j++)
        probs[j] /= (float)views;
    return st;
}
