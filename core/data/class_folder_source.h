/* A class-folder tree as a dataset source (source.h):
 *
 *   ROOT/<class>/[subfolders/]NAME.png|jpg|jpeg              one tree: the test split is a
 *                                              stratified holdout of it
 *   ROOT/train/<class>/... + ROOT/test/<class>/... (or ROOT/val/): given splits
 *
 * Images are decoded in parallel (file_list_load.h) to the options' size;
 * class names are the train tree's folder names. */
#ifndef NS_DATA_CLASS_FOLDER_SOURCE_H
#define NS_DATA_CLASS_FOLDER_SOURCE_H

#include "data/file_list.h"
#include "data/source.h"

/* 1 when `root` is a class-folder tree (with or without train/). */
int ns_class_folder_source_has(const char *root);

/* Opens the train (train != 0) or test split of the tree at `root`.
 * Holdout (no test/ or val/ beside train/, or no train/ at all): per class,
 * round(fraction * count) files, at most count - 1, go to the test split,
 * chosen by Philox stream (HOLDOUT_FILES, class, 0) under o->seed over the
 * files in path order, so a split depends only on the listing and the seed.
 * Errors (one line each): as ns_class_folder_scan; NS_ERR_USAGE for a
 * fraction outside (0, 1) when a holdout is needed; NS_ERR_FORMAT naming a
 * class folder of the test split that the train split lacks; load errors of
 * ns_file_list_load. */
ns_status ns_class_folder_open(const char *root, int train, const ns_data_options *o, ns_dataset *out);

/* The files of that split, undecoded (what ns_class_folder_open decodes; what
 * `noisystudent pack` streams). *out is owned by the caller (ns_file_list_free),
 * empty on error; `what` (cap bytes) gets the split's description. */
ns_status ns_class_folder_list(const char *root, int train, const ns_data_options *o, ns_file_list *out, char *what,
                               size_t cap);

#endif
