// The sparse-code kernels (semantics: kernels/backend.h, "sparse codes"; CPU twin: cpu/sparse.cpp).
//
// Selections give the CPU's indices exactly: top-k by a per-row radix select on order-preserving
// unsigned keys, ties to the lower latent, then a bitonic sort in shared memory (a stable
// segmented sort of whole rows when k is too large for it); threshold selection keeps latent order
// through block-wide prefix sums. Sums per latent take the slots of group_by_latent (a stable
// radix sort of the slots by latent) in ascending order, one block per latent, without atomics on
// floats. Every sum runs in the CPU's order and precision with unfused multiply-adds (the CPU
// loops are built with -ffp-contract=off), so only jumprelu_threshold_grad's exp differs from the
// CPU, by the last-place error of the two math libraries. Integer counts use atomics.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include <algorithm>
#include <climits>

#include "kernels/cuda/launch.cuh"

namespace ae::cu {

namespace {

constexpr int kBlock = 256;         // threads of the per-row, per-latent and histogram kernels
constexpr int kRadixBits = 8;       // digit of the radix selections
constexpr int kBins = 1 << kRadixBits;
constexpr int64_t kSortInBlock = 2048;  // largest k that topk_rows sorts in shared memory

// Unfused arithmetic, as in the CPU loops.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

// Order-preserving unsigned keys (the CPU's sort_key): a larger float has a larger key.
template <class T>
struct KeyOf;
template <>
struct KeyOf<float> {
  using type = uint32_t;
};
template <>
struct KeyOf<double> {
  using type = unsigned long long;
};
template <class T>
using Key = typename KeyOf<T>::type;

__device__ __forceinline__ uint32_t sort_key(float v) {
  const uint32_t u = __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ unsigned long long sort_key(double v) {
  const auto u = static_cast<unsigned long long>(__double_as_longlong(v));
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}
__device__ __forceinline__ float from_key(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}
__device__ __forceinline__ double from_key(unsigned long long k) {
  return __longlong_as_double(static_cast<long long>(
      (k & 0x8000000000000000ull) ? (k & 0x7fffffffffffffffull) : ~k));
}
// The key under which top-k compares: -0 and +0 are equal floats, so they share a key and tie.
template <class T>
__device__ __forceinline__ Key<T> rank_key(T v) {
  return sort_key(v == T(0) ? T(0) : v);
}

// hist[bin] += 1 for the lanes with bin >= 0, one atomic per distinct bin of the warp: the keys
// of a row crowd into a few bins of the first digits, where lane-by-lane atomics would serialize.
// Called by all 32 lanes of the warp together.
template <class Count>
__device__ __forceinline__ void count_in_bin(Count* hist, int bin) {
  const unsigned peers = __match_any_sync(0xffffffffu, bin);
  if (bin >= 0 && __ffs(peers) - 1 == int(threadIdx.x & 31))
    atomicAdd(&hist[bin], Count(__popc(peers)));
}

// The bin of the `rank`-th largest key (rank >= 1) from a histogram of kBins bins, one bin per
// thread of a kBins-thread block: a suffix sum over the bins, highest first. Returns true on the
// one thread whose bin holds it, with the rank left within that bin.
template <class Count>
__device__ __forceinline__ bool find_bin(Count in_bin, Count rank, Count* rank_in_bin,
                                         typename cub::BlockScan<Count, kBins>::TempStorage& tmp) {
  Count above;
  cub::BlockScan<Count, kBins>(tmp).ExclusiveSum(in_bin, above);
  if (above < rank && rank <= above + in_bin) {
    *rank_in_bin = rank - above;
    return true;
  }
  return false;
}

// --- topk_rows -----------------------------------------------------------------------------

// One block (kBins threads) per row: a radix select finds the key K of the k-th largest entry and
// how many entries equal to it are taken (the lowest latents among them), the k entries are
// gathered into shared memory and sorted by (value descending, latent ascending).
template <class T>
__global__ void __launch_bounds__(kBins) topk_rows_kernel(const T* x, int64_t rows, int64_t n,
                                                          int k, int sort_size, T* values,
                                                          int32_t* index) {
  using K = Key<T>;
  using Scan = cub::BlockScan<int, kBins>;
  __shared__ typename Scan::TempStorage scan_tmp;
  __shared__ int hist[kBins];
  __shared__ K s_prefix;
  __shared__ int s_rank, s_taken_gt, s_eq_seen;
  __shared__ K keys[kSortInBlock];
  __shared__ int32_t latents[kSortInBlock];
  const int t = threadIdx.x;
  constexpr int kKeyBits = 8 * sizeof(K);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    // Radix select, highest digit first.
    K prefix = 0, mask = 0;
    int rank = k;
    for (int shift = kKeyBits - kRadixBits; shift >= 0; shift -= kRadixBits) {
      hist[t] = 0;
      __syncthreads();
      for (int64_t base = 0; base < n; base += kBins) {  // uniform over the block
        const int64_t i = base + t;
        const K key = i < n ? rank_key(xr[i]) : K(0);
        const bool under = i < n && (key & mask) == prefix;
        count_in_bin(hist, under ? int((key >> shift) & (kBins - 1)) : -1);
      }
      __syncthreads();
      int rank_in_bin = 0;
      const int bin = kBins - 1 - t;  // thread t holds the t-th bin from the top
      if (find_bin<int>(hist[bin], rank, &rank_in_bin, scan_tmp)) {
        s_prefix = prefix | (K(bin) << shift);
        s_rank = rank_in_bin;
      }
      __syncthreads();
      prefix = s_prefix;
      rank = s_rank;
      mask |= K(kBins - 1) << shift;
    }
    // prefix is the k-th largest key; `rank` entries equal to it are taken, the lowest latents.
    if (t == 0) s_taken_gt = s_eq_seen = 0;
    __syncthreads();
    const int gt_slots = k - rank;
    for (int64_t base = 0; base < n; base += kBins) {
      const int64_t i = base + t;
      const K key = i < n ? rank_key(xr[i]) : K(0);
      const bool gt = i < n && key > prefix, eq = i < n && key == prefix;
      int eq_before = 0, eq_total = 0;
      Scan(scan_tmp).ExclusiveSum(int(eq), eq_before, eq_total);
      const int eq_rank = s_eq_seen + eq_before;
      if (gt) {
        const int s = atomicAdd(&s_taken_gt, 1);
        keys[s] = key;
        latents[s] = static_cast<int32_t>(i);
      } else if (eq && eq_rank < rank) {
        keys[gt_slots + eq_rank] = key;
        latents[gt_slots + eq_rank] = static_cast<int32_t>(i);
      }
      __syncthreads();
      if (t == 0) s_eq_seen += eq_total;
      __syncthreads();
    }
    // Padding after the k entries sorts last: the smallest key, the largest latent.
    for (int s = k + t; s < sort_size; s += kBins) {
      keys[s] = K(0);
      latents[s] = INT_MAX;
    }
    __syncthreads();
    // Bitonic sort of sort_size (a power of two) entries into (key descending, latent ascending).
    for (int size = 2; size <= sort_size; size <<= 1) {
      for (int stride = size >> 1; stride > 0; stride >>= 1) {
        for (int a = t; a < sort_size; a += kBins) {
          const int b = a ^ stride;
          if (b <= a) continue;
          const bool first_before =
              keys[a] > keys[b] || (keys[a] == keys[b] && latents[a] < latents[b]);
          const bool want_before = (a & size) == 0;  // ascending run in "before" order
          if (first_before != want_before) {
            const K tk = keys[a];
            keys[a] = keys[b];
            keys[b] = tk;
            const int32_t tl = latents[a];
            latents[a] = latents[b];
            latents[b] = tl;
          }
        }
        __syncthreads();
      }
    }
    for (int s = t; s < k; s += kBins) {
      const int32_t i = latents[s];
      const T v = xr[i];
      values[r * k + s] = v < T(0) ? T(0) : v;
      index[r * k + s] = i;
    }
    __syncthreads();
  }
}

// The large-k path: keys (rank_key, to sort descending) and latents of every entry.
template <class T>
__global__ void topk_keys_kernel(const T* x, int64_t count, int64_t n, Key<T>* keys,
                                 int32_t* latents) {
  const bool small = count <= int64_t(UINT32_MAX);
  for (int64_t i = global_thread(); i < count; i += grid_threads()) {
    keys[i] = rank_key(x[i]);
    latents[i] = static_cast<int32_t>(mod_index(i, n, small));
  }
}

__global__ void row_offsets_kernel(int* offsets, int64_t rows, int64_t n) {
  for (int64_t r = global_thread(); r <= rows; r += grid_threads()) offsets[r] = int(r * n);
}

// values/index (rows, k) from the first k of each sorted row of (rows, n) latents.
template <class T>
__global__ void topk_take_kernel(const T* x, const int32_t* sorted, int64_t rows, int64_t n,
                                 int64_t k, T* values, int32_t* index) {
  const int64_t count = rows * k;
  const bool small = count <= int64_t(UINT32_MAX);
  for (int64_t p = global_thread(); p < count; p += grid_threads()) {
    const int64_t r = div_index(p, k, small), s = p - r * k;
    const int32_t i = sorted[r * n + s];
    const T v = x[r * n + i];
    values[p] = v < T(0) ? T(0) : v;
    index[p] = i;
  }
}

template <class T>
void topk_rows_large(const T* x, int64_t rows, int64_t n, int64_t k, T* values, int32_t* index,
                     const DeviceInfo& dev, Stream s) {
  using K = Key<T>;
  auto cs = static_cast<cudaStream_t>(s);
  // Rows per segmented sort: about 2^26 items (1.6 GB of keys and latents in and out at most).
  const int64_t chunk_rows = std::max<int64_t>(1, (int64_t(1) << 26) / n);
  const int64_t chunk = std::min(rows, chunk_rows);
  const int64_t items = chunk * n;
  Scratch keys_in(size_t(items) * sizeof(K), s), keys_out(size_t(items) * sizeof(K), s);
  Scratch lat_in(size_t(items) * 4, s), lat_out(size_t(items) * 4, s);
  Scratch offsets(size_t(chunk + 1) * sizeof(int), s);
  size_t temp_bytes = 0;
  AE_CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairsDescending(
                    nullptr, temp_bytes, keys_in.as<K>(), keys_out.as<K>(), lat_in.as<int32_t>(),
                    lat_out.as<int32_t>(), int(items), int(chunk), offsets.as<int>(),
                    offsets.as<int>() + 1, cs),
                "cuda topk_rows (n=", n, ", k=", k, ")");
  Scratch temp(std::max<size_t>(temp_bytes, 1), s);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t rs = std::min(chunk, rows - r0);
    topk_keys_kernel<T><<<grid_for(rs * n, dev), kThreads, 0, cs>>>(
        x + r0 * n, rs * n, n, keys_in.as<K>(), lat_in.as<int32_t>());
    row_offsets_kernel<<<grid_for(rs + 1, dev), kThreads, 0, cs>>>(offsets.as<int>(), rs, n);
    AE_CUDA_CHECK_LAUNCH("cuda topk_rows keys (n=", n, ", k=", k, ")");
    AE_CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairsDescending(
                      temp.get(), temp_bytes, keys_in.as<K>(), keys_out.as<K>(),
                      lat_in.as<int32_t>(), lat_out.as<int32_t>(), int(rs * n), int(rs),
                      offsets.as<int>(), offsets.as<int>() + 1, cs),
                  "cuda topk_rows (n=", n, ", k=", k, ")");
    topk_take_kernel<T><<<grid_for(rs * k, dev), kThreads, 0, cs>>>(
        x + r0 * n, lat_out.as<int32_t>(), rs, n, k, values + r0 * k, index + r0 * k);
    AE_CUDA_CHECK_LAUNCH("cuda topk_rows take (n=", n, ", k=", k, ")");
  }
}

