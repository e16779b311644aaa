/* Residency of a buffer's content on the device (the 16-bit NHWC path, see
 * plugins/cuda/README.md). Pure host logic: no CUDA header, so the unit test
 * (tests/cuda_host) builds and runs on machines without the toolkit.
 *
 * Every ns_buf owns a float32 array in the ABI's NCHW order (its `f32`
 * storage) and, once a bf16/fp16 op has touched it, a second array of 16-bit
 * elements in NHWC order (its `h16` storage) holding a tensor of dims
 * (n, c, h, w): NHWC is the order cuDNN's tensor-core engines want for
 * bf16/fp16, and a filter [k][c][r][s] stored "NHWC" is KRSC, the same order.
 *
 * Either copy may be the valid one, or both:
 *   f32 only      PLAIN: the ABI's float32 content (every buffer after
 *                 alloc, upload, fill, copy and every float32 op)
 *   h16 only      a 16-bit op wrote the tensor (conv, batchnorm, relu, add,
 *                 axpby on the 16-bit path); its float32 content is the 16-bit
 *                 values widened, exactly
 *   both, exact   the h16 copy was widened into f32 for a float32 op: the two
 *                 hold the same values
 *   both, cache   a float32 tensor was rounded into h16 for a convolution
 *                 (weights, input images): f32 is the content, h16 a rounded
 *                 copy for the 16-bit convolution engines only
 * "exact" decides what an element-wise op or batchnorm may read: only an
 * exact h16 copy (so the op's output is its float32 result rounded ONCE, the
 * bound the parity suite checks for resident inputs); a cached copy of float32
 * content would be a second rounding, so such ops take the float32 path then.
 * Convolutions read either (rounding their inputs to 16 bits is what the
 * 16-bit precision means; weights keep their float32 master copy and the
 * rounded copy is refreshed once per optimizer step: the update writes f32,
 * which drops h16).
 *
 * A 16-bit tensor may cover fewer floats than the buffer holds (a smaller
 * batch in a larger buffer): backend.h leaves the rest of a compute op's
 * output unspecified, and upload/fill/copy make the buffer PLAIN (widening
 * first) before they write part of it, so the rest survives those. */
#ifndef NS_CUDA_RESIDENT_H
#define NS_CUDA_RESIDENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ns_cuda_res {
    int f32_valid;
    int h16_valid;
    int h16_exact; /* h16 holds the content exactly (see above); 0 unless h16_valid */
    int dims[4];   /* n, c, h, w of the h16 tensor; meaningful when h16_valid */
} ns_cuda_res;

/* A freshly allocated buffer: float32, nothing in 16 bits. */
ns_cuda_res ns_cuda_res_plain(void);

/* After an op wrote the float32 copy (all of it that the op writes): f32 only. */
void ns_cuda_res_wrote_f32(ns_cuda_res *r);
/* After an op wrote the h16 copy as a tensor of `dims`: h16 only, exact. */
void ns_cuda_res_wrote_h16(ns_cuda_res *r, const int dims[4]);
/* After the h16 copy was widened into f32: both, and still exact. */
void ns_cuda_res_widened(ns_cuda_res *r);
/* After f32 was rounded into h16 as `dims`: both, h16 a rounded cache. */
void ns_cuda_res_narrowed(ns_cuda_res *r, const int dims[4]);

/* Element count of a dims tuple (0 when any dim is below 1). */
size_t ns_cuda_dims_count(const int dims[4]);

/* 1 when the h16 copy can be read as the tensor `dims` as it is: valid, the
 * same dims, and (when need_exact) exact. */
int ns_cuda_res_h16_fits(const ns_cuda_res *r, const int dims[4], int need_exact);
/* The same for batchnorm's view (n, c, hw): an exact h16 tensor whose n and c
 * match and whose h*w is hw. Writes its dims to dims_out when it fits. */
int ns_cuda_res_h16_fits_bn(const ns_cuda_res *r, int n, int c, int hw, int dims_out[4]);
/* 1 when an element-wise op over the first `count` floats should run on the
 * h16 copies of its inputs r[0..k): every input exact with the same dims
 * covering exactly `count` (whether or not f32 is valid too: a download of
 * an activation must not switch the ops after it to another path). Writes
 * the common dims to dims_out when it answers 1. */
int ns_cuda_res_elementwise16(const ns_cuda_res *const *r, int k, size_t count, int dims_out[4]);

/* Strides, in elements, of a tensor with logical dims (n, c, h, w):
 * NCHW row-major, or NHWC (channels innermost). */
void ns_cuda_strides_nchw(const int64_t dims[4], int64_t strides[4]);
void ns_cuda_strides_nhwc(const int64_t dims[4], int64_t strides[4]);

#endif
