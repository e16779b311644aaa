#include "predict/predict.h"

#include <stdlib.h>
#include <string.h>

#include "data/normalize.h"
#include "util/error.h"

void ns_image_flip_horizontal(const uint8_t *src, int h, int w, int c, uint8_t *dst)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(dst + ((size_t)y * w + x) * c, src + ((size_t)y * w + (w - 1 - x)) * c, (size_t)c);
}

int ns_top_k(const float *p, int classes, int k, int *idx)
{
    if (k > classes)
        k = classes;
    if (k < 1)
        k = 1;
    /* Selection by repeated scan: k and classes are small (a CLI's top-5 of
     * at most a few thousand classes), and a strict ">" keeps the lower
     * index first on ties without a stable sort. */
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int j = 0; j < classes; j++) {
            int taken = 0;
            for (int q = 0; q < r && !taken; q++)
                taken = idx[q] == j;
            if (!taken && (best < 0 || p[j] > p[best]))
                best = j;
        }
        idx[r] = best;
    }
    return k;
}

/* One forward of n normalised images already in `x`: softmax into probs and
 * (optionally) logits downloaded. */
static ns_status forward(ns_model *m, ns_buf *xbuf, ns_buf *pbuf, const float *x, int n, size_t img,
                         float *probs, float *logits)
{
    ns_backend *be = ns_model_backend(m);
    const int classes = ns_model_classes(m);
    const ns_buf *out = NULL;
    ns_status st = be->api->upload(be->ctx, xbuf, 0, x, (size_t)n * img);
    if (st == NS_OK)
        st = ns_model_forward(m, xbuf, n, 0, NULL, 0, 0, &out);
    if (st == NS_OK && logits)
        st = be->api->download(be->ctx, out, 0, logits, (size_t)n * classes);
    if (st == NS_OK)
        st = be->api->softmax(be->ctx, n, classes, out, pbuf);
    if (st == NS_OK)
        st = be->api->download(be->ctx, pbuf, 0, probs, (size_t)n * classes);
    return st;
}

ns_status ns_predict_images(ns_model *m, const ns_predict_config *cfg, const uint8_t *hwc, size_t n,
                            float *probs, float *logits)
{
    int c, h, w;
    ns_model_input(m, &c, &h, &w);
    const int classes = ns_model_classes(m);
    const int batch = cfg->batch > 0 ? cfg->batch : 64;
    const size_t img = (size_t)c * h * w;
    ns_backend *be = ns_model_backend(m);

    float *x = malloc((size_t)batch * img * sizeof *x);
    float *mirror_probs = cfg->flip_tta ? malloc((size_t)batch * classes * sizeof *mirror_probs) : NULL;
    uint8_t *mirror = cfg->flip_tta ? malloc(img) : NULL;
    ns_buf *xbuf = NULL, *pbuf = NULL;
    ns_status st = NS_OK;
    if (!x || (cfg->flip_tta && (!mirror_probs || !mirror)))
        st = ns_fail(NS_ERR_NOMEM, "predict: out of memory for a batch of %d", batch);
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, (size_t)batch * img, &xbuf);
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, (size_t)batch * classes, &pbuf);

    for (size_t start = 0; st == NS_OK && start < n; start += (size_t)batch) {
        const int nb = (int)(n - start < (size_t)batch ? n - start : (size_t)batch);
        float *p = probs + start * classes;
        for (int i = 0; i < nb; i++)
            ns_image_to_chw(hwc + (start + i) * img, h, w, c, cfg->mean, cfg->std, x + (size_t)i * img);
        st = forward(m, xbuf, pbuf, x, nb, img, p, logits ? logits + start * classes : NULL);
        if (st != NS_OK || !cfg->flip_tta)
            continue;
        for (int i = 0; i < nb; i++) {
            ns_image_flip_horizontal(hwc + (start + i) * img, h, w, c, mirror);
            ns_image_to_chw(mirror, h, w, c, cfg->mean, cfg->std, x + (size_t)i * img);
        }
        st = forward(m, xbuf, pbuf, x, nb, img, mirror_probs, NULL);
        for (size_t j = 0; st == NS_OK && j < (size_t)nb * classes; j++)
            p[j] = 0.5f * (p[j] + mirror_probs[j]);
    }
    be->api->buf_free(be->ctx, xbuf);
    be->api->buf_free(be->ctx, pbuf);
    free(x);
    free(mirror_probs);
    free(mirror);
    return st;
}
