// Random fills with cuRAND's device API. Each thread owns kDrawsPerThread consecutive draws of the
// sequential stream: it calls curand_init(seed, 0, offset + first) (a skipahead, so any offset,
// aligned to 4 or not, lands on the right draw) and then curand4-based calls, which return the
// next four draws of that stream whatever the position within a Philox block. Normal pairs start
// on even elements of the output, as with sequential curand_normal calls, because every thread
// starts on a multiple of 4.
#include "kernels/cuda/random.h"
#include "kernels/cuda/cuda_backend.h"

#include <cuda_runtime.h>
#include <curand_kernel.h>

#include <algorithm>
#include <atomic>
#include <limits>

#include "core/error.h"

namespace ae::cu {

namespace {

constexpr int kThreads = 256;
// curand_init computes two Philox blocks (one per skipahead) and each curand4 one more; four
// curand4 calls per curand_init cost 1.5 blocks per 4 draws instead of 3.
constexpr int kGroupsPerThread = 4;
constexpr int64_t kDrawsPerThread = 4 * kGroupsPerThread;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;  // larger fills loop (grid stride)

enum class Dist { bits, uniform, normal };

// y[i + j] = r[j] for the j with i + j < n; the caller guarantees i < n.
template <class T, class V>
__device__ __forceinline__ void store4(T* y, int64_t i, int64_t n, V r) {
  y[i] = static_cast<T>(r.x);
  if (i + 1 < n) y[i + 1] = static_cast<T>(r.y);
  if (i + 2 < n) y[i + 2] = static_cast<T>(r.z);
  if (i + 3 < n) y[i + 3] = static_cast<T>(r.w);
}

// y (n): element i is draw offset + i of the stream (seed, subsequence 0), the offset moved by
// *counter when a counter is set (set_rand_offset_counter).
template <Dist D, class T>
__global__ void rand_kernel(T* y, int64_t n, uint64_t seed, uint64_t offset,
                            const uint64_t* counter) {
  if (counter) offset += *counter;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x * kDrawsPerThread;
  for (int64_t first = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) * kDrawsPerThread;
       first < n; first += stride) {
    curandStatePhilox4_32_10_t state;
    curand_init(seed, 0, offset + static_cast<uint64_t>(first), &state);
    for (int g = 0; g < kGroupsPerThread; ++g) {
      const int64_t i = first + 4 * g;
      if (i >= n) break;
      if constexpr (D == Dist::bits) store4(y, i, n, curand4(&state));
      else if constexpr (D == Dist::uniform) store4(y, i, n, curand_uniform4(&state));
      else store4(y, i, n, curand_normal4(&state));
    }
  }
}

void check_args(const char* op, const void* y, int64_t n, uint64_t offset, uint64_t draws) {
  AE_CHECK(n >= 0, op, ": n = ", n, " is negative");
  AE_CHECK(n == 0 || y, op, ": output is null for n = ", n);
  AE_CHECK(draws <= std::numeric_limits<uint64_t>::max() - offset, op, ": offset ", offset, " + ",
           draws, " draws passes the end of the Philox stream (2^64 draws)");
}

constexpr int kMaxDevices = 64;
// Per device, the counter of set_rand_offset_counter, or null.
std::atomic<const uint64_t*> g_offset_counters[kMaxDevices];

template <Dist D, class T>
void launch(const char* op, T* y, int64_t n, uint64_t seed, uint64_t offset, Stream stream,
            bool counted = true) {
  if (n == 0) return;
  const int device = activate(stream).index;  // launch on the stream's device
  const uint64_t* counter =
      counted ? g_offset_counters[device].load(std::memory_order_acquire) : nullptr;
  const int64_t threads_needed = (n + kDrawsPerThread - 1) / kDrawsPerThread;
  const int64_t blocks = std::min((threads_needed + kThreads - 1) / kThreads, kMaxBlocks);
  rand_kernel<D, T><<<static_cast<unsigned>(blocks), kThreads, 0,
                      static_cast<cudaStream_t>(stream)>>>(y, n, seed, offset, counter);
  const cudaError_t err = cudaGetLastError();
  AE_CHECK(err == cudaSuccess, op, ": kernel launch (n = ", n, ") failed: ",
           cudaGetErrorString(err));
}

}  // namespace

void rand_bits(uint32_t* y, int64_t n, uint64_t seed, uint64_t offset, Stream stream) {
  check_args("rand_bits", y, n, offset, static_cast<uint64_t>(n));
  launch<Dist::bits>("rand_bits", y, n, seed, offset, stream, /*counted=*/false);
}

void set_rand_offset_counter(int device, const uint64_t* counter) {
  AE_CHECK(device >= 0 && device < kMaxDevices, "cuda set_rand_offset_counter: device ", device,
           " out of range");
  g_offset_counters[device].store(counter, std::memory_order_release);
}

void rand_uniform(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream stream) {
  check_args("rand_uniform", y, n, offset, static_cast<uint64_t>(n));
  if (dt == DType::f32)
    launch<Dist::uniform>("rand_uniform", static_cast<float*>(y), n, seed, offset, stream);
  else
    launch<Dist::uniform>("rand_uniform", static_cast<double*>(y), n, seed, offset, stream);
}

void rand_normal(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream stream) {
  // An odd n still draws the whole last pair.
  check_args("rand_normal", y, n, offset, static_cast<uint64_t>(n) + (n & 1));
  if (dt == DType::f32)
    launch<Dist::normal>("rand_normal", static_cast<float*>(y), n, seed, offset, stream);
  else
    launch<Dist::normal>("rand_normal", static_cast<double*>(y), n, seed, offset, stream);
}

}  // namespace ae::cu
