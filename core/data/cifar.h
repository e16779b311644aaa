/* CIFAR-10 binary batches: records of 1 label byte (0..9) followed by 3072
 * bytes of a 32x32 RGB image stored planar (all R, then G, then B). Loaded
 * images are converted to HWC interleaved (c = 3, h = w = 32, num_classes = 10). */
#ifndef NS_DATA_CIFAR_H
#define NS_DATA_CIFAR_H

#include "data/dataset.h"

#define NS_CIFAR_SIDE 32
#define NS_CIFAR_RECORD (1 + 3 * NS_CIFAR_SIDE * NS_CIFAR_SIDE)
#define NS_CIFAR_CLASSES 10

/* Loads and concatenates n files in the given order into *out (zeroed first,
 * freed by the caller with ns_dataset_free).
 * Errors (one line): NS_ERR_IO naming a file that cannot be opened or read,
 * NS_ERR_FORMAT for a size that is not a multiple of 3073 (file and size) or a
 * label above 9 (file, record index, value), NS_ERR_NOMEM. *out empty on error. */
ns_status ns_cifar_load_files(const char *const *paths, size_t n, ns_dataset *out);

/* The standard layout of cifar-10-batches-bin: train != 0 loads every
 * data_batch_*.bin in dir (sorted by name), train == 0 loads test_batch.bin.
 * NS_ERR_NOT_FOUND names the directory and the files looked for. */
ns_status ns_cifar_load_dir(const char *dir, int train, ns_dataset *out);

/* Whether dir holds CIFAR-10 batches for this split (used to auto-detect). */
int ns_cifar_dir_has(const char *dir, int train);

#endif
