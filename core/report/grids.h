/* The report's pictures: image grids of pseudo-labeled and test images, the
 * confidence histogram of a label file, and a row of a policy's noise on
 * training images. The pixels come from the data source the run's
 * configuration names, opened once per report (ns_report_images caches the
 * splits). Every grid is <div class="imggrid" data-grid=ID data-images=N>
 * holding N <img> elements (PNG data URIs at the images' own size, scaled by
 * CSS), so a test can count them. Where the pixels cannot be had (an image
 * folder source, a missing dataset) the grid is replaced by one line saying
 * why. */
#ifndef NS_REPORT_GRIDS_H
#define NS_REPORT_GRIDS_H

#include "data/dataset.h"
#include "report/html.h"
#include "train/eval_record.h"

#define NS_REPORT_GRID_CLASSES 20 /* per-class grids drawn for at most this many classes */
#define NS_REPORT_PER_CLASS 4     /* most and least confident images shown per class */
#define NS_REPORT_TEST_IMAGES 12  /* images per student-vs-teacher grid */
#define NS_REPORT_NOISE_IMAGES 8  /* training images in the noise rows */

typedef struct ns_report_images {
    char spec[2][512];    /* [0] test split, [1] train split: what was opened */
    ns_dataset split[2];
    int state[2];         /* 0 not tried, 1 open, -1 failed (why[] says) */
    char why[2][300];
} ns_report_images;

void ns_report_images_free(ns_report_images *im);

/* The confidence histogram (correct / wrong / unknown stacked) of the label
 * file at `labels` and, per class, the most and least confident images the
 * teacher gave that class, wrong ones marked. `data` is the run's data spec
 * (the pool is its train split). ids are prefixed with `id`. */
void ns_report_label_views(ns_html *h, ns_report_images *im, const char *labels, const char *data, const char *id,
                           const ns_class_names *names);

/* Test images the student gets right and the teacher wrong, and the reverse. */
void ns_report_test_grids(ns_html *h, ns_report_images *im, const char *data, const ns_eval_record *teacher,
                          const ns_eval_record *student, const char *id);

/* A few training images of `data` and the same images under the policy `augment`. */
void ns_report_noise_row(ns_html *h, ns_report_images *im, const char *data, const char *augment, const char *id);

#endif