// --- kth_largest ---------------------------------------------------------------------------

// The state of a global radix select, in scratch memory.
template <class K>
struct SelectState {
  K prefix;
  K mask;
  unsigned long long rank;
  unsigned long long hist[kBins];
};

template <class K>
__global__ void select_init_kernel(SelectState<K>* st, int64_t k) {
  if (threadIdx.x == 0) {
    st->prefix = 0;
    st->mask = 0;
    st->rank = static_cast<unsigned long long>(k);
  }
  st->hist[threadIdx.x] = 0;
}

// Adds the digits at `shift` of the keys under the state's prefix to its histogram.
template <class T>
__global__ void __launch_bounds__(kBins) select_hist_kernel(const T* x, int64_t count, int shift,
                                                            SelectState<Key<T>>* st) {
  using K = Key<T>;
  __shared__ unsigned int hist[kBins];
  hist[threadIdx.x] = 0;
  const K prefix = st->prefix, mask = st->mask;
  __syncthreads();
  for (int64_t base = int64_t(blockIdx.x) * kBins; base < count; base += grid_threads()) {
    const int64_t i = base + threadIdx.x;  // the loop is uniform over the block
    const K key = i < count ? sort_key(x[i]) : K(0);
    const bool under = i < count && (key & mask) == prefix;
    count_in_bin(hist, under ? int((key >> shift) & (kBins - 1)) : -1);
  }
  __syncthreads();
  if (const unsigned c = hist[threadIdx.x]; c != 0)
    atomicAdd(&st->hist[threadIdx.x], static_cast<unsigned long long>(c));
}

