// CPU twins of the fused kernels (semantics: kernels/backend.h). Straight loops; sums in float64.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/random.h"
#include "kernels/fused_checks.h"
#include "kernels/scalar_math.h"

namespace ae::cpu {

namespace {
template <class T>
T scalar_or_zero(const void* p) {
  return p ? *static_cast<const T*>(p) : T(0);
}
}  // namespace

namespace {

// Rows of y = act(y + b) in place; b may be null.
template <UnaryOp Act, class T>
AE_CPU_CLONES void bias_act_forward_loop(T* y, const T* b, int64_t rows, int64_t cols, T a,
                                         T pb) {
  for (int64_t r = 0; r < rows; ++r) {
    T* yr = y + r * cols;
    if (b)
      for (int64_t c = 0; c < cols; ++c) yr[c] = math::unary_forward<T>(Act, yr[c] + b[c], a, pb);
    else
      for (int64_t c = 0; c < cols; ++c) yr[c] = math::unary_forward<T>(Act, yr[c], a, pb);
  }
}

// Columns [c0, c1) of dz = dy act'(y) and, when db, their float64 sums over the rows, each
// summed top to bottom whatever the split.
template <UnaryOp Act, class T>
AE_CPU_CLONES void bias_act_backward_loop(const T* y, const T* dy, T* dz, T* db, int64_t rows,
                                          int64_t cols, int64_t c0, int64_t c1, T a) {
  double sums[256];
  for (int64_t s0 = c0; s0 < c1; s0 += 256) {
    const int64_t s1 = std::min<int64_t>(c1, s0 + 256);
    std::fill(sums, sums + (s1 - s0), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t base = r * cols;
      for (int64_t c = s0; c < s1; ++c) {
        const T d = dy[base + c] * math::activation_grad<T>(Act, y[base + c], a);
        dz[base + c] = d;
        sums[c - s0] += static_cast<double>(d);
      }
    }
    if (db)
      for (int64_t c = s0; c < s1; ++c) db[c] = static_cast<T>(sums[c - s0]);
  }
}

}  // namespace

void bias_act_forward(UnaryOp act, DType dt, void* y, const void* b, int64_t rows, int64_t cols,
                      UnaryParams p, Stream) {
  fused::check_activation("bias_act_forward", act);
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    T* ys = static_cast<T*>(y);
    const T* bs = static_cast<const T*>(b);
    with_op(act, [&](auto c) {
      parallel_for(rows, kParallelGrain / std::max<int64_t>(cols, 1), [&](int64_t r0, int64_t r1) {
        bias_act_forward_loop<decltype(c)::value, T>(ys + r0 * cols, bs, r1 - r0, cols, T(p.a),
                                                     T(p.b));
      });
    });
  });
}

void bias_act_backward(UnaryOp act, DType dt, const void* y, const void* dy, void* dz, void* db,
                       int64_t rows, int64_t cols, UnaryParams p, Stream) {
  fused::check_activation("bias_act_backward", act);
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* ys = static_cast<const T*>(y);
    const T* dys = static_cast<const T*>(dy);
    T* dzs = static_cast<T*>(dz);
    T* dbs = static_cast<T*>(db);
    with_op(act, [&](auto c) {
      // Split by columns so that each column's sum keeps one order.
      parallel_for(cols, std::max<int64_t>(16, kParallelGrain / std::max<int64_t>(rows, 1)),
                   [&](int64_t c0, int64_t c1) {
                     bias_act_backward_loop<decltype(c)::value, T>(ys, dys, dzs, dbs, rows, cols,
                                                                   c0, c1, T(p.a));
                   });
    });
  });
}

void kl_sparsity_forward(DType dt, const void* h, int64_t rows, int64_t cols, double rho,
                         void* rho_hat, void* loss, Stream s) {
  fused::check_batch("kl_sparsity_forward", rows);
  reduce_sum(dt, h, rho_hat, 1, rows, cols, 1.0 / static_cast<double>(rows), s);
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    T* rh = static_cast<T*>(rho_hat);
    double total = 0;
    for (int64_t c = 0; c < cols; ++c) {
      double q = std::min(std::max(static_cast<double>(rh[c]), kRhoEps), 1 - kRhoEps);
      rh[c] = static_cast<T>(q);
      total += rho * std::log(rho / q) + (1 - rho) * std::log((1 - rho) / (1 - q));
    }
    *static_cast<T*>(loss) = static_cast<T>(total);
  });
}

