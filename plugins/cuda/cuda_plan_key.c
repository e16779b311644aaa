/* Plan-cache keys and the variant-pack ring of cuda_plan_key.h. */
#include "cuda_plan_key.h"

int ns_cuda_plan_key_equal(const ns_cuda_plan_key *a, const ns_cuda_plan_key *b)
{
    const ns_conv_desc *x = &a->d, *y = &b->d;
    return a->kind == b->kind && a->dtype == b->dtype && a->layout == b->layout &&
           x->n == y->n && x->c == y->c && x->h == y->h && x->w == y->w && x->k == y->k &&
           x->r == y->r && x->s == y->s && x->stride == y->stride && x->pad == y->pad &&
           x->p == y->p && x->q == y->q;
}

int ns_cuda_pack_find(const ns_cuda_pack_ring *r, void *const ptrs[4])
{
    for (int i = 0; i < NS_CUDA_PACK_RING; i++)
        if (r->pack[i] && r->ptrs[i][0] == ptrs[0] && r->ptrs[i][1] == ptrs[1] &&
            r->ptrs[i][2] == ptrs[2] && r->ptrs[i][3] == ptrs[3])
            return i;
    return -1;
}

int ns_cuda_pack_claim(ns_cuda_pack_ring *r, void *const ptrs[4], void **old)
{
    int i = r->next;
    r->next = (i + 1) % NS_CUDA_PACK_RING;
    *old = r->pack[i];
    r->pack[i] = NULL;
    for (int j = 0; j < 4; j++)
        r->ptrs[i][j] = ptrs[j];
    return i;
}
