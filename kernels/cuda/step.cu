// The step entries of the CUDA backend (semantics: kernels/backend.h; CPU twin: cpu/step.cpp):
// the optimizer updates with their learning rate and step count read on the device, the step
// counters, and the loss accumulators. Each reads its changing scalars when it runs, so a
// captured graph replays them with fresh values.
#include <cmath>

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/update.cuh"
#include "kernels/scalar_math.h"

namespace ae::cu {

namespace {

// Adam over n elements, with a.lr = *lr and the bias corrections of step *step (computed once
// per thread, in float64 like the host's). Packed: all four arrays 16-byte aligned.
template <class T>
__global__ void adam_indirect_kernel(T* p, const T* g, T* m, T* v, int64_t n, AdamParams a,
                                     const double* lr, const uint64_t* step, bool packed) {
  const double t = static_cast<double>(*step);
  a.lr = *lr;
  a.bias_correction1 = 1 - pow(a.beta1, t);
  a.bias_correction2 = 1 - pow(a.beta2, t);
  adam_elements(p, g, m, v, n, a, packed);
}

// SGD with sp.lr = *lr; a null velocity reads as zero and is never written.
template <class T>
__global__ void sgd_indirect_kernel(T* p, const T* g, T* velocity, int64_t n, SgdParams sp,
                                    const double* lr, bool packed) {
  sp.lr = *lr;
  sgd_elements(p, g, velocity, n, sp, packed);
}

__global__ void counter_add_kernel(uint64_t* counter, uint64_t value) { *counter += value; }

// The loss terms' device pointers, passed by value as a kernel argument.
template <class T>
struct Terms {
  const T* p[kMaxAccumulated];
};

// acc[i] += weight * *terms[i], one thread per term.
template <class T>
__global__ void accumulate_kernel(Terms<T> terms, int n, double weight, double* acc) {
  const int i = threadIdx.x;
  if (i < n) acc[i] += weight * static_cast<double>(*terms.p[i]);
}

}  // namespace

void adam_update_indirect(DType dt, void* p, const void* g, void* m, void* v, int64_t n,
                          AdamParams a, const double* lr, const uint64_t* step, Stream s) {
  if (n <= 0) return;
  AE_CHECK(lr && step, "cuda adam_update_indirect: null lr or step");
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({p, g, m, v});
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    adam_indirect_kernel<T><<<grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev), kThreads, 0,
                              static_cast<cudaStream_t>(s)>>>(
        static_cast<T*>(p), static_cast<const T*>(g), static_cast<T*>(m), static_cast<T*>(v), n,
        a, lr, step, packed);
  });
  AE_CUDA_CHECK_LAUNCH("cuda adam_update_indirect (", dtype_name(dt), ", n=", n, ")");
}

void sgd_update_indirect(DType dt, void* p, const void* g, void* velocity, int64_t n,
                         SgdParams sp, const double* lr, Stream s) {
  if (n <= 0) return;
  AE_CHECK(lr, "cuda sgd_update_indirect: null lr");
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({p, g}) && (velocity == nullptr || is_aligned16(velocity));
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    sgd_indirect_kernel<T><<<grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev), kThreads, 0,
                             static_cast<cudaStream_t>(s)>>>(
        static_cast<T*>(p), static_cast<const T*>(g), static_cast<T*>(velocity), n, sp, lr,
        packed);
  });
  AE_CUDA_CHECK_LAUNCH("cuda sgd_update_indirect (", dtype_name(dt), ", n=", n, ")");
}

void counter_add(uint64_t* counter, uint64_t value, Stream s) {
  activate(s);
  counter_add_kernel<<<1, 1, 0, static_cast<cudaStream_t>(s)>>>(counter, value);
  AE_CUDA_CHECK_LAUNCH("cuda counter_add (value ", value, ")");
}

void accumulate_scalars(DType dt, const void* const* values, int n, double weight, double* acc,
                        Stream s) {
  AE_CHECK(n >= 0 && n <= kMaxAccumulated, "cuda accumulate_scalars: ", n, " values (at most ",
           kMaxAccumulated, ")");
  if (n == 0) return;
  activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    Terms<T> terms{};
    for (int i = 0; i < n; ++i) terms.p[i] = static_cast<const T*>(values[i]);
    accumulate_kernel<T><<<1, kMaxAccumulated, 0, static_cast<cudaStream_t>(s)>>>(terms, n,
                                                                                  weight, acc);
  });
  AE_CUDA_CHECK_LAUNCH("cuda accumulate_scalars (", dtype_name(dt), ", n=", n, ")");
}

}  // namespace ae::cu
