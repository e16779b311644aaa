#include "train/targets.h"

#include <string.h>

void ns_targets_one_hot(const int32_t *labels, const uint32_t *idx, size_t n, int classes, float smoothing,
                        float *out)
{
    for (size_t i = 0; i < n; i++) {
        float *row = out + i * (size_t)classes;
        int32_t y = labels[idx[i]];
        if (y < 0 || y >= classes) {
            memset(row, 0, (size_t)classes * sizeof *row);
            continue;
        }
        for (int k = 0; k < classes; k++)
            row[k] = smoothing / (float)classes;
        row[y] += 1.0f - smoothing;
    }
}