// Narrows the prefix to the bin of the sought rank and clears the histogram; the last pass writes
// the k-th largest value.
template <class T>
__global__ void __launch_bounds__(kBins) select_step_kernel(SelectState<Key<T>>* st, int shift,
                                                            T* kth) {
  using K = Key<T>;
  using Count = unsigned long long;
  __shared__ typename cub::BlockScan<Count, kBins>::TempStorage tmp;
  const int t = threadIdx.x, bin = kBins - 1 - t;
  Count rank_in_bin = 0;
  const Count rank = st->rank;
  const K prefix = st->prefix;
  __syncthreads();
  if (find_bin<Count>(st->hist[bin], rank, &rank_in_bin, tmp)) {
    st->prefix = prefix | (K(bin) << shift);
    st->rank = rank_in_bin;
    st->mask |= K(kBins - 1) << shift;
    if (shift == 0) *kth = from_key(st->prefix);
  }
  __syncthreads();
  st->hist[t] = 0;
}

// --- threshold selection -------------------------------------------------------------------

template <class T>
__device__ __forceinline__ bool kept(T x, T theta, T band) {
  return x > T(0) && (x >= theta || x > theta - band);
}

template <class T>
__global__ void __launch_bounds__(kBlock) threshold_count_kernel(const T* x, int64_t rows,
                                                                 int64_t n, const T* theta,
                                                                 bool per_latent, T band,
                                                                 int32_t* counts) {
  using Reduce = cub::BlockReduce<int, kBlock>;
  __shared__ typename Reduce::TempStorage tmp;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int c = 0;
    for (int64_t i = threadIdx.x; i < n; i += kBlock)
      c += kept(x[r * n + i], theta[per_latent ? i : 0], band);
    const int total = Reduce(tmp).Sum(c);
    if (threadIdx.x == 0) counts[r] = total;
    __syncthreads();
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) threshold_select_kernel(
    const T* x, int64_t rows, int64_t n, const T* theta, bool per_latent, T band, int64_t width,
    T* values, T* x_at, int32_t* index) {
  using Scan = cub::BlockScan<int, kBlock>;
  __shared__ typename Scan::TempStorage tmp;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t filled = 0;  // slots taken so far, the same on every thread
    for (int64_t base = 0; base < n && filled < width; base += kBlock) {
      const int64_t i = base + threadIdx.x;
      T xi = T(0), th = T(0);
      bool keep = false;
      if (i < n) {
        xi = x[r * n + i];
        th = theta[per_latent ? i : 0];
        keep = kept(xi, th, band);
      }
      int before = 0, total = 0;
      Scan(tmp).ExclusiveSum(int(keep), before, total);
      const int64_t s = filled + before;
      if (keep && s < width) {
        const int64_t p = r * width + s;
        values[p] = xi >= th ? xi : T(0);
        if (x_at) x_at[p] = xi;
        index[p] = static_cast<int32_t>(i);
      }
      filled += total;
      __syncthreads();
    }
    for (int64_t s = (filled < width ? filled : width) + threadIdx.x; s < width; s += kBlock) {
      const int64_t p = r * width + s;
      values[p] = T(0);
      if (x_at) x_at[p] = T(0);
      index[p] = -1;
    }
  }
}

