/* Named dataset sources: one string picks a dataset and its format.
 *
 *   "fashion-mnist"        IDX files in $NS_DATA_DIR, else /usr/share/datasets/fashion-mnist
 *   "cifar10:DIR"          CIFAR-10 binary batches in DIR (cifar.h)
 *   "idx:IMAGES[,LABELS]"  two IDX files (the same files for either split);
 *                          without LABELS every label is unknown (-1)
 *   DIR                    auto-detect: IDX files named like MNIST's
 *                          ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]), or
 *                          CIFAR-10 batches in DIR or DIR/cifar-10-batches-bin, or
 *                          a class-folder tree: DIR/<class>/[subfolders/]NAME.png|jpg|jpeg, or
 *                          DIR/train/<class>/... with DIR/test/ or DIR/val/
 *                          (class_folder_source.h; sized and split by the
 *                          options below)
 *   A.nsds[,B.nsds...]     packed shards, memory-mapped (nsds.h: also a directory
 *                          of shards, and train/ + test/ subfolders of shards)
 */
#ifndef NS_DATA_SOURCE_H
#define NS_DATA_SOURCE_H

#include "data/dataset.h"

#define NS_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* How an image-folder source becomes a dataset; ignored by the binary
 * formats, whose images have a size and a test split of their own. */
typedef struct ns_data_options {
    int c, h, w;          /* decoded size: c = 1 or 3 */
    double test_fraction; /* share held out as the test split when the tree has none */
    uint64_t seed;        /* seed of that holdout (the run's split_seed) */
} ns_data_options;

#define NS_DATA_DEFAULT_C 3
#define NS_DATA_DEFAULT_H 32
#define NS_DATA_DEFAULT_W 32
#define NS_DATA_DEFAULT_TEST_FRACTION 0.2

/* 3x32x32, test fraction 0.2, seed 1 (train's default split_seed). */
ns_data_options ns_data_options_default(void);

/* Parses "CxHxW" (C = 1 or 3, H and W 1..4096) into o->c/h/w. NS_ERR_USAGE
 * naming `flag` and the expected form otherwise. */
ns_status ns_data_options_parse_input(const char *text, const char *flag, ns_data_options *o);

/* As ns_dataset_open with options for image folders (NULL = the defaults). */
ns_status ns_dataset_open_opts(const char *spec, int train, const ns_data_options *o, ns_dataset *out);

/* Opens the train (train != 0) or test split of `spec` into *out (zeroed
 * first; free with ns_dataset_free). NS_ERR_NOT_FOUND lists what was looked
 * for; format errors come from the readers (idx.h, cifar.h). */
ns_status ns_dataset_open(const char *spec, int train, ns_dataset *out);

#endif
