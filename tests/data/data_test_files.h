/* Helpers for the data suites: build small IDX / CIFAR files under NS_TEST_TMP. */
#ifndef NS_TEST_DATA_FILES_H
#define NS_TEST_DATA_FILES_H

#include <stddef.h>
#include <stdint.h>

/* $NS_TEST_TMP/<suite>-<name> (directory created for the suite); static buffer per call slot. */
const char *tf_path(const char *name);
/* Writes bytes raw, or gzip-compressed when gz != 0. Returns 0 on success. */
int tf_write(const char *path, const void *data, size_t n, int gz);
/* IDX images file: header (magic, n, h, w) + n*h*w pixels where pixel k = (k*7+3)&255. */
size_t tf_idx_images(uint8_t *buf, uint32_t magic, uint32_t n, uint32_t h, uint32_t w);
/* IDX labels file: header + labels[i] = i % classes. */
size_t tf_idx_labels(uint8_t *buf, uint32_t n, int classes);
/* Expected pixel value used by tf_idx_images. */
static inline uint8_t tf_pixel(size_t k) { return (uint8_t)((k * 7 + 3) & 255); }

#endif
