/* The tiny supervised run the training suites share: resnet8:width=4 on the
 * synthetic quadrant task (synthetic_data.h) in `data_dir`, 4 epochs of
 * batch 16 at lr 0.05, no flips or crops (a flip moves the quadrant that
 * defines the class), evaluation only at the end, and a fresh run directory
 * named `run_name` under $NS_TEST_TMP. */
#ifndef NS_TEST_TINY_TRAIN_H
#define NS_TEST_TINY_TRAIN_H

#include "train/train_config.h"

ns_train_config ns_test_tiny_train_config(const char *data_dir, const char *run_name, int loader_threads);

#endif
