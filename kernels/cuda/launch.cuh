// Shared by the hand-written kernels: launch sizes, the grid-stride walk, 16-byte packs and the
// dtype dispatch. Included from .cu files only (it holds device code).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_backend.h"

namespace ae::cu {

constexpr int kThreads = 256;        // threads per block of the 1-D kernels
constexpr int kThreadsPerSm = 2048;  // resident threads per multiprocessor on sm_90
constexpr int kMaxWaves = 8;         // grid-stride launches cover at most this many full waves

// Blocks for a grid-stride loop over `work` items: one item per thread up to kMaxWaves full
// waves of the device, beyond that each thread walks several items. Several waves keep the tail
// short: a kernel whose registers allow fewer than 2048 resident threads per multiprocessor
// would otherwise run its last partial wave on a mostly idle device.
inline unsigned grid_for(int64_t work, const DeviceInfo& dev, int threads = kThreads) {
  const int64_t blocks = (work + threads - 1) / threads;
  const int64_t cap = int64_t(dev.sm_count) * (kThreadsPerSm / threads) * kMaxWaves;
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
inline bool all_aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (!is_aligned16(p)) return false;
  return true;
}

// N input arrays of a map_elements kernel (passed by value as a kernel argument).
template <class T, int N>
struct Inputs {
  const T* p[N];
};

// y[i] = f({in_0[i], ..., in_{N-1}[i]}) for i < n.
template <class T, int N, class F>
__device__ __forceinline__ void map_elements(Inputs<T, N> in, T* y, int64_t n, bool packed,
                                             const F& f) {
  constexpr int V = Pack<T>::kSize;
  const int64_t stride = grid_threads();
  int64_t done = 0;
  if (packed) {
    const int64_t packs = n / V;
    for (int64_t p = global_thread(); p < packs; p += stride) {
      Pack<T> src[N];
#pragma unroll
      for (int k = 0; k < N; ++k) src[k] = reinterpret_cast<const Pack<T>*>(in.p[k])[p];
      Pack<T> out;
#pragma unroll
      for (int j = 0; j < V; ++j) {
        T v[N];
#pragma unroll
        for (int k = 0; k < N; ++k) v[k] = src[k].v[j];
        out.v[j] = f(v);
      }
      reinterpret_cast<Pack<T>*>(y)[p] = out;
    }
    done = packs * V;
  }
  for (int64_t i = done + global_thread(); i < n; i += stride) {
    T v[N];
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] = in.p[k][i];
    y[i] = f(v);
  }
}

// Calls f with a typed null pointer for dt: f(static_cast<float*>(nullptr)).
template <class F>
void dispatch_dtype(DType dt, F&& f) {
  if (dt == DType::f32) f(static_cast<float*>(nullptr));
  else f(static_cast<double*>(nullptr));
}

// i % d and i / d, in 32-bit arithmetic when `small` says both fit (64-bit division is several
// times slower on the GPU). Callers pass small = (the largest index <= UINT32_MAX).
__device__ __forceinline__ int64_t mod_index(int64_t i, int64_t d, bool small) {
  return small ? int64_t(uint32_t(i) % uint32_t(d)) : i % d;
}
__device__ __forceinline__ int64_t div_index(int64_t i, int64_t d, bool small) {
  return small ? int64_t(uint32_t(i) / uint32_t(d)) : i / d;
}

}  // namespace ae::cu
