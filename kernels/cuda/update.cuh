// The optimizer walks over one flat range, shared by the kernels that take their
// hyper-parameters by value (elementwise.cu) and those that read the learning rate and step from
// device memory (step.cu). Device-side only.
#pragma once
#include "kernels/cuda/launch.cuh"
#include "kernels/scalar_math.h"

namespace ae::cu {

// One Adam/AdamW step per element, in place on p, m, v. Packed: all four 16-byte aligned.
template <class T>
__device__ __forceinline__ void adam_elements(T* p, const T* g, T* m, T* v, int64_t n,
                                              const AdamParams& a, bool packed) {
  constexpr int V = Pack<T>::kSize;
  const int64_t stride = grid_threads();
  int64_t done = 0;
  if (packed) {
    const int64_t packs = n / V;
    for (int64_t q = global_thread(); q < packs; q += stride) {
      Pack<T> pp = reinterpret_cast<Pack<T>*>(p)[q];
      const Pack<T> pg = reinterpret_cast<const Pack<T>*>(g)[q];
      Pack<T> pm = reinterpret_cast<Pack<T>*>(m)[q];
      Pack<T> pv = reinterpret_cast<Pack<T>*>(v)[q];
#pragma unroll
      for (int j = 0; j < V; ++j) math::adam_update<T>(pp.v[j], pg.v[j], pm.v[j], pv.v[j], a);
      reinterpret_cast<Pack<T>*>(p)[q] = pp;
      reinterpret_cast<Pack<T>*>(m)[q] = pm;
      reinterpret_cast<Pack<T>*>(v)[q] = pv;
    }
    done = packs * V;
  }
  for (int64_t i = done + global_thread(); i < n; i += stride) {
    T pi = p[i], mi = m[i], vi = v[i];
    math::adam_update<T>(pi, g[i], mi, vi, a);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

// One SGD step per element, in place; a null velocity reads as zero and is never written.
template <class T>
__device__ __forceinline__ void sgd_elements(T* p, const T* g, T* velocity, int64_t n,
                                             const SgdParams& sp, bool packed) {
  constexpr int V = Pack<T>::kSize;
  const int64_t stride = grid_threads();
  int64_t done = 0;
  if (packed) {
    const int64_t packs = n / V;
    for (int64_t q = global_thread(); q < packs; q += stride) {
      Pack<T> pp = reinterpret_cast<Pack<T>*>(p)[q];
      const Pack<T> pg = reinterpret_cast<const Pack<T>*>(g)[q];
      Pack<T> pv{};
      if (velocity) pv = reinterpret_cast<Pack<T>*>(velocity)[q];
#pragma unroll
      for (int j = 0; j < V; ++j) math::sgd_update<T>(pp.v[j], pg.v[j], pv.v[j], sp);
      reinterpret_cast<Pack<T>*>(p)[q] = pp;
      if (velocity) reinterpret_cast<Pack<T>*>(velocity)[q] = pv;
    }
    done = packs * V;
  }
  for (int64_t i = done + global_thread(); i < n; i += stride) {
    T pi = p[i], vi = velocity ? velocity[i] : T(0);
    math::sgd_update<T>(pi, g[i], vi, sp);
    p[i] = pi;
    if (velocity) velocity[i] = vi;
  }
}

}  // namespace ae::cu