// --- the sparse decoder --------------------------------------------------------------------

// Threads of a block whose threads walk `dim` columns: a multiple of 32, at most kBlock.
int dim_threads(int64_t dim) {
  return static_cast<int>(std::clamp<int64_t>((dim + 31) / 32 * 32, 32, kBlock));
}
unsigned row_grid(int64_t rows) {
  return static_cast<unsigned>(std::min<int64_t>(rows, int64_t(1) << 30));
}

// One block per row; y[r, j] summed over the slots in order, in T, as on the CPU.
template <class T>
__global__ void sparse_decode_kernel(const T* values, const int32_t* index, int64_t rows,
                                     int64_t width, const T* w, int64_t dim, const T* b, T* y) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
      T acc = b ? b[j] : T(0);
      for (int64_t s = 0; s < width; ++s) {
        const int32_t i = index[r * width + s];
        const T v = values[r * width + s];
        if (i < 0 || v == T(0)) continue;
        acc = add_rn(acc, mul_rn(v, w[int64_t(i) * dim + j]));
      }
      y[r * dim + j] = acc;
    }
}

// One warp per slot: <dy[r, :], W[i, :]> in float64 (as on the CPU), lanes over dim.
template <class T>
__global__ void sparse_decode_backward_kernel(const T* dy, const int32_t* index, int64_t rows,
                                              int64_t width, const T* w, int64_t dim, T* dv) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = grid_threads() / 32, slots = rows * width;
  const bool small = slots <= int64_t(UINT32_MAX);
  for (int64_t p = global_thread() / 32; p < slots; p += warps) {
    const int32_t i = index[p];
    if (i < 0) {
      if (lane == 0) dv[p] = T(0);
      continue;
    }
    const T* dyr = dy + div_index(p, width, small) * dim;
    const T* wi = w + int64_t(i) * dim;
    double acc = 0;
    for (int64_t j = lane; j < dim; j += 32)
      acc = __dadd_rn(acc, __dmul_rn(static_cast<double>(dyr[j]), static_cast<double>(wi[j])));
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
    if (lane == 0) dv[p] = static_cast<T>(acc);
  }
}