void kl_sparsity_backward(DType dt, const void* rho_hat, const void* dloss, int64_t rows,
                          int64_t cols, double rho, void* dh, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* rh = static_cast<const T*>(rho_hat);
    const double scale = scalar_or_zero<T>(dloss) / static_cast<double>(rows);
    T* d = static_cast<T*>(dh);
    for (int64_t c = 0; c < cols; ++c) {
      const double q = rh[c];
      const T g = static_cast<T>(scale * (-rho / q + (1 - rho) / (1 - q)));
      for (int64_t r = 0; r < rows; ++r) d[r * cols + c] = g;
    }
  });
}

void contractive_forward(UnaryOp act, DType dt, const void* h, const void* w, int64_t rows,
                         int64_t code, int64_t in, UnaryParams p, void* w_sq, void* loss, Stream) {
  fused::check_activation("contractive_forward", act);
  fused::check_batch("contractive_forward", rows);
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* hs = static_cast<const T*>(h);
    const T* ws = static_cast<const T*>(w);
    T* wsq = static_cast<T*>(w_sq);
    for (int64_t k = 0; k < code; ++k) {
      double s = 0;
      for (int64_t j = 0; j < in; ++j) s += double(ws[k * in + j]) * double(ws[k * in + j]);
      wsq[k] = static_cast<T>(s);
    }
    double total = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < code; ++k) {
        double g = math::activation_grad<T>(act, hs[r * code + k], T(p.a));
        total += g * g * double(wsq[k]);
      }
    *static_cast<T*>(loss) = static_cast<T>(total / static_cast<double>(rows));
  });
}

void contractive_backward(UnaryOp act, DType dt, const void* h, const void* w, const void* w_sq,
                          const void* dloss, int64_t rows, int64_t code, int64_t in,
                          UnaryParams p, void* dh, void* dw, Stream) {
  fused::check_activation("contractive_backward", act);
  fused::check_batch("contractive_backward", rows);
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* hs = static_cast<const T*>(h);
    const T* ws = static_cast<const T*>(w);
    const T* wsq = static_cast<const T*>(w_sq);
    const double scale = scalar_or_zero<T>(dloss) / static_cast<double>(rows);
    if (dh) {
      T* d = static_cast<T*>(dh);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < code; ++k)
          d[r * code + k] = static_cast<T>(
              scale * math::activation_grad_sq_derivative<T>(act, hs[r * code + k], T(p.a)) * wsq[k]);
    }
    if (dw) {
      T* d = static_cast<T*>(dw);
      for (int64_t k = 0; k < code; ++k) {
        double s = 0;
        for (int64_t r = 0; r < rows; ++r) {
          double g = math::activation_grad<T>(act, hs[r * code + k], T(p.a));
          s += g * g;
        }
        for (int64_t j = 0; j < in; ++j) d[k * in + j] = static_cast<T>(2 * scale * s * ws[k * in + j]);
      }
    }
  });
}

void reparameterize_forward(DType dt, const void* mu, const void* logvar, void* z, void* kl,
                            int64_t rows, int64_t cols, uint64_t seed, uint64_t offset, Stream s) {
  fused::check_batch("reparameterize_forward", rows);
  const int64_t n = rows * cols;
  rand_normal(dt, z, n, seed, offset, s);  // z holds eps until it is overwritten below
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* m = static_cast<const T*>(mu);
    const T* lv = static_cast<const T*>(logvar);
    T* zs = static_cast<T*>(z);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      zs[i] = m[i] + std::exp(lv[i] / T(2)) * zs[i];
      total += 1 + double(lv[i]) - double(m[i]) * m[i] - std::exp(double(lv[i]));
    }
    *static_cast<T*>(kl) = static_cast<T>(-0.5 * total / static_cast<double>(rows));
  });
}

void reparameterize_backward(DType dt, const void* mu, const void* logvar, const void* dz,
                             const void* dkl, int64_t rows, int64_t cols, uint64_t seed,
                             uint64_t offset, void* dmu, void* dlogvar, Stream s) {
  const int64_t n = rows * cols;
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    std::vector<T> eps(static_cast<size_t>(n));
    if (dz) rand_normal(dt, eps.data(), n, seed, offset, s);
    const T* m = static_cast<const T*>(mu);
    const T* lv = static_cast<const T*>(logvar);
    const T* dzs = static_cast<const T*>(dz);
    const T k = scalar_or_zero<T>(dkl) / static_cast<T>(rows);
    T* dm = static_cast<T*>(dmu);
    T* dl = static_cast<T*>(dlogvar);
    for (int64_t i = 0; i < n; ++i) {
      const T g = dzs ? dzs[i] : T(0);
      if (dm) dm[i] = g + k * m[i];
      if (dl) dl[i] = g * eps[i] * std::exp(lv[i] / T(2)) / T(2) + k * (std::exp(lv[i]) - T(1)) / T(2);
    }
  });
}

}  // namespace ae::cpu
