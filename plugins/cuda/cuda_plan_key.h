/* Keys of the convolution plan cache and the per-plan ring of variant packs
 * (cuda_conv_plan.c). Pure host logic, no CUDA header: tests/cuda_host checks
 * it on machines without the toolkit. */
#ifndef NS_CUDA_PLAN_KEY_H
#define NS_CUDA_PLAN_KEY_H

#include <noisystudent/backend.h>

/* Physical layout of the three tensors of a convolution plan. */
enum { NS_CUDA_LAYOUT_NCHW = 0, NS_CUDA_LAYOUT_NHWC = 1 };

/* One cached plan per (direction, shape, data type, layout): the tensor
 * descriptors a plan was finalized with carry the data type and the strides,
 * so a plan is valid for those only. dtype holds a cudnnDataType_t. */
typedef struct ns_cuda_plan_key {
    int kind;
    int dtype;
    int layout;
    ns_conv_desc d;
} ns_cuda_plan_key;

/* 1 when the two keys name the same plan (every field, the descriptor's
 * eleven ints included). */
int ns_cuda_plan_key_equal(const ns_cuda_plan_key *a, const ns_cuda_plan_key *b);

/* Variant packs of one plan, reused while the device pointers repeat: a
 * variant pack binds x, w, y and the workspace by address, and a finalized
 * descriptor cannot be re-pointed, so each distinct pointer tuple gets its own
 * pack; in training the same layers come back every step with the same
 * buffers, so a small ring catches them. */
#define NS_CUDA_PACK_RING 8

typedef struct ns_cuda_pack_ring {
    void *ptrs[NS_CUDA_PACK_RING][4]; /* x, w, y, workspace */
    void *pack[NS_CUDA_PACK_RING];    /* cudnnBackendDescriptor_t, NULL when empty */
    int next;                         /* the slot the next miss replaces */
} ns_cuda_pack_ring;

/* Index of the slot whose pack binds exactly `ptrs`, or -1. */
int ns_cuda_pack_find(const ns_cuda_pack_ring *r, void *const ptrs[4]);
/* The slot for a new pack binding `ptrs` (round robin over the ring): its
 * pointers are set to `ptrs`; *old receives the pack it held (NULL when
 * empty), which the caller destroys; the caller then stores the new pack in
 * r->pack[index]. */
int ns_cuda_pack_claim(ns_cuda_pack_ring *r, void *const ptrs[4], void **old);

#endif
