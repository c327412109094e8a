// Elementwise ops, losses and the optimizer updates. The scalar formulas are kernels/scalar_math.h,
// shared with the CPU backend; these kernels only walk memory: grid-stride, 64-bit indices,
// 16-byte packs when every pointer is 16-byte aligned. One kernel per (dtype, op), the op a
// template argument so that its switch folds away. Outputs may alias inputs (each element is read
// before it is written).
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/update.cuh"
#include "kernels/scalar_math.h"

namespace ae::cu {

namespace {

template <class T, UnaryOp Op>
__global__ void unary_forward_kernel(Inputs<T, 1> x, T* y, int64_t n, T a, T b, bool packed) {
  map_elements(x, y, n, packed,
               [=](const T(&v)[1]) { return math::unary_forward<T>(Op, v[0], a, b); });
}

template <class T, UnaryOp Op>
__global__ void unary_backward_kernel(Inputs<T, 3> x_y_dy, T* dx, int64_t n, T a, T b,
                                      bool packed) {
  map_elements(x_y_dy, dx, n, packed, [=](const T(&v)[3]) {
    return math::unary_backward<T>(Op, v[0], v[1], v[2], a, b);
  });
}

template <class T, LossOp Op>
__global__ void loss_forward_kernel(Inputs<T, 2> p_t, T* y, int64_t n, bool packed) {
  map_elements(p_t, y, n, packed,
               [=](const T(&v)[2]) { return math::loss_forward<T>(Op, v[0], v[1]); });
}

template <class T, LossOp Op>
__global__ void loss_backward_kernel(Inputs<T, 3> p_t_dy, T* dp, int64_t n, bool packed) {
  map_elements(p_t_dy, dp, n, packed,
               [=](const T(&v)[3]) { return math::loss_backward<T>(Op, v[0], v[1], v[2]); });
}

// y = a (op) b over n = rows * cols elements; with `row`, b is one row of `cols` elements.
// Packed needs cols % V == 0 under `row`, so that a pack never straddles two rows.
template <class T, BinaryOp Op>
__global__ void binary_kernel(const T* a, const T* b, T* y, int64_t n, int64_t cols, bool row,
                              bool packed) {
  constexpr int V = Pack<T>::kSize;
  const bool small = n <= int64_t(UINT32_MAX);
  const int64_t stride = grid_threads();
  int64_t done = 0;
  if (packed) {
    const int64_t packs = n / V;
    for (int64_t p = global_thread(); p < packs; p += stride) {
      Pack<T> pa = reinterpret_cast<const Pack<T>*>(a)[p];
      int64_t pb_index = row ? mod_index(p * V, cols, small) / V : p;
      Pack<T> pb = reinterpret_cast<const Pack<T>*>(b)[pb_index];
      Pack<T> out;
#pragma unroll
      for (int j = 0; j < V; ++j) out.v[j] = math::binary_forward<T>(Op, pa.v[j], pb.v[j]);
      reinterpret_cast<Pack<T>*>(y)[p] = out;
    }
    done = packs * V;
  }
  for (int64_t i = done + global_thread(); i < n; i += stride)
    y[i] = math::binary_forward<T>(Op, a[i], b[row ? mod_index(i, cols, small) : i]);
}

// One optimizer step per element, in place: p, m, v (Adam) or p, velocity (SGD) are read and
// written back. A null velocity (SGD without momentum) reads as zero and is never written.
template <class T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, int64_t n, AdamParams a, bool packed) {
  adam_elements(p, g, m, v, n, a, packed);
}

template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* velocity, int64_t n, SgdParams sp, bool packed) {
  sgd_elements(p, g, velocity, n, sp, packed);
}

}  // namespace

void unary_forward(UnaryOp op, DType dt, const void* x, void* y, int64_t n, UnaryParams p,
                   Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({x, y});
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const unsigned grid = grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev);
    Inputs<T, 1> in{{static_cast<const T*>(x)}};
    auto cs = static_cast<cudaStream_t>(s);
    switch (op) {
#define AE_LAUNCH(name)                                                                         \
  case UnaryOp::name:                                                                           \
    unary_forward_kernel<T, UnaryOp::name>                                                      \
        <<<grid, kThreads, 0, cs>>>(in, static_cast<T*>(y), n, T(p.a), T(p.b), packed);         \
    break;
      AE_UNARY_OPS(AE_LAUNCH)
#undef AE_LAUNCH
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda unary_forward ", op_name(op), " (", dtype_name(dt), ", n=", n, ")");
}

