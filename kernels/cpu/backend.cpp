// The CPU table: memory, fills, casts and block copies here; the maths in the sibling files.
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/random.h"

namespace ae::cpu {

namespace {

constexpr size_t kAlign = 64;  // a cache line; also keeps SIMD loads aligned

int device_count() { return 1; }
Stream stream(int) { return nullptr; }

void* alloc(size_t bytes, int, Stream) {
  size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded ? rounded : kAlign);
  AE_CHECK(p, "cpu: out of memory allocating ", bytes, " bytes");
  return p;
}

void free(void* ptr, int, Stream) { std::free(ptr); }

void copy(void* dst, const void* src, size_t bytes, CopyKind, Stream) {
  if (bytes) std::memcpy(dst, src, bytes);
}

void synchronize(Stream) {}

void fill(DType dt, void* y, int64_t n, double value, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    T* ys = static_cast<T*>(y);
    for (int64_t i = 0; i < n; ++i) ys[i] = static_cast<T>(value);
  });
}

void arange(DType dt, void* y, int64_t n, double start, double step, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    T* ys = static_cast<T*>(y);
    for (int64_t i = 0; i < n; ++i) ys[i] = static_cast<T>(start + step * static_cast<double>(i));
  });
}

void cast(DType from, const void* x, DType to, void* y, int64_t n, Stream) {
  dispatch(from, [&](auto* from_tag) {
    dispatch(to, [&](auto* to_tag) {
      using S = elem_t<decltype(from_tag)>;
      using D = elem_t<decltype(to_tag)>;
      const S* xs = static_cast<const S*>(x);
      D* ys = static_cast<D*>(y);
      for (int64_t i = 0; i < n; ++i) ys[i] = static_cast<D>(xs[i]);
    });
  });
}

void copy_block(DType dt, const void* src, int64_t src_ld, void* dst, int64_t dst_ld, int64_t rows,
                int64_t cols, Stream) {
  const size_t es = dtype_size(dt);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(static_cast<char*>(dst) + r * dst_ld * es,
                static_cast<const char*>(src) + r * src_ld * es, cols * es);
}

}  // namespace
}  // namespace ae::cpu

namespace ae {

const Backend& cpu_backend() {
  static const Backend table = {
      "cpu",
      cpu::device_count,
      cpu::stream,
      cpu::alloc,
      cpu::free,
      cpu::copy,
      cpu::synchronize,
      cpu::fill,
      cpu::arange,
      cpu::cast,
      cpu::unary_forward,
      cpu::unary_backward,
      cpu::binary_forward,
      cpu::loss_forward,
      cpu::loss_backward,
      cpu::gemm,
      cpu::transpose,
      cpu::reduce_sum,
      cpu::expand,
      cpu::copy_block,
      cpu::adam_update,
      cpu::sgd_update,
      cpu::rand_uniform,
      cpu::rand_normal,
      cpu::bias_act_forward,
      cpu::bias_act_backward,
      cpu::kl_sparsity_forward,
      cpu::kl_sparsity_backward,
      cpu::contractive_forward,
      cpu::contractive_backward,
      cpu::reparameterize_forward,
      cpu::reparameterize_backward,
      cpu::adam_update_indirect,
      cpu::sgd_update_indirect,
      cpu::counter_add,
      cpu::accumulate_scalars,
      cpu::set_rand_offset_counter,
      cpu::set_tf32,
      cpu::graph_begin,
      cpu::graph_end,
      cpu::graph_launch,
      cpu::graph_destroy,
  };
  return table;
}

}  // namespace ae
