/* The plugin descriptor and the backend vtable: the one exported symbol. */
#include <noisystudent/backend.h>
#include <noisystudent/plugin.h>

#include "cuda_ops.h"
#include "cuda_probe.h"
#ifdef NS_CUDA_HAVE_NCCL
#include "cuda_nccl.h"
#endif

static const ns_backend_api cuda_api = {
    .struct_size = sizeof(ns_backend_api),
    .create = ns_cuda_create,
    .destroy = ns_cuda_destroy,
    .describe = ns_cuda_describe,
    .buf_alloc = ns_cuda_buf_alloc,
    .buf_free = ns_cuda_buf_free,
    .upload = ns_cuda_upload,
    .download = ns_cuda_download,
    .fill = ns_cuda_fill,
    .copy = ns_cuda_copy,
    .synchronize = ns_cuda_synchronize,
    .conv2d_forward = ns_cuda_conv2d_forward,
    .conv2d_backward_data = ns_cuda_conv2d_backward_data,
    .conv2d_backward_filter = ns_cuda_conv2d_backward_filter,
    .batchnorm_forward_train = ns_cuda_batchnorm_forward_train,
    .batchnorm_forward_infer = ns_cuda_batchnorm_forward_infer,
    .batchnorm_backward = ns_cuda_batchnorm_backward,
    .relu_forward = ns_cuda_relu_forward,
    .relu_backward = ns_cuda_relu_backward,
    .add = ns_cuda_add,
    .axpby = ns_cuda_axpby,
    .mul = ns_cuda_mul,
    .mul_rows = ns_cuda_mul_rows,
    .mask_bernoulli = ns_cuda_mask_bernoulli,
    .global_avg_pool_forward = ns_cuda_global_avg_pool_forward,
    .global_avg_pool_backward = ns_cuda_global_avg_pool_backward,
    .dense_forward = ns_cuda_dense_forward,
    .dense_backward = ns_cuda_dense_backward,
    .softmax_cross_entropy = ns_cuda_softmax_cross_entropy,
    .softmax = ns_cuda_softmax,
    .sgd_update = ns_cuda_sgd_update,
    .adam_update = ns_cuda_adam_update,
    .reduce = ns_cuda_reduce,
    .conv2d_bn_infer = ns_cuda_conv2d_bn_infer,
    .count_nonfinite = ns_cuda_count_nonfinite,
#ifdef NS_CUDA_HAVE_NCCL /* built with nccl.h; libnccl itself is opened at run time */
    .dist_unique_id = ns_cuda_dist_unique_id,
    .dist_attach = ns_cuda_dist_attach,
    .allreduce_sum = ns_cuda_allreduce_sum,
#endif
};

static const ns_plugin cuda_plugin = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_BACKEND,
    .name = "cuda",
    .version = "0.1.0",
    .description = "NVIDIA GPUs: cuDNN convolutions, cuBLAS GEMM, own CUDA kernels (fp32, bf16, fp16)",
    .probe = ns_cuda_probe,
    .vtable = &cuda_api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void)
{
    return &cuda_plugin;
}
