// reduce_sum and its adjoint expand over x viewed as (outer, n, inner).
//
// Sums accumulate in float64 for both dtypes, as the CPU reference does, and are deterministic:
// each output is combined in a fixed order (warp shuffles, then shared memory, never atomics),
// and the split of the work depends only on the shape and the device's multiprocessor count.
// Two paths:
//   inner == 1 (row sums, the full sum): a warp, or a block of 8 warps for long rows, walks a
//     contiguous chunk of a row; lanes read consecutive elements.
//   inner > 1 (column sums, e.g. the bias gradient): a (32, 8) block owns 32 adjacent columns and
//     a chunk of the n rows; each warp reads 32 consecutive elements of a row.
// When the outputs alone cannot fill the device (a few long rows, a few columns over a large
// batch), n is split into chunks whose float64 partial sums go to scratch memory, and a second
// launch of the same kernel sums the partials in chunk order.
#include <algorithm>

#include "kernels/cuda/launch.cuh"

namespace ae::cu {

namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = kThreads / kWarp;  // 8
constexpr int64_t kMinRowChunk = 2048;            // elements per warp-sized chunk of a row
constexpr int64_t kLongChunk = 8192;              // from here on a whole block sums one chunk
constexpr int kColTile = 32;                      // columns per block on the column path
constexpr int kColRows = 8;                       // rows read at once by a column block
constexpr int64_t kMinColChunk = 32;              // rows per chunk on the column path

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// x (outer, n) -> y (outer, chunks): y[o, s] = scale * sum of x[o, j] over j in chunk s, i.e.
// [s * chunk, min(n, (s + 1) * chunk)). Each item (o, s) is summed by `warps_per_item` warps
// (1 or 8) of a 256-thread block.
template <class In, class Out>
__global__ void __launch_bounds__(kThreads) row_sum_kernel(const In* x, Out* y, int64_t outer, int64_t n, int64_t chunk,
                               int64_t chunks, int warps_per_item, double scale) {
  __shared__ double warp_sums[kWarpsPerBlock];
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int group = warp / warps_per_item;  // which item of the block's batch
  const int group_threads = warps_per_item * kWarp;
  const int group_lane = threadIdx.x - group * group_threads;
  const int groups = kWarpsPerBlock / warps_per_item;
  const int64_t items = outer * chunks;
  // Every thread of the block runs the same iterations (the barriers below need that).
  for (int64_t base = int64_t(blockIdx.x) * groups; base < items;
       base += int64_t(gridDim.x) * groups) {
    const int64_t item = base + group;
    double acc = 0;
    if (item < items) {
      const int64_t o = item / chunks, s = item - o * chunks;
      const int64_t j0 = s * chunk, j1 = min(n, j0 + chunk);
      const In* row = x + o * n;
#pragma unroll 4
      for (int64_t j = j0 + group_lane; j < j1; j += group_threads) acc += double(row[j]);
    }
    acc = warp_sum(acc);
    if (warps_per_item > 1) {
      if (lane == 0) warp_sums[warp] = acc;
      __syncthreads();
      if (lane == 0 && warp == group * warps_per_item) {
        acc = 0;
        for (int w = 0; w < warps_per_item; ++w) acc += warp_sums[group * warps_per_item + w];
      }
      __syncthreads();  // warp_sums is refilled by the next iteration
    }
    if (item < items && lane == 0 && warp == group * warps_per_item)
      y[item] = static_cast<Out>(scale * acc);
  }
}

// x (outer, n, inner) -> y (outer, chunks, inner): y[o, s, i] = scale * sum of x[o, j, i] over j
// in chunk s. Block (32, 8): threadIdx.x picks the column of a 32-column tile, threadIdx.y the
// row within each group of 8.
template <class In, class Out>
__global__ void __launch_bounds__(kThreads) col_sum_kernel(const In* x, Out* y, int64_t outer, int64_t n, int64_t inner,
                               int64_t chunk, int64_t chunks, int64_t tiles, double scale) {
  __shared__ double partial[kColRows][kColTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t per_outer = tiles * chunks;
  const int64_t items = outer * per_outer;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t o = item / per_outer, rest = item - o * per_outer;
    const int64_t tile = rest / chunks, s = rest - tile * chunks;
    const int64_t i = tile * kColTile + tx;
    const int64_t j0 = s * chunk, j1 = min(n, j0 + chunk);
    double acc = 0;
    if (i < inner) {
      const In* col = x + o * n * inner + i;
#pragma unroll 4
      for (int64_t j = j0 + ty; j < j1; j += kColRows) acc += double(col[j * inner]);
    }
    partial[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && i < inner) {
      double sum = 0;
      for (int r = 0; r < kColRows; ++r) sum += partial[r][tx];
      y[(o * chunks + s) * inner + i] = static_cast<Out>(scale * sum);
    }
    __syncthreads();  // partial is refilled by the next iteration
  }
}

// y (outer, n, inner) = scale * x (outer, inner) repeated over n.
template <class T>
__global__ void expand_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                              double scale, bool packed) {
  constexpr int V = Pack<T>::kSize;
  const int64_t total = outer * n * inner;
  const bool small = total <= int64_t(UINT32_MAX);
  const int64_t stride = grid_threads();
  int64_t done = 0;
  if (packed) {
    const int64_t packs = total / V;
    for (int64_t p = global_thread(); p < packs; p += stride) {
      // Coordinates of the pack's first element, then stepped along for the others.
      const int64_t row = div_index(p * V, inner, small);
      int64_t i = p * V - row * inner;
      int64_t o = div_index(row, n, small);
      int64_t j = row - o * n;
      Pack<T> out;
#pragma unroll
      for (int e = 0; e < V; ++e) {
        out.v[e] = static_cast<T>(scale * double(x[o * inner + i]));
        if (++i == inner) {
          i = 0;
          if (++j == n) {
            j = 0;
            ++o;
          }
        }
      }
      reinterpret_cast<Pack<T>*>(y)[p] = out;
    }
    done = packs * V;
  }
  for (int64_t k = done + global_thread(); k < total; k += stride) {
    const int64_t row = div_index(k, inner, small);
    const int64_t i = k - row * inner;
    const int64_t o = div_index(row, n, small);
    y[k] = static_cast<T>(scale * double(x[o * inner + i]));
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Chunks of n that give about `target` work items over `outputs` outputs, none shorter than
// min_chunk; returns the chunk length (the count follows as ceil_div(n, chunk)).
int64_t plan_chunk(int64_t outputs, int64_t n, int64_t target, int64_t min_chunk) {
  int64_t chunks = ceil_div(target, outputs);
  chunks = std::min(chunks, ceil_div(n, min_chunk));
  if (chunks <= 1) return n;
  return ceil_div(n, chunks);
}

// Blocks of `kernel` (256 threads) resident on one multiprocessor at a time. The splits below
// aim at one full wave of the device: a partial second wave would leave most of it idle.
template <class Kernel>
int blocks_per_sm(Kernel kernel, const char* which) {
  int blocks = 0;
  AE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kThreads, 0),
                "cuda reduce_sum: occupancy of the ", which, " kernel");
  return std::max(blocks, 1);
}
// Queried once per kernel (all devices of a process are taken to be of one architecture).
template <class In, class Out>
int row_blocks_per_sm() {
  static const int blocks = blocks_per_sm(row_sum_kernel<In, Out>, "row");
  return blocks;
}
template <class In, class Out>
int col_blocks_per_sm() {
  static const int blocks = blocks_per_sm(col_sum_kernel<In, Out>, "column");
  return blocks;
}

