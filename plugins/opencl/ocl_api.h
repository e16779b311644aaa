/* The OpenCL and CLBlast entry points the plugin uses, resolved at run time
 * with dlopen instead of linked: the plugin then loads on any machine, and its
 * probe can say "no OpenCL ICD loader" or "no CLBlast" in words instead of the
 * host failing to dlopen the plugin with a linker message.
 *
 * ocl_internal.h redirects every cl* / CLBlast* call below to this table, so
 * the rest of the plugin is written as plain OpenCL. */
#ifndef NS_OCL_API_H
#define NS_OCL_API_H

#include <stddef.h>

#include <CL/cl.h>
#include <clblast_c.h>
#include <noisystudent/status.h>

#define OCL_API_FUNCTIONS(X)      \
    X(clGetPlatformIDs)           \
    X(clGetPlatformInfo)          \
    X(clGetDeviceIDs)             \
    X(clGetDeviceInfo)            \
    X(clCreateContext)            \
    X(clReleaseContext)           \
    X(clCreateCommandQueue)       \
    X(clReleaseCommandQueue)      \
    X(clCreateProgramWithSource)  \
    X(clCreateProgramWithBinary)  \
    X(clBuildProgram)             \
    X(clGetProgramBuildInfo)      \
    X(clGetProgramInfo)           \
    X(clReleaseProgram)           \
    X(clCreateKernel)             \
    X(clReleaseKernel)            \
    X(clGetKernelWorkGroupInfo)   \
    X(clSetKernelArg)             \
    X(clEnqueueNDRangeKernel)     \
    X(clCreateBuffer)             \
    X(clReleaseMemObject)         \
    X(clEnqueueWriteBuffer)       \
    X(clEnqueueReadBuffer)        \
    X(clEnqueueFillBuffer)        \
    X(clEnqueueCopyBuffer)        \
    X(clFinish)

#define OCL_BLAST_FUNCTIONS(X) \
    X(CLBlastSgemm)            \
    X(CLBlastClearCache)

typedef struct ocl_api_table {
#define OCL_API_FIELD(name) __typeof__(&name) name;
    OCL_API_FUNCTIONS(OCL_API_FIELD)
    OCL_BLAST_FUNCTIONS(OCL_API_FIELD)
#undef OCL_API_FIELD
} ocl_api_table;

/* Filled by ocl_api_load(); read-only afterwards. */
extern ocl_api_table ocl_fn;

/* Loads libOpenCL.so.1 (the ICD loader) and libclblast.so.1 once per process
 * (thread-safe; later calls return the first result). On failure writes a
 * one-line reason ("no OpenCL ICD loader: ...") into why and returns
 * NS_ERR_UNSUPPORTED. The libraries stay loaded: drivers keep threads. */
ns_status ocl_api_load(char *why, size_t why_len);

#endif