template <class T>
__global__ void sparse_scatter_kernel(const T* values, const int32_t* index, int64_t rows,
                                      int64_t width, int64_t latents, T* y) {
  // One thread per row, slots in order: a latent named twice keeps its last value, as on the CPU.
  for (int64_t r = global_thread(); r < rows; r += grid_threads())
    for (int64_t s = 0; s < width; ++s)
      if (const int32_t i = index[r * width + s]; i >= 0)
        y[r * latents + i] = values[r * width + s];
}

// --- sums per latent -----------------------------------------------------------------------

__global__ void latent_count_kernel(const int32_t* index, int64_t slots, int32_t* counts) {
  for (int64_t p = global_thread(); p < slots; p += grid_threads())
    if (const int32_t i = index[p]; i >= 0) atomicAdd(&counts[i], 1);
}

__global__ void iota_kernel(int32_t* y, int64_t n) {
  for (int64_t p = global_thread(); p < n; p += grid_threads()) y[p] = static_cast<int32_t>(p);
}

// Block (i, tile): dw[i, tile's columns] and, on tile 0, db[i], summed over latent i's slots in
// ascending order in float64, as on the CPU.
template <class T>
__global__ void sparse_outer_grad_kernel(const T* g, const int32_t* offsets, const int32_t* order,
                                         int64_t width, const T* x, int64_t latents, int64_t dim,
                                         double beta, T* dw, T* db) {
  const T bt = static_cast<T>(beta);
  const int64_t j = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  for (int64_t i = blockIdx.x; i < latents; i += gridDim.x) {
    const int32_t q0 = offsets[i], q1 = offsets[i + 1];
    if (dw && j < dim) {
      double acc = 0;
      for (int32_t q = q0; q < q1; ++q) {
        const int32_t p = order[q];
        const double gp = g[p];
        if (gp != 0)
          acc = __dadd_rn(acc, __dmul_rn(gp, static_cast<double>(x[(p / width) * dim + j])));
      }
      T* d = dw + i * dim + j;
      *d = add_rn(beta == 0 ? T(0) : mul_rn(bt, *d), static_cast<T>(acc));
    }
    if (db && blockIdx.y == 0 && threadIdx.x == 0) {
      double sum = 0;
      for (int32_t q = q0; q < q1; ++q) sum = __dadd_rn(sum, static_cast<double>(g[order[q]]));
      db[i] = add_rn(beta == 0 ? T(0) : mul_rn(bt, db[i]), static_cast<T>(sum));
    }
  }
}

// --- unit-norm dictionary rows ----------------------------------------------------------------

