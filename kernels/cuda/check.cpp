#include "kernels/cuda/check.h"

#include <string_view>

namespace ae::cu {

namespace {
// "cublasSgemm(handle, ...)" -> "cublasSgemm"
std::string_view function_name(const char* call) {
  std::string_view text(call);
  return text.substr(0, text.find('('));
}
}  // namespace

void throw_cuda_error(cudaError_t err, const char* call, const std::string& context) {
  fail(cat(context, ": ", function_name(call), " failed: ", cudaGetErrorName(err), " (",
           cudaGetErrorString(err), ")"));
}

void throw_cublas_error(cublasStatus_t status, const char* call, const std::string& context) {
  fail(cat(context, ": ", function_name(call), " failed: ", cublasGetStatusName(status)));
}

}  // namespace ae::cu
