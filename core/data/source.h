/* Named dataset sources: one string picks a dataset and its format.
 *
 *   "fashion-mnist"        IDX files in $NS_DATA_DIR, else /usr/share/datasets/fashion-mnist
 *   "cifar10:DIR"          CIFAR-10 binary batches in DIR (cifar.h)
 *   "idx:IMAGES[,LABELS]"  two IDX files (the same files for either split);
 *                          without LABELS every label is unknown (-1)
 *   DIR                    auto-detect: IDX files named like MNIST's
 *                          ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]), or
 *                          CIFAR-10 batches in DIR or DIR/cifar-10-batches-bin
 *   A.nsds[,B.nsds...]     packed shards, memory-mapped (nsds.h: also a directory
 *                          of shards, and train/ + test/ subfolders of shards)
 */
#ifndef NS_DATA_SOURCE_H
#define NS_DATA_SOURCE_H

#include "data/dataset.h"

#define NS_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Opens the train (train != 0) or test split of `spec` into *out (zeroed
 * first; free with ns_dataset_free). NS_ERR_NOT_FOUND lists what was looked
 * for; format errors come from the readers (idx.h, cifar.h). */
ns_status ns_dataset_open(const char *spec, int train, ns_dataset *out);

#endif
