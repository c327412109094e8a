// Elementwise entries: one loop per op (the formula from kernels/scalar_math.h with the op fixed
// at compile time), multiversioned and split over the pool by kernels/cpu/loops.h.
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/loops.h"
#include "kernels/scalar_math.h"

namespace ae::cpu {

namespace {

template <UnaryOp Op, class T>
AE_CPU_CLONES void unary_forward_loop(const T* x, T* y, int64_t n, T a, T b) {
  for (int64_t i = 0; i < n; ++i) y[i] = math::unary_forward<T>(Op, x[i], a, b);
}

template <UnaryOp Op, class T>
AE_CPU_CLONES void unary_backward_loop(const T* x, const T* y, const T* dy, T* dx, int64_t n, T a,
                                       T b) {
  for (int64_t i = 0; i < n; ++i) dx[i] = math::unary_backward<T>(Op, x[i], y[i], dy[i], a, b);
}

template <BinaryOp Op, class T>
AE_CPU_CLONES void binary_loop(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = math::binary_forward<T>(Op, a[i], b[i]);
}

// y[r, c] = a[r, c] (op) b[c] over rows [0, rows) of width cols
template <BinaryOp Op, class T>
AE_CPU_CLONES void binary_row_loop(const T* a, const T* b, T* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = math::binary_forward<T>(Op, a[r * cols + c], b[c]);
}

template <LossOp Op, class T>
AE_CPU_CLONES void loss_forward_loop(const T* p, const T* t, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = math::loss_forward<T>(Op, p[i], t[i]);
}

template <LossOp Op, class T>
AE_CPU_CLONES void loss_backward_loop(const T* p, const T* t, const T* dy, T* dp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dp[i] = math::loss_backward<T>(Op, p[i], t[i], dy[i]);
}

template <class T>
AE_CPU_CLONES void adam_loop(T* p, const T* g, T* m, T* v, int64_t n, AdamParams a) {
  for (int64_t i = 0; i < n; ++i) math::adam_update<T>(p[i], g[i], m[i], v[i], a);
}

template <class T>
AE_CPU_CLONES void sgd_loop(T* p, const T* g, T* velocity, int64_t n, SgdParams s) {
  if (velocity) {
    for (int64_t i = 0; i < n; ++i) math::sgd_update<T>(p[i], g[i], velocity[i], s);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      T none = 0;  // no velocity buffer: a fresh zero per element, as on the GPU
      math::sgd_update<T>(p[i], g[i], none, s);
    }
  }
}

}  // namespace

void unary_forward(UnaryOp op, DType dt, const void* x, void* y, int64_t n, UnaryParams p, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    with_op(op, [&](auto c) {
      parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
        unary_forward_loop<decltype(c)::value, T>(xs + b, ys + b, e - b, T(p.a), T(p.b));
      });
    });
  });
}

void unary_backward(UnaryOp op, DType dt, const void* x, const void* y, const void* dy, void* dx,
                    int64_t n, UnaryParams p, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    const T* ys = static_cast<const T*>(y);
    const T* dys = static_cast<const T*>(dy);
    T* dxs = static_cast<T*>(dx);
    with_op(op, [&](auto c) {
      parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
        unary_backward_loop<decltype(c)::value, T>(xs + b, ys + b, dys + b, dxs + b, e - b, T(p.a), T(p.b));
      });
    });
  });
}

void binary_forward(BinaryOp op, DType dt, const void* a, const void* b, void* y, int64_t rows,
                    int64_t cols, Broadcast bc, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* as = static_cast<const T*>(a);
    const T* bs = static_cast<const T*>(b);
    T* ys = static_cast<T*>(y);
    with_op(op, [&](auto c) {
      if (bc == Broadcast::row) {
        parallel_for(rows, kParallelGrain / std::max<int64_t>(cols, 1), [&](int64_t r0, int64_t r1) {
          binary_row_loop<decltype(c)::value, T>(as + r0 * cols, bs, ys + r0 * cols, r1 - r0, cols);
        });
      } else {
        parallel_for(rows * cols, kParallelGrain, [&](int64_t i0, int64_t i1) {
          binary_loop<decltype(c)::value, T>(as + i0, bs + i0, ys + i0, i1 - i0);
        });
      }
    });
  });
}

void loss_forward(LossOp op, DType dt, const void* pred, const void* target, void* y, int64_t n,
                  Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* p = static_cast<const T*>(pred);
    const T* t = static_cast<const T*>(target);
    T* ys = static_cast<T*>(y);
    with_op(op, [&](auto c) {
      parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
        loss_forward_loop<decltype(c)::value, T>(p + b, t + b, ys + b, e - b);
      });
    });
  });
}

void loss_backward(LossOp op, DType dt, const void* pred, const void* target, const void* dy,
                   void* dpred, int64_t n, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* p = static_cast<const T*>(pred);
    const T* t = static_cast<const T*>(target);
    const T* dys = static_cast<const T*>(dy);
    T* dp = static_cast<T*>(dpred);
    with_op(op, [&](auto c) {
      parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
        loss_backward_loop<decltype(c)::value, T>(p + b, t + b, dys + b, dp + b, e - b);
      });
    });
  });
}

void adam_update(DType dt, void* p, const void* g, void* m, void* v, int64_t n, AdamParams a,
                 Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    T* ps = static_cast<T*>(p);
    const T* gs = static_cast<const T*>(g);
    T* ms = static_cast<T*>(m);
    T* vs = static_cast<T*>(v);
    parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
      adam_loop<T>(ps + b, gs + b, ms + b, vs + b, e - b, a);
    });
  });
}

void sgd_update(DType dt, void* p, const void* g, void* velocity, int64_t n, SgdParams s, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    T* ps = static_cast<T*>(p);
    const T* gs = static_cast<const T*>(g);
    T* vs = static_cast<T*>(velocity);
    parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
      sgd_loop<T>(ps + b, gs + b, vs ? vs + b : nullptr, e - b, s);
    });
  });
}

}  // namespace ae::cpu
