/* The images behind a label file's source ids, for the student's trainer:
 * a dataset whose image i is the image of source id i, whatever the source. */
#ifndef NS_SELFTRAIN_SOURCE_IMAGES_H
#define NS_SELFTRAIN_SOURCE_IMAGES_H

#include "data/dataset.h"
#include "data/source.h"

/* Opens the images of `src` (a label set's source: "pool", a dataset spec or
 * "folder:DIR", labeler.h) as h x w x c into *out (zeroed first; free with
 * ns_dataset_free), indexed by source id:
 *   "pool"       the train split of `pool_data` (the dataset spec the teacher's
 *                labeled split came from; its run configuration's "data");
 *   a spec       its train split;
 *   folder:DIR   the folder decoded again, image i = file ordinal i; a file
 *                that does not decode leaves its slot black (no label file
 *                written from that folder refers to it) and is reported and
 *                skipped as when labeling.
 * Every label is set to -1: the pool's true labels must never reach training.
 * Binary formats keep their own size and channels; folders, class-folder
 * trees and the pool of one are decoded to o's size and split with o's
 * test fraction and seed (the labeled run's, ns_train_config_data_options). Errors: as ns_dataset_open and
 * ns_image_folder_load; NS_ERR_INVALID_ARG when src is "pool" and pool_data
 * is NULL or empty. */
ns_status ns_source_images_open(const char *src, const char *pool_data, const ns_data_options *o, ns_dataset *out);

#endif
