// Shared by the hand-written kernels: launch sizes, the grid-stride walk, 16-byte packs and the
// dtype dispatch. Device-side only (included from .cu files).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_backend.h"

namespace ae::cu {

constexpr int kThreads = 256;          // threads per block of the 1-D kernels
constexpr int kThreadsPerSm = 2048;    // resident threads per multiprocessor on sm_90

// Blocks for a grid-stride loop over `work` items: enough to fill the device once, no more
// (each thread then walks several items, which keeps the index arithmetic out of the way).
inline unsigned grid_for(int64_t work, const DeviceInfo& dev, int threads = kThreads) {
  int64_t blocks = (work + threads - 1) / threads;
  int64_t cap = int64_t(dev.sm_count) * (kThreadsPerSm / threads);
  return static_cast<unsigned>(blocks < cap ? blocks : cap);
}

__device__ __forceinline__ int64_t global_thread() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

// 16 bytes of T: one vector load or store (4 floats, 2 doubles).
template <class T>
struct alignas(16) Pack {
  static constexpr int kSize = 16 / sizeof(T);
  T v[kSize];
};

inline bool is_aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Calls f with a typed null pointer for dt: f(static_cast<float*>(nullptr)).
template <class F>
void dispatch_dtype(DType dt, F&& f) {
  if (dt == DType::f32) f(static_cast<float*>(nullptr));
  else f(static_cast<double*>(nullptr));
}

// i % d, in 32-bit arithmetic when both fit (several times cheaper on the GPU than 64-bit).
__device__ __forceinline__ int64_t mod_index(int64_t i, int64_t d, bool small) {
  return small ? int64_t(uint32_t(i) % uint32_t(d)) : i % d;
}
__device__ __forceinline__ int64_t div_index(int64_t i, int64_t d, bool small) {
  return small ? int64_t(uint32_t(i) / uint32_t(d)) : i / d;
}

}  // namespace ae::cu
