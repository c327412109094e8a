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
      .name = "cpu",
      .device_count = cpu::device_count,
      .stream = cpu::stream,
      .alloc = cpu::alloc,
      .free = cpu::free,
      .copy = cpu::copy,
      .synchronize = cpu::synchronize,
      .fill = cpu::fill,
      .arange = cpu::arange,
      .cast = cpu::cast,
      .unary_forward = cpu::unary_forward,
      .unary_backward = cpu::unary_backward,
      .binary_forward = cpu::binary_forward,
      .loss_forward = cpu::loss_forward,
      .loss_backward = cpu::loss_backward,
      .gemm = cpu::gemm,
      .transpose = cpu::transpose,
      .reduce_sum = cpu::reduce_sum,
      .expand = cpu::expand,
      .copy_block = cpu::copy_block,
      .adam_update = cpu::adam_update,
      .sgd_update = cpu::sgd_update,
      .rand_uniform = cpu::rand_uniform,
      .rand_normal = cpu::rand_normal,
      .bias_act_forward = cpu::bias_act_forward,
      .bias_act_backward = cpu::bias_act_backward,
      .kl_sparsity_forward = cpu::kl_sparsity_forward,
      .kl_sparsity_backward = cpu::kl_sparsity_backward,
      .contractive_forward = cpu::contractive_forward,
      .contractive_backward = cpu::contractive_backward,
      .reparameterize_forward = cpu::reparameterize_forward,
      .reparameterize_backward = cpu::reparameterize_backward,
      .adam_update_indirect = cpu::adam_update_indirect,
      .sgd_update_indirect = cpu::sgd_update_indirect,
      .counter_add = cpu::counter_add,
      .accumulate_scalars = cpu::accumulate_scalars,
      .set_rand_offset_counter = cpu::set_rand_offset_counter,
      .set_tf32 = cpu::set_tf32,
      .graph_begin = cpu::graph_begin,
      .graph_end = cpu::graph_end,
      .graph_launch = cpu::graph_launch,
      .graph_destroy = cpu::graph_destroy,
  };
  return table;
}

}  // namespace ae