template <class In, class Out>
void launch_rows(const In* x, Out* y, int64_t outer, int64_t n, int64_t chunk, double scale,
                 const DeviceInfo& dev, cudaStream_t cs) {
  const int64_t chunks = ceil_div(n, chunk);
  const int warps_per_item = chunk >= kLongChunk ? kWarpsPerBlock : 1;
  const int64_t blocks = ceil_div(outer * chunks, kWarpsPerBlock / warps_per_item);
  const int64_t resident = int64_t(dev.sm_count) * row_blocks_per_sm<In, Out>();
  row_sum_kernel<In, Out><<<unsigned(std::min(blocks, resident)), kThreads, 0, cs>>>(
      x, y, outer, n, chunk, chunks, warps_per_item, scale);
}

template <class In, class Out>
void launch_cols(const In* x, Out* y, int64_t outer, int64_t n, int64_t inner, int64_t chunk,
                 double scale, const DeviceInfo& dev, cudaStream_t cs) {
  const int64_t chunks = ceil_div(n, chunk);
  const int64_t tiles = ceil_div(inner, kColTile);
  const int64_t blocks = outer * tiles * chunks;
  const int64_t resident = int64_t(dev.sm_count) * col_blocks_per_sm<In, Out>();
  col_sum_kernel<In, Out><<<unsigned(std::min(blocks, resident)), dim3(kColTile, kColRows), 0,
                            cs>>>(x, y, outer, n, inner, chunk, chunks, tiles, scale);
}