// One block per row: the row's dot product (w_r · w_r, or g_r · w_r) summed in float64, then the
// row updated.
template <class T>
__global__ void __launch_bounds__(kBlock) unit_rows_kernel(const T* w, T* out, int64_t rows,
                                                           int64_t cols, bool normalize) {
  using Reduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ double total;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* wr = w + r * cols;
    T* o = out + r * cols;
    double part = 0;
    for (int64_t j = threadIdx.x; j < cols; j += kBlock)
      part += static_cast<double>(o[j]) * static_cast<double>(wr[j]);
    const double sum = Reduce(temp).Sum(part);
    if (threadIdx.x == 0) total = sum;
    __syncthreads();
    if (normalize) {
      if (total > 0) {
        const T inv = static_cast<T>(1 / sqrt(total));
        for (int64_t j = threadIdx.x; j < cols; j += kBlock) o[j] = mul_rn(o[j], inv);
      }
    } else {
      const T along = static_cast<T>(total);
      for (int64_t j = threadIdx.x; j < cols; j += kBlock)
        o[j] = add_rn(o[j], -mul_rn(along, wr[j]));
    }
    __syncthreads();
  }
}

// --- JumpReLU ------------------------------------------------------------------------------

constexpr int kL0Threads = 1024;

template <class T>
__global__ void __launch_bounds__(kL0Threads) jumprelu_l0_kernel(const T* values, int64_t slots,
                                                                 int64_t rows, T* l0) {
  using Reduce = cub::BlockReduce<unsigned long long, kL0Threads>;
  __shared__ typename Reduce::TempStorage tmp;
  unsigned long long active = 0;
  for (int64_t p = threadIdx.x; p < slots; p += kL0Threads) active += values[p] > T(0);
  const unsigned long long total = Reduce(tmp).Sum(active);
  if (threadIdx.x == 0)
    *l0 = static_cast<T>(static_cast<double>(total) / static_cast<double>(rows));
}

template <class T>
__global__ void jumprelu_threshold_grad_kernel(const T* dv, const T* dl0, const T* x_at,
                                               const int32_t* index, int64_t rows, int64_t width,
                                               const T* log_theta, double eps, T* g) {
  const int64_t slots = rows * width;
  const double l0_grad = dl0 ? static_cast<double>(*dl0) / static_cast<double>(rows) : 0.0;
  for (int64_t p = global_thread(); p < slots; p += grid_threads()) {
    const int32_t i = index[p];
    if (i < 0) {
      g[p] = T(0);
      continue;
    }
    const double theta = exp(static_cast<double>(log_theta[i]));
    const bool in_kernel = fabs(static_cast<double>(x_at[p]) - theta) < eps / 2;
    const double dvp = dv ? static_cast<double>(dv[p]) : 0.0;
    g[p] = in_kernel ? static_cast<T>(-theta / eps * __dadd_rn(__dmul_rn(dvp, theta), l0_grad))
                     : T(0);
  }
}

}  // namespace

void topk_rows(DType dt, const void* x, int64_t rows, int64_t n, int64_t k, void* values,
               int32_t* index, Stream s) {
  if (rows <= 0 || k <= 0) return;
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T* vs = static_cast<T*>(values);
    if (k > kSortInBlock) return topk_rows_large(xs, rows, n, k, vs, index, dev, s);
    int sort_size = 1;
    while (sort_size < k) sort_size <<= 1;
    topk_rows_kernel<T><<<row_grid(rows), kBins, 0, static_cast<cudaStream_t>(s)>>>(
        xs, rows, n, int(k), sort_size, vs, index);
  });
  AE_CUDA_CHECK_LAUNCH("cuda topk_rows (", dtype_name(dt), ", rows=", rows, ", n=", n, ", k=", k,
                       ")");
}

void kth_largest(DType dt, const void* x, int64_t count, int64_t k, void* kth, Stream s) {
  if (count <= 0) return;
  const DeviceInfo& dev = activate(s);
  auto cs = static_cast<cudaStream_t>(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using K = Key<T>;
    Scratch state(sizeof(SelectState<K>), s);
    auto* st = state.as<SelectState<K>>();
    select_init_kernel<K><<<1, kBins, 0, cs>>>(st, k);
    for (int shift = 8 * int(sizeof(K)) - kRadixBits; shift >= 0; shift -= kRadixBits) {
      select_hist_kernel<T><<<grid_for(count, dev, kBins), kBins, 0, cs>>>(
          static_cast<const T*>(x), count, shift, st);
      select_step_kernel<T><<<1, kBins, 0, cs>>>(st, shift, static_cast<T*>(kth));
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda kth_largest (", dtype_name(dt), ", count=", count, ", k=", k, ")");
}

void threshold_count(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                     bool per_latent, double band, int32_t* counts, Stream s) {
  if (rows <= 0) return;
  activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    threshold_count_kernel<T><<<row_grid(rows), kBlock, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(x), rows, n, static_cast<const T*>(theta), per_latent,
        static_cast<T>(band), counts);
  });
  AE_CUDA_CHECK_LAUNCH("cuda threshold_count (", dtype_name(dt), ", rows=", rows, ", n=", n, ")");
}

