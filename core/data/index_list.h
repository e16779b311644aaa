/* A list of dataset indices (a subset, a split, an epoch order). */
#ifndef NS_DATA_INDEX_LIST_H
#define NS_DATA_INDEX_LIST_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

typedef struct ns_index_list {
    uint32_t *idx; /* n entries, owned by the list (ns_index_list_free) */
    size_t n;
} ns_index_list;

/* Allocates room for n entries (contents undefined), n may be 0. */
ns_status ns_index_list_alloc(ns_index_list *l, size_t n);
/* 0, 1, ..., n-1. */
ns_status ns_index_list_range(ns_index_list *l, size_t n);
/* NULL-safe, leaves *l empty. */
void ns_index_list_free(ns_index_list *l);

#endif
