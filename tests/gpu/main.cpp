// The GPU test binary: CUDA table vs CPU reference. Without a usable CUDA device it prints why and
// exits 77, which ctest reports as skipped.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/device.h"
#include "core/error.h"
#include "kernels/cuda/cublas_lib.h"
#include "kernels/cuda/cuda_backend.h"
#include "tests/gpu/harness.h"

namespace {

// Why no device is usable, in the runtime's words.
std::string no_device_reason() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
  }
  return count == 0 ? "no CUDA device" : "ae reports no usable CUDA device";
}

}  // namespace

int main(int argc, char** argv) {
  if (!ae::cuda_available()) {
    std::printf("gpu tests skipped: %s\n", no_device_reason().c_str());
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
    std::printf("gpu tests on %s (sm_%d%d, %d multiprocessors); AE_TEST_SEED=%llu\n", prop.name,
                prop.major, prop.minor, prop.multiProcessorCount,
                static_cast<unsigned long long>(ae::gputest::base_seed()));
  // Which cuBLAS the GEMMs will use (loaded here rather than inside the first test's timing).
  try {
    std::printf("cuBLAS: %s\n", ae::cu::cublas().path.c_str());
  } catch (const ae::Error& e) {
    std::printf("%s\n", e.what());
  }
  const int result = RUN_ALL_TESTS();
  // Free what the process keeps until exit and destroy the context, so that compute-sanitizer's
  // leak check (memcheck --leak-check full) sees every allocation ae did not free.
  try {
    ae::cu::release_gemm_handles();
  } catch (const ae::Error& e) {
    std::printf("releasing cuBLAS: %s\n", e.what());
    return 1;
  }
  for (int d = 0; d < ae::cuda_device_count(); ++d) {
    const cudaError_t reset = cudaSetDevice(d) == cudaSuccess ? cudaDeviceReset() : cudaGetLastError();
    if (reset != cudaSuccess) {
      std::printf("cudaDeviceReset on cuda:%d failed: %s\n", d, cudaGetErrorString(reset));
      return 1;
    }
  }
  return result;
}
