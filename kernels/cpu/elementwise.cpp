#include "kernels/cpu/cpu.h"
#include "kernels/scalar_math.h"

namespace ae::cpu {

void unary_forward(UnaryOp op, DType dt, const void* x, void* y, int64_t n, UnaryParams p, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    for (int64_t i = 0; i < n; ++i) ys[i] = math::unary_forward<T>(op, xs[i], T(p.a), T(p.b));
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
    for (int64_t i = 0; i < n; ++i)
      dxs[i] = math::unary_backward<T>(op, xs[i], ys[i], dys[i], T(p.a), T(p.b));
  });
}

void binary_forward(BinaryOp op, DType dt, const void* a, const void* b, void* y, int64_t rows,
                    int64_t cols, Broadcast bc, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* as = static_cast<const T*>(a);
    const T* bs = static_cast<const T*>(b);
    T* ys = static_cast<T*>(y);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        int64_t i = r * cols + c;
        ys[i] = math::binary_forward<T>(op, as[i], bs[bc == Broadcast::row ? c : i]);
      }
  });
}

void loss_forward(LossOp op, DType dt, const void* pred, const void* target, void* y, int64_t n,
                  Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* p = static_cast<const T*>(pred);
    const T* t = static_cast<const T*>(target);
    T* ys = static_cast<T*>(y);
    for (int64_t i = 0; i < n; ++i) ys[i] = math::loss_forward<T>(op, p[i], t[i]);
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
    for (int64_t i = 0; i < n; ++i) dp[i] = math::loss_backward<T>(op, p[i], t[i], dys[i]);
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
    for (int64_t i = 0; i < n; ++i) math::adam_update<T>(ps[i], gs[i], ms[i], vs[i], a);
  });
}

void sgd_update(DType dt, void* p, const void* g, void* velocity, int64_t n, SgdParams s, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    T* ps = static_cast<T*>(p);
    const T* gs = static_cast<const T*>(g);
    T* vs = static_cast<T*>(velocity);
    for (int64_t i = 0; i < n; ++i) {
      T none = 0;  // no velocity buffer: a fresh zero per element, as on the GPU
      math::sgd_update<T>(ps[i], gs[i], vs ? vs[i] : none, s);
    }
  });
}

}  // namespace ae::cpu
