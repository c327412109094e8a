// Fills, casts and data movement: fill, arange, cast, transpose, copy_block.
#include "kernels/cuda/launch.cuh"

namespace ae::cu {

namespace {

template <class T>
__global__ void fill_kernel(T* y, int64_t n, T value, bool packed) {
  constexpr int V = Pack<T>::kSize;
  const int64_t stride = grid_threads();
  int64_t done = 0;
  if (packed) {
    Pack<T> pack;
#pragma unroll
    for (int j = 0; j < V; ++j) pack.v[j] = value;
    const int64_t packs = n / V;
    for (int64_t p = global_thread(); p < packs; p += stride)
      reinterpret_cast<Pack<T>*>(y)[p] = pack;
    done = packs * V;
  }
  for (int64_t i = done + global_thread(); i < n; i += stride) y[i] = value;
}

// y[i] = T(start + step * i), evaluated in float64 without contraction to an fma, as on the CPU.
template <class T>
__global__ void arange_kernel(T* y, int64_t n, double start, double step) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = static_cast<T>(__dadd_rn(start, __dmul_rn(step, static_cast<double>(i))));
}

template <class S, class D>
__global__ void cast_kernel(const S* x, D* y, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = static_cast<D>(x[i]);
}

// Tiles of 32 x 32 through shared memory, so that both the reads of x and the writes of y are
// coalesced; the +1 column keeps the column reads free of bank conflicts. Block (32, 8).
constexpr int kTile = 32;
constexpr int kTileRowsPerPass = 8;

template <class T>
__global__ void transpose_kernel(const T* x, T* y, int64_t rows, int64_t cols, int64_t tile_cols,
                                 int64_t tiles) {
  __shared__ T tile[kTile][kTile + 1];
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t r0 = (t / tile_cols) * kTile;
    const int64_t c0 = (t % tile_cols) * kTile;
    for (int k = threadIdx.y; k < kTile; k += kTileRowsPerPass) {
      const int64_t r = r0 + k, c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[k][threadIdx.x] = x[r * cols + c];
    }
    __syncthreads();
    // y is (cols, rows): row c0 + k of y takes column c0 + k of the tile.
    for (int k = threadIdx.y; k < kTile; k += kTileRowsPerPass) {
      const int64_t c = c0 + k, r = r0 + threadIdx.x;
      if (c < cols && r < rows) y[c * rows + r] = tile[threadIdx.x][k];
    }
    __syncthreads();  // the tile is refilled by the next iteration
  }
}

// dst[r * dst_ld + c] = src[r * src_ld + c] for a (rows, cols) block of E-sized words.
template <class E>
__global__ void copy_block_kernel(const E* src, int64_t src_ld, E* dst, int64_t dst_ld,
                                  int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  const bool small = n <= int64_t(UINT32_MAX);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const int64_t r = div_index(i, cols, small);
    const int64_t c = i - r * cols;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
}

}  // namespace

void fill(DType dt, void* y, int64_t n, double value, Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = is_aligned16(y);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    fill_kernel<T><<<grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev), kThreads, 0,
                     static_cast<cudaStream_t>(s)>>>(static_cast<T*>(y), n, static_cast<T>(value),
                                                     packed);
  });
  AE_CUDA_CHECK_LAUNCH("cuda fill (", dtype_name(dt), ", n=", n, ")");
}

void arange(DType dt, void* y, int64_t n, double start, double step, Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    arange_kernel<T><<<grid_for(n, dev), kThreads, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<T*>(y), n, start, step);
  });
  AE_CUDA_CHECK_LAUNCH("cuda arange (", dtype_name(dt), ", n=", n, ")");
}

void cast(DType from, const void* x, DType to, void* y, int64_t n, Stream s) {
  if (n <= 0) return;
  if (from == to) {
    if (x != y) copy(y, x, size_t(n) * dtype_size(to), CopyKind::device_to_device, s);
    return;
  }
  const DeviceInfo& dev = activate(s);
  auto cs = static_cast<cudaStream_t>(s);
  if (from == DType::f32)
    cast_kernel<<<grid_for(n, dev), kThreads, 0, cs>>>(static_cast<const float*>(x),
                                                       static_cast<double*>(y), n);
  else
    cast_kernel<<<grid_for(n, dev), kThreads, 0, cs>>>(static_cast<const double*>(x),
                                                       static_cast<float*>(y), n);
  AE_CUDA_CHECK_LAUNCH("cuda cast (", dtype_name(from), " to ", dtype_name(to), ", n=", n, ")");
}

void transpose(DType dt, const void* x, void* y, int64_t rows, int64_t cols, Stream s) {
  if (rows <= 0 || cols <= 0) return;
  const DeviceInfo& dev = activate(s);
  const int64_t tile_cols = (cols + kTile - 1) / kTile;
  const int64_t tiles = (rows + kTile - 1) / kTile * tile_cols;
  const dim3 block(kTile, kTileRowsPerPass);
  // One tile per block (a block walks further tiles only past grid_for's cap).
  const int threads = kTile * kTileRowsPerPass;
  const unsigned grid = grid_for(tiles * threads, dev, threads);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    transpose_kernel<T><<<grid, block, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(x), static_cast<T*>(y), rows, cols, tile_cols, tiles);
  });
  AE_CUDA_CHECK_LAUNCH("cuda transpose (", dtype_name(dt), ", rows=", rows, ", cols=", cols, ")");
}

void copy_block(DType dt, const void* src, int64_t src_ld, void* dst, int64_t dst_ld,
                int64_t rows, int64_t cols, Stream s) {
  if (rows <= 0 || cols <= 0) return;
  const DeviceInfo& dev = activate(s);
  auto cs = static_cast<cudaStream_t>(s);
  const int64_t es = static_cast<int64_t>(dtype_size(dt));
  // Whole 16-byte words when both blocks are aligned to them row by row.
  const bool packed = is_aligned16(src) && is_aligned16(dst) && (cols * es) % 16 == 0 &&
                      (src_ld * es) % 16 == 0 && (dst_ld * es) % 16 == 0;
  if (packed) {
    const int64_t w = 16 / es;  // elements per word
    const int64_t words = cols / w;
    copy_block_kernel<<<grid_for(rows * words, dev), kThreads, 0, cs>>>(
        static_cast<const uint4*>(src), src_ld / w, static_cast<uint4*>(dst), dst_ld / w, rows,
        words);
  } else if (dt == DType::f32) {
    copy_block_kernel<<<grid_for(rows * cols, dev), kThreads, 0, cs>>>(
        static_cast<const uint32_t*>(src), src_ld, static_cast<uint32_t*>(dst), dst_ld, rows,
        cols);
  } else {
    copy_block_kernel<<<grid_for(rows * cols, dev), kThreads, 0, cs>>>(
        static_cast<const uint64_t*>(src), src_ld, static_cast<uint64_t*>(dst), dst_ld, rows,
        cols);
  }
  AE_CUDA_CHECK_LAUNCH("cuda copy_block (", dtype_name(dt), ", rows=", rows, ", cols=", cols,
                       ", src_ld=", src_ld, ", dst_ld=", dst_ld, ")");
}

}  // namespace ae::cu
