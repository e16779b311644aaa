/* Per-channel normalisation: statistics over a subset, and the uint8 HWC ->
 * float CHW conversion every batch goes through.
 *
 * Units follow torchvision's Normalize after ToTensor: a pixel p becomes
 * (p/255 - mean[ch]) / std[ch], so mean and std are in [0,1] units.
 */
#ifndef NS_DATA_NORMALIZE_H
#define NS_DATA_NORMALIZE_H

#include "data/dataset.h"
#include "data/index_list.h"

/* Mean and (population) standard deviation of each channel of p/255 over the
 * images in `subset` (NULL = all images). mean and std have d->c entries.
 * Errors: NS_ERR_INVALID_ARG for an empty subset, an index out of range, or a
 * constant channel (std 0, which would divide by zero later). */
ns_status ns_normalize_stats(const ns_dataset *d, const ns_index_list *subset, float *mean, float *std);

/* Converts one h x w x c uint8 HWC image to float CHW:
 * out_chw[ch*h*w + y*w + x] = (hwc[(y*w + x)*c + ch]/255 - mean[ch]) / std[ch].
 * mean NULL means 0, std NULL means 1. out_chw holds c*h*w floats. */
void ns_image_to_chw(const uint8_t *hwc, int h, int w, int c, const float *mean, const float *std,
                     float *out_chw);

#endif
