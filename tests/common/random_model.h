/* A freshly initialised model with no identity batchnorm, saved as a
 * model.safetensors: what the predict and ONNX export suites check against.
 * Conv weights are scaled by 0.01 and the batchnorm running statistics
 * calibrated on random inputs (so that every batchnorm sees small variances,
 * where epsilon 1e-5 matters), then the gammas drawn in [0.5, 1.5) and the
 * betas in [-0.5, 0.5): a wrong epsilon, a missing shift or a lost
 * normalisation changes the logits. */
#ifndef NS_TEST_RANDOM_MODEL_H
#define NS_TEST_RANDOM_MODEL_H

#include <stdint.h>

#include "data/class_names.h"
#include "plugin/backend_loader.h"

/* Builds `spec` for c x h x w input and `classes` outputs on be, randomises
 * it from `seed`, gives it `names` (NULL: none) and a per-channel
 * normalisation that differs between channels, and saves it to `path`.
 * Fails the calling cmocka test on any error. */
void ns_test_random_model(ns_backend *be, const char *spec, int c, int h, int w, int classes,
                          const ns_class_names *names, uint64_t seed, const char *path);

/* As ns_test_random_model, and the model's inference drop-path set to
 * per-batch mode with last-block survival pl (each residual branch scaled by
 * its survival probability in eval mode), which the checkpoint stores. */
void ns_test_random_model_batch_drop_path(ns_backend *be, const char *spec, int c, int h, int w, int classes,
                                          float pl, uint64_t seed, const char *path);

#endif
