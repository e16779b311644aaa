#include "data/index_list.h"

#include <stdlib.h>

#include "util/error.h"

ns_status ns_index_list_alloc(ns_index_list *l, size_t n)
{
    l->n = 0;
    l->idx = malloc((n ? n : 1) * sizeof *l->idx);
    if (!l->idx)
        return ns_fail(NS_ERR_NOMEM, "index list: cannot allocate %zu entries", n);
    l->n = n;
    return NS_OK;
}

ns_status ns_index_list_range(ns_index_list *l, size_t n)
{
    if (n > UINT32_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "index list: %zu entries exceed the uint32 index range", n);
    NS_TRY(ns_index_list_alloc(l, n));
    for (size_t i = 0; i < n; i++)
        l->idx[i] = (uint32_t)i;
    return NS_OK;
}

void ns_index_list_free(ns_index_list *l)
{
    if (!l)
        return;
    free(l->idx);
    l->idx = NULL;
    l->n = 0;
}