// `checked` runs after each launch (so that a failing pass is reported as itself).
template <class T, class Check>
void reduce_sum_typed(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, double scale,
                      const DeviceInfo& dev, Stream s, const Check& checked) {
  auto cs = static_cast<cudaStream_t>(s);
  if (inner == 1) {
    const int64_t resident_warps =
        int64_t(dev.sm_count) * row_blocks_per_sm<T, double>() * kWarpsPerBlock;
    const int64_t chunk = plan_chunk(outer, n, resident_warps, kMinRowChunk);
    if (chunk == n) {
      launch_rows(x, y, outer, n, n, scale, dev, cs);
      return checked("");
    }
    const int64_t chunks = ceil_div(n, chunk);
    Scratch partial(size_t(outer * chunks) * sizeof(double), s);
    launch_rows(x, partial.as<double>(), outer, n, chunk, 1.0, dev, cs);
    checked(", pass 1 of 2");
    launch_rows(partial.as<const double>(), y, outer, chunks, chunks, scale, dev, cs);
    checked(", pass 2 of 2");
  } else {
    const int64_t tiles = ceil_div(inner, kColTile);
    const int64_t resident_blocks = int64_t(dev.sm_count) * col_blocks_per_sm<T, double>();
    const int64_t chunk = plan_chunk(outer * tiles, n, resident_blocks, kMinColChunk);
    if (chunk == n) {
      launch_cols(x, y, outer, n, inner, n, scale, dev, cs);
      return checked("");
    }
    const int64_t chunks = ceil_div(n, chunk);
    Scratch partial(size_t(outer * chunks * inner) * sizeof(double), s);
    launch_cols(x, partial.as<double>(), outer, n, inner, chunk, 1.0, dev, cs);
    checked(", pass 1 of 2");
    launch_cols(partial.as<const double>(), y, outer, chunks, inner, chunks, scale, dev, cs);
    checked(", pass 2 of 2");
  }
}

}  // namespace

void reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                double scale, Stream s) {
  if (outer <= 0 || inner <= 0) return;
  if (n <= 0) return fill(dt, y, outer * inner, 0.0, s);  // the empty sum
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    reduce_sum_typed(static_cast<const T*>(x), static_cast<T*>(y), outer, n, inner, scale, dev, s,
                     [&](const char* pass) {
                       AE_CUDA_CHECK_LAUNCH("cuda reduce_sum (", dtype_name(dt), ", outer=", outer,
                                            ", n=", n, ", inner=", inner, pass, ")");
                     });
  });
}

void expand(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
            double scale, Stream s) {
  const int64_t total = outer * n * inner;
  if (total <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = is_aligned16(y);  // x is read element by element (it is small and cached)
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    expand_kernel<T><<<grid_for(packed ? total / Pack<T>::kSize + 1 : total, dev), kThreads, 0,
                       static_cast<cudaStream_t>(s)>>>(static_cast<const T*>(x),
                                                       static_cast<T*>(y), outer, n, inner, scale,
                                                       packed);
  });
  AE_CUDA_CHECK_LAUNCH("cuda expand (", dtype_name(dt), ", outer=", outer, ", n=", n,
                       ", inner=", inner, ")");
}

}  // namespace ae::cu
