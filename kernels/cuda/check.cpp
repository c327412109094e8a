#include "kernels/cuda/check.h"

#include "kernels/cuda/cublas_lib.h"

#include <string_view>

namespace ae::cu {

namespace {
// "cudaMalloc(&p, n)" -> "cudaMalloc"; "cublas().cublasSgemm(handle, ...)" -> "cublasSgemm"
std::string_view function_name(const char* call) {
  std::string_view text(call);
  constexpr std::string_view table = "cublas().";  // a call through the loaded table
  if (text.starts_with(table)) text.remove_prefix(table.size());
  return text.substr(0, text.find('('));
}
}  // namespace

void throw_cuda_error(cudaError_t err, const char* call, const std::string& context) {
  fail(cat(context, ": ", function_name(call), " failed: ", cudaGetErrorName(err), " (",
           cudaGetErrorString(err), ")"));
}

void throw_cublas_error(cublasStatus_t status, const char* call, const std::string& context) {
  // A status comes from a loaded cuBLAS; its own name for it when it is there.
  const CublasApi* api = cublas_if_loaded();
  fail(cat(context, ": ", function_name(call), " failed: ",
           api ? std::string(api->cublasGetStatusName(status)) : cat("cuBLAS status ", int(status))));
}

}  // namespace ae::cu
