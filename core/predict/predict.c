#include "predict/predict.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

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

ns_status ns_predict_images(ns_model *m, const ns_predict_config *cfg, const uint8_t *hwc, size_t n,
                            float *probs, float *logits)
{
    ns_tta_runner r;
    NS_TRY(ns_tta_runner_init(&r, m, cfg->tta, cfg->batch, cfg->mean, cfg->std));
    const uint8_t **images = malloc((size_t)r.batch * sizeof *images);
    ns_status st = images ? NS_OK : ns_fail(NS_ERR_NOMEM, "predict: out of memory for a batch of %d", r.batch);
    for (size_t start = 0; st == NS_OK && start < n; start += (size_t)r.batch) {
        const int nb = (int)(n - start < (size_t)r.batch ? n - start : (size_t)r.batch);
        for (int i = 0; i < nb; i++)
            images[i] = hwc + (start + i) * r.img;
        st = ns_tta_runner_probs(&r, images, nb, probs + start * r.classes,
                                 logits ? logits + start * r.classes : NULL);
    }
    free(images);
    ns_tta_runner_free(&r);
    return st;
}
