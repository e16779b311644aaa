/* Training targets as rows of class probabilities (the loss is always against
 * soft targets). Hard labels become one-hot rows, optionally label-smoothed:
 * (1 - s) on the true class plus s/K everywhere. */
#ifndef NS_TRAIN_TARGETS_H
#define NS_TRAIN_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* out[i][.] for the images idx[0..n) of `labels`; a label outside [0, K) gives
 * an all-zero row (such a sample contributes no loss and no gradient). */
void ns_targets_one_hot(const int32_t *labels, const uint32_t *idx, size_t n, int classes, float smoothing,
                        float *out);

#endif