void threshold_select(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                      bool per_latent, double band, int64_t width, void* values, void* x_at,
                      int32_t* index, Stream s) {
  if (rows <= 0 || width <= 0) return;
  activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    threshold_select_kernel<T><<<row_grid(rows), kBlock, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(x), rows, n, static_cast<const T*>(theta), per_latent,
        static_cast<T>(band), width, static_cast<T*>(values), static_cast<T*>(x_at), index);
  });
  AE_CUDA_CHECK_LAUNCH("cuda threshold_select (", dtype_name(dt), ", rows=", rows, ", n=", n,
                       ", width=", width, ")");
}

void sparse_decode(DType dt, const void* values, const int32_t* index, int64_t rows,
                   int64_t width, const void* w, int64_t dim, const void* b, void* y, Stream s) {
  if (rows <= 0 || dim <= 0) return;
  activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    sparse_decode_kernel<T><<<row_grid(rows), dim_threads(dim), 0,
                              static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(values), index, rows, width, static_cast<const T*>(w), dim,
        static_cast<const T*>(b), static_cast<T*>(y));
  });
  AE_CUDA_CHECK_LAUNCH("cuda sparse_decode (", dtype_name(dt), ", rows=", rows, ", width=", width,
                       ", dim=", dim, ")");
}

void sparse_to_dense(DType dt, const void* values, const int32_t* index, int64_t rows,
                     int64_t width, int64_t latents, void* y, Stream s) {
  if (rows <= 0 || latents <= 0) return;
  fill(dt, y, rows * latents, 0.0, s);
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    sparse_scatter_kernel<T><<<grid_for(rows, dev), kThreads, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(values), index, rows, width, latents, static_cast<T*>(y));
  });
  AE_CUDA_CHECK_LAUNCH("cuda sparse_to_dense (", dtype_name(dt), ", rows=", rows, ", width=",
                       width, ", latents=", latents, ")");
}

void sparse_decode_backward(DType dt, const void* dy, const int32_t* index, int64_t rows,
                            int64_t width, const void* w, int64_t dim, void* dv, Stream s) {
  if (rows <= 0 || width <= 0) return;
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    sparse_decode_backward_kernel<T><<<grid_for(rows * width * 32, dev), kThreads, 0,
                                       static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(dy), index, rows, width, static_cast<const T*>(w), dim,
        static_cast<T*>(dv));
  });
  AE_CUDA_CHECK_LAUNCH("cuda sparse_decode_backward (", dtype_name(dt), ", rows=", rows,
                       ", width=", width, ", dim=", dim, ")");
}

void group_by_latent(const int32_t* index, int64_t slots, int64_t latents, int32_t* offsets,
                     int32_t* order, Stream s) {
  const DeviceInfo& dev = activate(s);
  auto cs = static_cast<cudaStream_t>(s);
  const auto context = [&] { return cat("(slots=", slots, ", latents=", latents, ")"); };
  // counts (latents + 1, the last 0), then offsets = their exclusive prefix sums.
  Scratch counts(size_t(latents + 1) * 4, s);
  AE_CUDA_CHECK(cudaMemsetAsync(counts.get(), 0, size_t(latents + 1) * 4, cs),
                "cuda group_by_latent ", context());
  if (slots > 0) {
    latent_count_kernel<<<grid_for(slots, dev), kThreads, 0, cs>>>(index, slots,
                                                                  counts.as<int32_t>());
    AE_CUDA_CHECK_LAUNCH("cuda group_by_latent count ", context());
  }
  size_t scan_bytes = 0;
  AE_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, counts.as<int32_t>(), offsets,
                                              int(latents + 1), cs),
                "cuda group_by_latent ", context());
  {
    Scratch temp(std::max<size_t>(scan_bytes, 1), s);
    AE_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.get(), scan_bytes, counts.as<int32_t>(),
                                                offsets, int(latents + 1), cs),
                  "cuda group_by_latent ", context());
  }
  if (slots <= 0) return;
  // The slot positions in ascending order, stably sorted by latent. Keys as unsigned: an empty
  // slot (-1) has every bit set and sorts after every latent < 2^bits.
  int bits = 1;
  while (bits < 32 && (int64_t(1) << bits) <= latents) ++bits;
  Scratch keys_out(size_t(slots) * 4, s), positions(size_t(slots) * 4, s);
  iota_kernel<<<grid_for(slots, dev), kThreads, 0, cs>>>(positions.as<int32_t>(), slots);
  AE_CUDA_CHECK_LAUNCH("cuda group_by_latent iota ", context());
  const auto* keys_in = reinterpret_cast<const uint32_t*>(index);
  size_t sort_bytes = 0;
  AE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, keys_in,
                                                keys_out.as<uint32_t>(), positions.as<int32_t>(),
                                                order, int(slots), 0, bits, cs),
                "cuda group_by_latent ", context());
  Scratch temp(std::max<size_t>(sort_bytes, 1), s);
  AE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.get(), sort_bytes, keys_in,
                                                keys_out.as<uint32_t>(), positions.as<int32_t>(),
                                                order, int(slots), 0, bits, cs),
                "cuda group_by_latent ", context());
}

