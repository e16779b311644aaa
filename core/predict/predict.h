/* Prediction: class probabilities of individual images with a trained model,
 * in eval mode (batchnorm running statistics, no noise), the path of
 * `noisystudent predict`.
 *
 * The images arrive already decoded to the model's input (uint8 HWC, the
 * checkpoint's C x H x W); each is normalised with the checkpoint's mean/std
 * exactly as evaluation normalises a dataset (data/normalize.h), so an image's
 * probabilities here are bit-for-bit those `eval` computes for it on the same
 * backend. Test-time augmentation (tta) runs views of each image (flip: its
 * horizontal mirror) through the same forward and averages the softmax vectors,
 * as torchvision/Keras recipes do (probabilities, not logits, are averaged):
 * predict/tta.h, the same code the labeler runs. */
#ifndef NS_PREDICT_PREDICT_H
#define NS_PREDICT_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model.h"
#include "predict/tta.h"

typedef struct ns_predict_config {
    int batch;               /* images per forward (<= 0: 64) */
    const float *mean, *std; /* per-channel normalisation (the checkpoint's), c floats each */
    ns_tta tta;              /* NS_TTA_FLIP (1): average softmax(image) and softmax(mirror) */
} ns_predict_config;

/* Runs m on n images (hwc: n consecutive c*h*w uint8 HWC images of the
 * model's input shape). probs ([n][classes], caller-allocated) receives the
 * softmax probabilities (the mean over the views under a tta). logits,
 * when not NULL ([n][classes]), receives the logits of the images themselves
 * (never of the mirrors). Errors: the backend's, NS_ERR_NOMEM; probs and
 * logits are unspecified on error. */
ns_status ns_predict_images(ns_model *m, const ns_predict_config *cfg, const uint8_t *hwc, size_t n,
                            float *probs, float *logits);

/* The k most probable classes of p[0..classes) in decreasing probability
 * (ties: lower class index first) into idx[0..k). k is clamped to
 * [1, classes]; returns the number written. */
int ns_top_k(const float *p, int classes, int k, int *idx);

#endif