void unary_backward(UnaryOp op, DType dt, const void* x, const void* y, const void* dy, void* dx,
                    int64_t n, UnaryParams p, Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({x, y, dy, dx});
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const unsigned grid = grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev);
    Inputs<T, 3> in{{static_cast<const T*>(x), static_cast<const T*>(y),
                     static_cast<const T*>(dy)}};
    auto cs = static_cast<cudaStream_t>(s);
    switch (op) {
#define AE_LAUNCH(name)                                                                         \
  case UnaryOp::name:                                                                           \
    unary_backward_kernel<T, UnaryOp::name>                                                     \
        <<<grid, kThreads, 0, cs>>>(in, static_cast<T*>(dx), n, T(p.a), T(p.b), packed);        \
    break;
      AE_UNARY_OPS(AE_LAUNCH)
#undef AE_LAUNCH
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda unary_backward ", op_name(op), " (", dtype_name(dt), ", n=", n, ")");
}

void binary_forward(BinaryOp op, DType dt, const void* a, const void* b, void* y, int64_t rows,
                    int64_t cols, Broadcast bc, Stream s) {
  const int64_t n = rows * cols;
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool row = bc == Broadcast::row;
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const bool packed = all_aligned16({a, b, y}) && (!row || cols % Pack<T>::kSize == 0);
    const unsigned grid = grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev);
    auto cs = static_cast<cudaStream_t>(s);
    auto ta = static_cast<const T*>(a);
    auto tb = static_cast<const T*>(b);
    auto ty = static_cast<T*>(y);
    switch (op) {
#define AE_LAUNCH(name)                                                                         \
  case BinaryOp::name:                                                                          \
    binary_kernel<T, BinaryOp::name><<<grid, kThreads, 0, cs>>>(ta, tb, ty, n, cols, row, packed); \
    break;
      AE_BINARY_OPS(AE_LAUNCH)
#undef AE_LAUNCH
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda binary_forward ", op_name(op), " (", dtype_name(dt), ", rows=", rows,
                       ", cols=", cols, row ? ", row broadcast)" : ")");
}

void loss_forward(LossOp op, DType dt, const void* pred, const void* target, void* y, int64_t n,
                  Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({pred, target, y});
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const unsigned grid = grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev);
    Inputs<T, 2> in{{static_cast<const T*>(pred), static_cast<const T*>(target)}};
    auto cs = static_cast<cudaStream_t>(s);
    switch (op) {
#define AE_LAUNCH(name)                                                                         \
  case LossOp::name:                                                                            \
    loss_forward_kernel<T, LossOp::name><<<grid, kThreads, 0, cs>>>(in, static_cast<T*>(y), n,  \
                                                                    packed);                    \
    break;
      AE_LOSS_OPS(AE_LAUNCH)
#undef AE_LAUNCH
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda loss_forward ", op_name(op), " (", dtype_name(dt), ", n=", n, ")");
}

void loss_backward(LossOp op, DType dt, const void* pred, const void* target, const void* dy,
                   void* dpred, int64_t n, Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({pred, target, dy, dpred});
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const unsigned grid = grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev);
    Inputs<T, 3> in{{static_cast<const T*>(pred), static_cast<const T*>(target),
                     static_cast<const T*>(dy)}};
    auto cs = static_cast<cudaStream_t>(s);
    switch (op) {
#define AE_LAUNCH(name)                                                                         \
  case LossOp::name:                                                                            \
    loss_backward_kernel<T, LossOp::name><<<grid, kThreads, 0, cs>>>(in, static_cast<T*>(dpred), \
                                                                     n, packed);                \
    break;
      AE_LOSS_OPS(AE_LAUNCH)
#undef AE_LAUNCH
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda loss_backward ", op_name(op), " (", dtype_name(dt), ", n=", n, ")");
}

void adam_update(DType dt, void* p, const void* g, void* m, void* v, int64_t n, AdamParams a,
                 Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({p, g, m, v});
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    adam_kernel<T><<<grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev), kThreads, 0,
                     static_cast<cudaStream_t>(s)>>>(static_cast<T*>(p), static_cast<const T*>(g),
                                                     static_cast<T*>(m), static_cast<T*>(v), n, a,
                                                     packed);
  });
  AE_CUDA_CHECK_LAUNCH("cuda adam_update (", dtype_name(dt), ", n=", n, ")");
}

void sgd_update(DType dt, void* p, const void* g, void* velocity, int64_t n, SgdParams sp,
                Stream s) {
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({p, g}) && (velocity == nullptr || is_aligned16(velocity));
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    sgd_kernel<T><<<grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev), kThreads, 0,
                    static_cast<cudaStream_t>(s)>>>(static_cast<T*>(p), static_cast<const T*>(g),
                                                    static_cast<T*>(velocity), n, sp, packed);
  });
  AE_CUDA_CHECK_LAUNCH("cuda sgd_update (", dtype_name(dt), ", n=", n, ")");
}

}  // namespace ae::cu
