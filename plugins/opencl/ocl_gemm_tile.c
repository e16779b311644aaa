/* The register tile of the native SGEMM kernels (kernels/gemm.cl), per device.
 *
 * Why a table and not an autotuner: on a CPU driver the tile that wins is the
 * largest one whose accumulators fit the vector register file, and the driver
 * states the register width (CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT: 16 for
 * AVX-512, 8 for AVX/AVX2, 4 for SSE/NEON). The register count follows from the
 * width on x86 (32 zmm with AVX-512, 16 ymm/xmm below it). A timed search would
 * cost every first run seconds of kernel compiles per candidate on PoCL and
 * would be at the mercy of a shared machine's load; the table costs nothing
 * and NS_OPENCL_GEMM_TILE overrides it for measuring another tile.
 *
 *   width 16 (AVX-512): nn 16 rows x float16 = 16 zmm accumulators + B
 *                       nt 4x4 dot products in float16 = 16 zmm + 8 loads
 *   width 8 (AVX2):     nn 6 rows x float16 = 12 ymm accumulators + 2 B + 1 A
 *                       nt 3x3 in float8 = 9 ymm + 6 loads
 *   width 4 or less:    nn 6 rows x float8 = 12 xmm accumulators + 2 B + 1 A
 *                       nt 3x3 in float4 = 9 xmm + 6 loads */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

void ocl_gemm_tile_for_width(cl_uint width, ocl_gemm_tile *t)
{
    if (width >= 16)
        *t = (ocl_gemm_tile){16, 16, 4, 16};
    else if (width >= 8)
        *t = (ocl_gemm_tile){6, 16, 3, 8};
    else
        *t = (ocl_gemm_tile){6, 8, 3, 4};
}

ns_status ocl_gemm_tile_parse(const ns_host_api *host, const char *spec, ocl_gemm_tile *t)
{
    int tm = 0, vw = 0, ntb = 0, ntv = 0, used = 0;
    int ok = sscanf(spec, "%dx%d,%dx%d%n", &tm, &vw, &ntb, &ntv, &used) == 4 &&
             spec[used] == '\0' && tm >= 1 && tm <= 16 && (vw == 8 || vw == 16) && ntb >= 1 &&
             ntb <= 4 && (ntv == 4 || ntv == 8 || ntv == 16);
    if (!ok) {
        if (host)
            host->set_error("opencl create: NS_OPENCL_GEMM_TILE=%s: expected TMxVW,NTBxNTV with "
                            "TM 1..16, VW 8|16, NTB 1..4, NTV 4|8|16 (e.g. 6x16,3x8)",
                            spec);
        return NS_ERR_INVALID_ARG;
    }
    *t = (ocl_gemm_tile){tm, vw, ntb, ntv};
    return NS_OK;
}

ns_status ocl_gemm_tile_choose(const ns_host_api *host, cl_device_id dev, ocl_gemm_tile *t,
                               cl_uint *native_width)
{
    cl_uint width = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof width, &width, NULL) !=
        CL_SUCCESS)
        width = 0;
    *native_width = width;
    const char *env = getenv("NS_OPENCL_GEMM_TILE");
    if (env && *env)
        return ocl_gemm_tile_parse(host, env, t);
    ocl_gemm_tile_for_width(width, t);
    return NS_OK;
}

void ocl_gemm_tile_options(const ocl_gemm_tile *t, char *buf, size_t len)
{
    snprintf(buf, len, " -DNS_TM=%d -DNS_VW=%d -DNS_NTB=%d -DNS_NTV=%d", t->tm, t->vw, t->ntb,
             t->ntv);
}
