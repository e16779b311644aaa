/* A small synthetic classification task written as MNIST-style IDX files, so
 * training tests go through the real readers: class k lights up quadrant k of
 * an 8x8 gray image, with Philox noise. */
#ifndef NS_TEST_SYNTHETIC_DATA_H
#define NS_TEST_SYNTHETIC_DATA_H

/* Writes {train,t10k}-{images-idx3,labels-idx1}-ubyte into dir (created),
 * per_class_train/test images of each of 4 classes. Returns 0 on success. */
int ns_test_write_synthetic(const char *dir, int per_class_train, int per_class_test, unsigned seed);

/* The same layout with a weaker signal: quadrant k is brighter by `signal`
 * over uniform noise of width `noise` (a task few labels do not solve). */
int ns_test_write_synthetic_hard(const char *dir, int per_class_train, int per_class_test, unsigned seed, int signal,
                                 int noise);

/* 1 when both safetensors files open and every tensor of a is in b with the
 * same bytes; 0 otherwise. */
int ns_test_same_weights(const char *a, const char *b);

/* A fresh directory under $NS_TEST_TMP named after `name` (emptied first). */
void ns_test_fresh_dir(const char *name, char *buf, unsigned long len);

#endif
