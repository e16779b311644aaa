/* OpenCL and CLBlast status codes turned into one-line messages naming the call. */
#include "ocl_internal.h"

#define NAME(x) \
    case x: return #x

const char *ocl_cl_error_name(cl_int err)
{
    switch (err) {
        NAME(CL_SUCCESS);
        NAME(CL_DEVICE_NOT_FOUND);
        NAME(CL_DEVICE_NOT_AVAILABLE);
        NAME(CL_COMPILER_NOT_AVAILABLE);
        NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE);
        NAME(CL_OUT_OF_RESOURCES);
        NAME(CL_OUT_OF_HOST_MEMORY);
        NAME(CL_PROFILING_INFO_NOT_AVAILABLE);
        NAME(CL_MEM_COPY_OVERLAP);
        NAME(CL_IMAGE_FORMAT_MISMATCH);
        NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED);
        NAME(CL_BUILD_PROGRAM_FAILURE);
        NAME(CL_MAP_FAILURE);
        NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET);
        NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
        NAME(CL_COMPILE_PROGRAM_FAILURE);
        NAME(CL_LINKER_NOT_AVAILABLE);
        NAME(CL_LINK_PROGRAM_FAILURE);
        NAME(CL_DEVICE_PARTITION_FAILED);
        NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE);
        NAME(CL_INVALID_VALUE);
        NAME(CL_INVALID_DEVICE_TYPE);
        NAME(CL_INVALID_PLATFORM);
        NAME(CL_INVALID_DEVICE);
        NAME(CL_INVALID_CONTEXT);
        NAME(CL_INVALID_QUEUE_PROPERTIES);
        NAME(CL_INVALID_COMMAND_QUEUE);
        NAME(CL_INVALID_HOST_PTR);
        NAME(CL_INVALID_MEM_OBJECT);
        NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR);
        NAME(CL_INVALID_IMAGE_SIZE);
        NAME(CL_INVALID_SAMPLER);
        NAME(CL_INVALID_BINARY);
        NAME(CL_INVALID_BUILD_OPTIONS);
        NAME(CL_INVALID_PROGRAM);
        NAME(CL_INVALID_PROGRAM_EXECUTABLE);
        NAME(CL_INVALID_KERNEL_NAME);
        NAME(CL_INVALID_KERNEL_DEFINITION);
        NAME(CL_INVALID_KERNEL);
        NAME(CL_INVALID_ARG_INDEX);
        NAME(CL_INVALID_ARG_VALUE);
        NAME(CL_INVALID_ARG_SIZE);
        NAME(CL_INVALID_KERNEL_ARGS);
        NAME(CL_INVALID_WORK_DIMENSION);
        NAME(CL_INVALID_WORK_GROUP_SIZE);
        NAME(CL_INVALID_WORK_ITEM_SIZE);
        NAME(CL_INVALID_GLOBAL_OFFSET);
        NAME(CL_INVALID_EVENT_WAIT_LIST);
        NAME(CL_INVALID_EVENT);
        NAME(CL_INVALID_OPERATION);
        NAME(CL_INVALID_GL_OBJECT);
        NAME(CL_INVALID_BUFFER_SIZE);
        NAME(CL_INVALID_MIP_LEVEL);
        NAME(CL_INVALID_GLOBAL_WORK_SIZE);
        NAME(CL_INVALID_PROPERTY);
        NAME(CL_INVALID_IMAGE_DESCRIPTOR);
        NAME(CL_INVALID_COMPILER_OPTIONS);
        NAME(CL_INVALID_LINKER_OPTIONS);
        NAME(CL_INVALID_DEVICE_PARTITION_COUNT);
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "unknown OpenCL error";
}

