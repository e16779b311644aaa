/* Lists of image files on disk, the step before decoding: a class-folder
 * tree (torchvision ImageFolder / Keras image_dataset_from_directory layout)
 * or a flat folder of unlabeled images.
 *
 * An image file is a regular file (symlinks followed) whose name ends in
 * .png, .jpg or .jpeg in any case; the content decides PNG vs JPEG later
 * (image_load.h). Names starting with '.' (".ipynb_checkpoints", "._x.jpg")
 * are not listed: editors, notebooks and macOS leave them behind and they are
 * never meant as data. Order is fixed by bytes (strcmp), not by the
 * filesystem, so every run sees the same list. */
#ifndef NS_DATA_FILE_LIST_H
#define NS_DATA_FILE_LIST_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

#include "data/class_names.h"

typedef struct ns_file_list {
    size_t n;
    char **paths;           /* n malloc'd paths, "ROOT/<class>/.../file" or "DIR/file" */
    int32_t *labels;        /* n entries: class index, or -1 for an unlabeled list */
    ns_class_names classes; /* the class folders' names (empty for an unlabeled list) */
} ns_file_list;

/* ROOT/<class>/...: every image file under each class subfolder (nested
 * folders allowed), class names = the subfolder names sorted by bytes,
 * label = class index, files in byte order of their path. Files directly in
 * ROOT are not part of any class and are ignored. *out is zeroed first and
 * owned by the caller (ns_file_list_free); on error it is left empty.
 * Errors, one line naming the folder: NS_ERR_NOT_FOUND / NS_ERR_IO when ROOT
 * cannot be listed, NS_ERR_NOT_FOUND when ROOT has no class subfolder or a
 * class folder holds no image file, NS_ERR_FORMAT for a folder name that is
 * not a valid class name (class_names.h), NS_ERR_NOMEM. */
ns_status ns_class_folder_scan(const char *root, ns_file_list *out);

/* The image files directly in DIR (not recursive), in byte order of their
 * names, every label -1, no classes. A file's ordinal is its index here.
 * Errors: as above; NS_ERR_NOT_FOUND naming DIR when it holds no image file. */
ns_status ns_flat_folder_scan(const char *dir, ns_file_list *out);

/* 1 when DIR has at least one non-hidden subfolder holding (at any depth) an
 * image file: what ns_dataset_open takes for a class-folder tree. */
int ns_class_folder_detect(const char *dir);

/* Frees the paths, labels and classes and zeroes *l. NULL-safe, safe twice. */
void ns_file_list_free(ns_file_list *l);

#endif
