// The CPU table: memory (a caching allocator), fills, casts and block copies here; the maths in
// the sibling files.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(AE_ASAN)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#include "core/error.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/random.h"

namespace ae::cpu {

namespace {

constexpr size_t kAlign = 64;  // a cache line; also keeps SIMD loads aligned

int device_count() { return 1; }
Stream stream(int) { return nullptr; }

// The caching allocator: a freed block waits, keyed by its rounded size, for the next request of
// that size. A training step asks for the same sizes every time, so from the second step on it
// is served from the cache: no system allocation, no page faults, no zeroing of fresh pages.
// Blocks over kMaxCachedBlock and frees past kMaxCachedTotal go back to the system, so that a
// dataset's temporaries do not stay resident. While cached, a block is poisoned for
// AddressSanitizer, which still sees a use after free.
constexpr size_t kMaxCachedBlock = size_t(64) << 20;
constexpr size_t kMaxCachedTotal = size_t(256) << 20;

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // by rounded size
  std::unordered_map<void*, size_t> sizes;                     // every live or cached block
  MemoryStats stats;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors in static objects free after main
  return *c;
}

void* alloc(size_t bytes, int, Stream) {
  const size_t rounded = std::max(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (auto it = c.free_blocks.find(rounded); it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= rounded;
      c.stats.in_use_bytes += rounded;
      ASAN_UNPOISON_MEMORY_REGION(p, rounded);
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, rounded);
  AE_CHECK(p, "cpu: out of memory allocating ", bytes, " bytes");
  std::lock_guard<std::mutex> lock(c.mutex);
  c.sizes.emplace(p, rounded);
  ++c.stats.system_allocs;
  c.stats.in_use_bytes += rounded;
  return p;
}

void free(void* ptr, int, Stream) {
  if (!ptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.sizes.find(ptr);
  AE_CHECK(it != c.sizes.end(), "cpu: free of a pointer the CPU allocator did not hand out");
  const size_t rounded = it->second;
  c.stats.in_use_bytes -= rounded;
  if (rounded <= kMaxCachedBlock && c.stats.cached_bytes + rounded <= kMaxCachedTotal) {
    c.free_blocks[rounded].push_back(ptr);
    c.stats.cached_bytes += rounded;
    ASAN_POISON_MEMORY_REGION(ptr, rounded);
    return;
  }
  c.sizes.erase(it);
  ++c.stats.system_frees;
  std::free(ptr);
}

void copy(void* dst, const void* src, size_t bytes, CopyKind, Stream) {
  if (bytes) std::memcpy(dst, src, bytes);
}

void synchronize(Stream) {}

// The CPU copies synchronously: host memory needs no pinning and no point needs waiting for.
void* host_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* ptr = std::malloc(bytes);
  AE_CHECK(ptr != nullptr, "cpu host_alloc: out of memory (", bytes, " bytes)");
  return ptr;
}
void host_free(void* ptr) { std::free(ptr); }
void* event_create(Stream) { return nullptr; }
void event_destroy(void*) {}
void event_record(void*, Stream) {}
void event_synchronize(void*) {}

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

MemoryStats memory_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void release_cached_memory() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [rounded, blocks] : c.free_blocks)
    for (void* p : blocks) {
      ASAN_UNPOISON_MEMORY_REGION(p, rounded);
      c.sizes.erase(p);
      ++c.stats.system_frees;
      std::free(p);
    }
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

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
      .host_alloc = cpu::host_alloc,
      .host_free = cpu::host_free,
      .event_create = cpu::event_create,
      .event_destroy = cpu::event_destroy,
      .event_record = cpu::event_record,
      .event_synchronize = cpu::event_synchronize,
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
      .topk_rows = cpu::topk_rows,
      .kth_largest = cpu::kth_largest,
      .threshold_count = cpu::threshold_count,
      .threshold_select = cpu::threshold_select,
      .sparse_decode = cpu::sparse_decode,
      .sparse_to_dense = cpu::sparse_to_dense,
      .sparse_decode_backward = cpu::sparse_decode_backward,
      .group_by_latent = cpu::group_by_latent,
      .sparse_outer_grad = cpu::sparse_outer_grad,
      .row_normalize = cpu::row_normalize,
      .row_project_out = cpu::row_project_out,
      .jumprelu_l0 = cpu::jumprelu_l0,
      .jumprelu_threshold_grad = cpu::jumprelu_threshold_grad,
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
