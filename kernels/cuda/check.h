// Checks for CUDA runtime and cuBLAS calls: a failure throws ae::Error naming the op and sizes
// (the context), the failing call and the error, e.g.
//   "cuda gemm (m=256, n=784, k=32): cublasSgemm failed: CUBLAS_STATUS_EXECUTION_FAILED".
// The context arguments are streamed only when the call fails.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

namespace ae::cu {

// `call` is the checked expression; only the function name before '(' is quoted.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const std::string& context);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call,
                                     const std::string& context);

}  // namespace ae::cu

#define AE_CUDA_CHECK(call, ...)                                                   \
  do {                                                                             \
    cudaError_t ae_cuda_err_ = (call);                                             \
    if (ae_cuda_err_ != cudaSuccess)                                               \
      ::ae::cu::throw_cuda_error(ae_cuda_err_, #call, ::ae::cat(__VA_ARGS__));     \
  } while (0)

#define AE_CUBLAS_CHECK(call, ...)                                                 \
  do {                                                                             \
    cublasStatus_t ae_cublas_status_ = (call);                                     \
    if (ae_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                \
      ::ae::cu::throw_cublas_error(ae_cublas_status_, #call, ::ae::cat(__VA_ARGS__)); \
  } while (0)

// After every <<<...>>>: a bad launch configuration, or an earlier asynchronous fault that the
// runtime reports at this point.
#define AE_CUDA_CHECK_LAUNCH(...)                                                  \
  do {                                                                             \
    cudaError_t ae_cuda_err_ = cudaGetLastError();                                 \
    if (ae_cuda_err_ != cudaSuccess)                                               \
      ::ae::cu::throw_cuda_error(ae_cuda_err_, "kernel launch", ::ae::cat(__VA_ARGS__)); \
  } while (0)