void sparse_outer_grad(DType dt, const void* g, const int32_t* offsets, const int32_t* order,
                       int64_t width, const void* x, int64_t latents, int64_t dim, double beta,
                       void* dw, void* db, Stream s) {
  if (latents <= 0 || (!dw && !db)) return;
  activate(s);
  const int threads = dw ? dim_threads(dim) : 32;
  const int64_t tiles = dw ? (dim + threads - 1) / threads : 1;
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    sparse_outer_grad_kernel<T><<<dim3(row_grid(latents), unsigned(std::max<int64_t>(tiles, 1))),
                                  threads, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(g), offsets, order, width, static_cast<const T*>(x), latents,
        dw ? dim : 0, beta, static_cast<T*>(dw), static_cast<T*>(db));
  });
  AE_CUDA_CHECK_LAUNCH("cuda sparse_outer_grad (", dtype_name(dt), ", latents=", latents,
                       ", dim=", dim, ")");
}

void row_normalize(DType dt, void* w, int64_t rows, int64_t cols, Stream s) {
  if (rows <= 0 || cols <= 0) return;
  activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    unit_rows_kernel<T><<<row_grid(rows), kBlock, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(w), static_cast<T*>(w), rows, cols, true);
  });
  AE_CUDA_CHECK_LAUNCH("cuda row_normalize (", dtype_name(dt), ", rows=", rows, ", cols=", cols,
                       ")");
}

void row_project_out(DType dt, const void* w, void* g, int64_t rows, int64_t cols, Stream s) {
  if (rows <= 0 || cols <= 0) return;
  activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    unit_rows_kernel<T><<<row_grid(rows), kBlock, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(w), static_cast<T*>(g), rows, cols, false);
  });
  AE_CUDA_CHECK_LAUNCH("cuda row_project_out (", dtype_name(dt), ", rows=", rows, ", cols=",
                       cols, ")");
}

void jumprelu_l0(DType dt, const void* values, int64_t slots, int64_t rows, void* l0, Stream s) {
  activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    jumprelu_l0_kernel<T><<<1, kL0Threads, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(values), slots, rows, static_cast<T*>(l0));
  });
  AE_CUDA_CHECK_LAUNCH("cuda jumprelu_l0 (", dtype_name(dt), ", slots=", slots, ")");
}

void jumprelu_threshold_grad(DType dt, const void* dv, const void* dl0, const void* x_at,
                             const int32_t* index, int64_t rows, int64_t width,
                             const void* log_theta, double eps, void* g, Stream s) {
  if (rows * width <= 0) return;
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    jumprelu_threshold_grad_kernel<T><<<grid_for(rows * width, dev), kThreads, 0,
                                        static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(dv), static_cast<const T*>(dl0), static_cast<const T*>(x_at),
        index, rows, width, static_cast<const T*>(log_theta), eps, static_cast<T*>(g));
  });
  AE_CUDA_CHECK_LAUNCH("cuda jumprelu_threshold_grad (", dtype_name(dt), ", rows=", rows,
                       ", width=", width, ")");
}

}  // namespace ae::cu
