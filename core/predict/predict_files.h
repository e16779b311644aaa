/* The files `noisystudent predict` reads, from its command-line arguments:
 * a file stands for itself (whatever its name: the decoder tells PNG from
 * JPEG by the signature), a directory for its regular files named *.png,
 * *.jpg or *.jpeg (any case, not recursive) in byte order of the names, as
 * `label --pool folder:DIR` and torchvision's sorted listings have them. */
#ifndef NS_PREDICT_PREDICT_FILES_H
#define NS_PREDICT_PREDICT_FILES_H

#include <stddef.h>

#include <noisystudent/status.h>

typedef struct ns_path_list {
    char **path; /* n paths, owned (ns_path_list_free) */
    size_t n, cap;
} ns_path_list;

/* Expands args[0..n) into *out (zeroed first) in argument order. An argument
 * that does not exist, or a directory that cannot be read or holds no image
 * file, gets one warning line on stderr (ns_log level 0) naming it and adds 1
 * to *bad; the rest are still listed. Errors: NS_ERR_NOMEM only (then *out is
 * empty). */
ns_status ns_predict_expand(const char *const *args, size_t n, ns_path_list *out, size_t *bad);

void ns_path_list_free(ns_path_list *l);

#endif