const char *ocl_clblast_error_name(CLBlastStatusCode st)
{
    switch (st) {
        NAME(CLBlastSuccess);
        NAME(CLBlastOpenCLCompilerNotAvailable);
        NAME(CLBlastTempBufferAllocFailure);
        NAME(CLBlastOpenCLOutOfResources);
        NAME(CLBlastOpenCLOutOfHostMemory);
        NAME(CLBlastOpenCLBuildProgramFailure);
        NAME(CLBlastInvalidValue);
        NAME(CLBlastInvalidCommandQueue);
        NAME(CLBlastInvalidMemObject);
        NAME(CLBlastInvalidBinary);
        NAME(CLBlastInvalidBuildOptions);
        NAME(CLBlastInvalidProgram);
        NAME(CLBlastInvalidProgramExecutable);
        NAME(CLBlastInvalidKernelName);
        NAME(CLBlastInvalidKernelDefinition);
        NAME(CLBlastInvalidKernel);
        NAME(CLBlastInvalidArgIndex);
        NAME(CLBlastInvalidArgValue);
        NAME(CLBlastInvalidArgSize);
        NAME(CLBlastInvalidKernelArgs);
        NAME(CLBlastInvalidLocalNumDimensions);
        NAME(CLBlastInvalidLocalThreadsTotal);
        NAME(CLBlastInvalidLocalThreadsDim);
        NAME(CLBlastInvalidGlobalOffset);
        NAME(CLBlastInvalidEventWaitList);
        NAME(CLBlastInvalidEvent);
        NAME(CLBlastInvalidOperation);
        NAME(CLBlastInvalidBufferSize);
        NAME(CLBlastInvalidGlobalWorkSize);
        NAME(CLBlastNotImplemented);
        NAME(CLBlastInvalidMatrixA);
        NAME(CLBlastInvalidMatrixB);
        NAME(CLBlastInvalidMatrixC);
        NAME(CLBlastInvalidVectorX);
        NAME(CLBlastInvalidVectorY);
        NAME(CLBlastInvalidDimension);
        NAME(CLBlastInvalidLeadDimA);
        NAME(CLBlastInvalidLeadDimB);
        NAME(CLBlastInvalidLeadDimC);
        NAME(CLBlastInvalidIncrementX);
        NAME(CLBlastInvalidIncrementY);
        NAME(CLBlastInsufficientMemoryA);
        NAME(CLBlastInsufficientMemoryB);
        NAME(CLBlastInsufficientMemoryC);
        NAME(CLBlastInsufficientMemoryX);
        NAME(CLBlastInsufficientMemoryY);
        NAME(CLBlastInsufficientMemoryTemp);
        NAME(CLBlastInvalidBatchCount);
        NAME(CLBlastInvalidOverrideKernel);
        NAME(CLBlastMissingOverrideParameter);
        NAME(CLBlastInvalidLocalMemUsage);
        NAME(CLBlastNoHalfPrecision);
        NAME(CLBlastNoDoublePrecision);
        NAME(CLBlastInvalidVectorScalar);
        NAME(CLBlastInsufficientMemoryScalar);
        NAME(CLBlastDatabaseError);
        NAME(CLBlastUnknownError);
        NAME(CLBlastUnexpectedError);
    default: break;
    }
    return "unknown CLBlast status";
}

ns_status ocl_status_of(cl_int err)
{
    switch (err) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_HOST_MEMORY:
    case CL_INVALID_BUFFER_SIZE:
        return NS_ERR_NOMEM;
    default:
        return NS_ERR_DEVICE;
    }
}

ns_status ocl_fail_cl(const ns_host_api *host, const char *op, const char *call, cl_int err)
{
    host->set_error("opencl %s: %s failed: %s (%d)", op, call, ocl_cl_error_name(err), (int)err);
    return ocl_status_of(err);
}

ns_status ocl_fail_blast(const ns_host_api *host, const char *op, const char *call,
                         CLBlastStatusCode st)
{
    host->set_error("opencl %s: CLBlast %s failed: %s (%d)", op, call, ocl_clblast_error_name(st),
                    (int)st);
    return ocl_status_of((cl_int)st);
}
