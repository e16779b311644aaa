/* The tiny supervised run the training suites share: resnet8:width=4 on the
 * synthetic quadrant task (synthetic_data.h) in `data_dir`, 4 epochs of
 * batch 16 at lr 0.05, no flips or crops (a flip moves the quadrant that
 * defines the class), evaluation only at the end, and a fresh run directory
 * named `run_name` under $NS_TEST_TMP. */
#ifndef NS_TEST_TINY_TRAIN_H
#define NS_TEST_TINY_TRAIN_H

#include <stddef.h>

#include "train/train_config.h"

ns_train_config ns_test_tiny_train_config(const char *data_dir, const char *run_name, int loader_threads);

/* The training suites' group setup: the ref backend (owned by *state until
 * ns_test_tiny_train_teardown) and the synthetic task, 32 training and 16
 * test images per class drawn from `data_seed`, in a fresh folder `name`
 * under $NS_TEST_TMP whose path goes to data_dir. Returns -1, failing the
 * suite, when either cannot be had: ref is always built. */
int ns_test_tiny_train_setup(void **state, const char *name, unsigned data_seed, char *data_dir, size_t len);
int ns_test_tiny_train_teardown(void **state);

#endif
