// The fused kernels of a training step (semantics: kernels/backend.h; CPU twin: cpu/fused.cpp).
//
// The linear-layer epilogue is one pass (bias + activation forward; activation backward, then the
// bias gradient as column sums). The penalties (KL sparsity, contractive, the VAE's KL) end in a
// sum over many terms: each term is computed in float64, as on the CPU, into scratch memory and
// summed by reduce_sum, which keeps the sums deterministic without a second reduction code path.
// Scalars marked (1) in backend.h (loss, dloss, dkl) live on the device and are read there.
#include <cmath>

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/random.h"
#include "kernels/fused_checks.h"
#include "kernels/scalar_math.h"

namespace ae::cu {

namespace {

// y (rows, cols) = act(y + b[col]) in place; b may be null. Packed needs cols % V == 0 (see
// binary_kernel).
template <class T, UnaryOp Act>
__global__ void bias_act_forward_kernel(T* y, const T* b, int64_t n, int64_t cols, T a, T pb,
                                        bool packed) {
  constexpr int V = Pack<T>::kSize;
  const bool small = n <= int64_t(UINT32_MAX);
  const int64_t stride = grid_threads();
  int64_t done = 0;
  if (packed) {
    const int64_t packs = n / V;
    for (int64_t p = global_thread(); p < packs; p += stride) {
      Pack<T> py = reinterpret_cast<Pack<T>*>(y)[p];
      Pack<T> pbias{};
      if (b) pbias = reinterpret_cast<const Pack<T>*>(b)[mod_index(p * V, cols, small) / V];
#pragma unroll
      for (int j = 0; j < V; ++j)
        py.v[j] = math::unary_forward<T>(Act, py.v[j] + pbias.v[j], a, pb);
      reinterpret_cast<Pack<T>*>(y)[p] = py;
    }
    done = packs * V;
  }
  for (int64_t i = done + global_thread(); i < n; i += stride)
    y[i] = math::unary_forward<T>(Act, y[i] + (b ? b[mod_index(i, cols, small)] : T(0)), a, pb);
}

// dz = dy * act'(y), act' taken from the output.
template <class T, UnaryOp Act>
__global__ void bias_act_backward_kernel(Inputs<T, 2> y_dy, T* dz, int64_t n, T a, bool packed) {
  map_elements(y_dy, dz, n, packed, [=](const T(&v)[2]) {
    return v[1] * math::activation_grad<T>(Act, v[0], a);
  });
}

// rho_hat (cols), the column means, clamped in place to [kRhoEps, 1 - kRhoEps]; term[c] is
// column c's KL divergence from rho.
template <class T>
__global__ void kl_terms_kernel(T* rho_hat, double* term, int64_t cols, double rho) {
  for (int64_t c = global_thread(); c < cols; c += grid_threads()) {
    // Comparisons rather than fmin/fmax, which would turn a NaN mean into kRhoEps: a NaN in h
    // stays NaN, as with the CPU's std::min/std::max.
    const double mean = rho_hat[c];
    const double q = mean < kRhoEps ? kRhoEps : (mean > 1 - kRhoEps ? 1 - kRhoEps : mean);
    rho_hat[c] = static_cast<T>(q);
    term[c] = rho * log(rho / q) + (1 - rho) * log((1 - rho) / (1 - q));
  }
}

// dloss (1) read on the device: the scale of every backward of a scalar penalty.
template <class T>
__device__ __forceinline__ double dloss_over_rows(const T* dloss, int64_t rows) {
  return static_cast<double>(dloss ? *dloss : T(0)) / static_cast<double>(rows);
}

// dh (rows, cols) = dloss / rows * (-rho / q_c + (1 - rho) / (1 - q_c)).
template <class T>
__global__ void kl_backward_kernel(const T* rho_hat, const T* dloss, int64_t rows, int64_t cols,
                                   double rho, T* dh) {
  const int64_t n = rows * cols;
  const bool small = n <= int64_t(UINT32_MAX);
  const double scale = dloss_over_rows(dloss, rows);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const double q = rho_hat[mod_index(i, cols, small)];
    dh[i] = static_cast<T>(scale * (-rho / q + (1 - rho) / (1 - q)));
  }
}

// out[i] = double(x[i])^2
template <class T>
__global__ void square_to_double_kernel(const T* x, double* out, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const double v = x[i];
    out[i] = v * v;
  }
}

// term (rows, code) = act'(h)^2 * w_sq[k], or act'(h)^2 alone when w_sq is null.
template <class T>
__global__ void contractive_terms_kernel(UnaryOp act, const T* h, const T* w_sq, double* term,
                                         int64_t rows, int64_t code, T a) {
  const int64_t n = rows * code;
  const bool small = n <= int64_t(UINT32_MAX);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const double g = math::activation_grad<T>(act, h[i], a);
    term[i] = w_sq ? g * g * static_cast<double>(w_sq[mod_index(i, code, small)]) : g * g;
  }
}

// dh (rows, code) = dloss / rows * d(act'(h)^2)/dh * w_sq[k]
template <class T>
__global__ void contractive_dh_kernel(UnaryOp act, const T* h, const T* w_sq, const T* dloss,
                                      int64_t rows, int64_t code, T a, T* dh) {
  const int64_t n = rows * code;
  const bool small = n <= int64_t(UINT32_MAX);
  const double scale = dloss_over_rows(dloss, rows);
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    dh[i] = static_cast<T>(scale * math::activation_grad_sq_derivative<T>(act, h[i], a) *
                           w_sq[mod_index(i, code, small)]);
}

// dw (code, in) = 2 dloss / rows * s[k] * W[k, j], s[k] = sum_i act'(h_ik)^2.
template <class T>
__global__ void contractive_dw_kernel(const T* w, const double* s, const T* dloss, int64_t rows,
                                      int64_t code, int64_t in, T* dw) {
  const int64_t n = code * in;
  const bool small = n <= int64_t(UINT32_MAX);
  const double scale = dloss_over_rows(dloss, rows);
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    dw[i] = static_cast<T>(2 * scale * s[div_index(i, in, small)] * w[i]);
}

// z = mu + exp(logvar / 2) * z in place (z holds the normals); term = 1 + logvar - mu^2 - e^logvar.
template <class T>
__global__ void reparameterize_forward_kernel(const T* mu, const T* logvar, T* z, double* term,
                                              int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const T m = mu[i], lv = logvar[i];
    z[i] = m + exp(lv / T(2)) * z[i];
    term[i] = 1 + double(lv) - double(m) * m - exp(double(lv));
  }
}

// dmu = dz + k mu, dlogvar = dz eps exp(logvar / 2) / 2 + k (exp(logvar) - 1) / 2, k = dkl / rows;
// a null dz (then eps is null too) or dkl reads as zero, a null output is skipped.
template <class T>
__global__ void reparameterize_backward_kernel(const T* mu, const T* logvar, const T* dz,
                                               const T* eps, const T* dkl, int64_t n, int64_t rows,
                                               T* dmu, T* dlogvar) {
  const T k = (dkl ? *dkl : T(0)) / static_cast<T>(rows);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const T g = dz ? dz[i] : T(0), e = dz ? eps[i] : T(0);
    const T m = mu[i], lv = logvar[i];
    if (dmu) dmu[i] = g + k * m;
    if (dlogvar) dlogvar[i] = g * e * exp(lv / T(2)) / T(2) + k * (exp(lv) - T(1)) / T(2);
  }
}

// out (1, dtype dt) = scale * sum of term[0..n): through reduce_sum, in float64, then cast.
void sum_terms(DType dt, const double* term, int64_t n, double scale, void* out, Stream s) {
  if (dt == DType::f64) return reduce_sum(DType::f64, term, out, 1, n, 1, scale, s);
  Scratch total(sizeof(double), s);
  reduce_sum(DType::f64, term, total.get(), 1, n, 1, scale, s);
  cast(DType::f64, total.get(), dt, out, 1, s);
}

}  // namespace

void bias_act_forward(UnaryOp act, DType dt, void* y, const void* b, int64_t rows, int64_t cols,
                      UnaryParams p, Stream s) {
  fused::check_activation("bias_act_forward", act);
  const int64_t n = rows * cols;
  if (n <= 0) return;
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const bool packed = is_aligned16(y) && (b == nullptr || (is_aligned16(b) &&
                                                             cols % Pack<T>::kSize == 0));
    const unsigned grid = grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev);
    auto cs = static_cast<cudaStream_t>(s);
    auto ty = static_cast<T*>(y);
    auto tb = static_cast<const T*>(b);
    switch (act) {
#define AE_LAUNCH(name)                                                                         \
  case UnaryOp::name:                                                                           \
    bias_act_forward_kernel<T, UnaryOp::name>                                                   \
        <<<grid, kThreads, 0, cs>>>(ty, tb, n, cols, T(p.a), T(p.b), packed);                   \
    break;
      AE_ACTIVATIONS(AE_LAUNCH)
#undef AE_LAUNCH
      default: break;
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda bias_act_forward ", op_name(act), " (", dtype_name(dt),
                       ", rows=", rows, ", cols=", cols, ")");
}

void bias_act_backward(UnaryOp act, DType dt, const void* y, const void* dy, void* dz, void* db,
                       int64_t rows, int64_t cols, UnaryParams p, Stream s) {
  fused::check_activation("bias_act_backward", act);
  const int64_t n = rows * cols;
  if (n <= 0) {
    if (db && cols > 0) fill(dt, db, cols, 0.0, s);  // no rows: a zero bias gradient
    return;
  }
  const DeviceInfo& dev = activate(s);
  const bool packed = all_aligned16({y, dy, dz});
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const unsigned grid = grid_for(packed ? n / Pack<T>::kSize + 1 : n, dev);
    auto cs = static_cast<cudaStream_t>(s);
    Inputs<T, 2> in{{static_cast<const T*>(y), static_cast<const T*>(dy)}};
    switch (act) {
#define AE_LAUNCH(name)                                                                         \
  case UnaryOp::name:                                                                           \
    bias_act_backward_kernel<T, UnaryOp::name>                                                  \
        <<<grid, kThreads, 0, cs>>>(in, static_cast<T*>(dz), n, T(p.a), packed);                \
    break;
      AE_ACTIVATIONS(AE_LAUNCH)
#undef AE_LAUNCH
      default: break;
    }
  });
  AE_CUDA_CHECK_LAUNCH("cuda bias_act_backward ", op_name(act), " (", dtype_name(dt),
                       ", rows=", rows, ", cols=", cols, ")");
  // The bias gradient: column sums of dz as written (float64 accumulation, as on the CPU).
  if (db) reduce_sum(dt, dz, db, 1, rows, cols, 1.0, s);
}

void kl_sparsity_forward(DType dt, const void* h, int64_t rows, int64_t cols, double rho,
                         void* rho_hat, void* loss, Stream s) {
  fused::check_batch("kl_sparsity_forward", rows);
  reduce_sum(dt, h, rho_hat, 1, rows, cols, 1.0 / static_cast<double>(rows), s);
  if (cols <= 0) return fill(dt, loss, 1, 0.0, s);
  const DeviceInfo& dev = activate(s);
  Scratch term(size_t(cols) * sizeof(double), s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kl_terms_kernel<T><<<grid_for(cols, dev), kThreads, 0, static_cast<cudaStream_t>(s)>>>(
        static_cast<T*>(rho_hat), term.as<double>(), cols, rho);
  });
  AE_CUDA_CHECK_LAUNCH("cuda kl_sparsity_forward (", dtype_name(dt), ", rows=", rows,
                       ", cols=", cols, ")");
  sum_terms(dt, term.as<double>(), cols, 1.0, loss, s);
}

void kl_sparsity_backward(DType dt, const void* rho_hat, const void* dloss, int64_t rows,
                          int64_t cols, double rho, void* dh, Stream s) {
  if (rows <= 0 || cols <= 0) return;
  const DeviceInfo& dev = activate(s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kl_backward_kernel<T><<<grid_for(rows * cols, dev), kThreads, 0,
                            static_cast<cudaStream_t>(s)>>>(static_cast<const T*>(rho_hat),
                                                            static_cast<const T*>(dloss), rows,
                                                            cols, rho, static_cast<T*>(dh));
  });
  AE_CUDA_CHECK_LAUNCH("cuda kl_sparsity_backward (", dtype_name(dt), ", rows=", rows,
                       ", cols=", cols, ")");
}

void contractive_forward(UnaryOp act, DType dt, const void* h, const void* w, int64_t rows,
                         int64_t code, int64_t in, UnaryParams p, void* w_sq, void* loss,
                         Stream s) {
  fused::check_activation("contractive_forward", act);
  fused::check_batch("contractive_forward", rows);
  if (code <= 0) return fill(dt, loss, 1, 0.0, s);
  const DeviceInfo& dev = activate(s);
  auto cs = static_cast<cudaStream_t>(s);
  // w_sq (code) = row sums of W^2, in float64, rounded once to dt.
  {
    Scratch sq(size_t(code * std::max<int64_t>(in, 1)) * sizeof(double), s);
    dispatch_dtype(dt, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      if (in > 0)
        square_to_double_kernel<T><<<grid_for(code * in, dev), kThreads, 0, cs>>>(
            static_cast<const T*>(w), sq.as<double>(), code * in);
    });
    AE_CUDA_CHECK_LAUNCH("cuda contractive_forward (", dtype_name(dt), ", code=", code,
                         ", in=", in, "): W^2");
    if (dt == DType::f64) {
      reduce_sum(DType::f64, sq.as<double>(), w_sq, code, in, 1, 1.0, s);
    } else {
      Scratch sums(size_t(code) * sizeof(double), s);
      reduce_sum(DType::f64, sq.as<double>(), sums.as<double>(), code, in, 1, 1.0, s);
      cast(DType::f64, sums.as<double>(), dt, w_sq, code, s);
    }
  }
  // loss = 1/rows sum_ik act'(h_ik)^2 w_sq[k], with the w_sq just rounded to dt (as on the CPU).
  Scratch term(size_t(rows * code) * sizeof(double), s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    contractive_terms_kernel<T><<<grid_for(rows * code, dev), kThreads, 0, cs>>>(
        act, static_cast<const T*>(h), static_cast<const T*>(w_sq), term.as<double>(), rows, code,
        T(p.a));
  });
  AE_CUDA_CHECK_LAUNCH("cuda contractive_forward ", op_name(act), " (", dtype_name(dt),
                       ", rows=", rows, ", code=", code, ")");
  sum_terms(dt, term.as<double>(), rows * code, 1.0 / static_cast<double>(rows), loss, s);
}

void contractive_backward(UnaryOp act, DType dt, const void* h, const void* w, const void* w_sq,
                          const void* dloss, int64_t rows, int64_t code, int64_t in,
                          UnaryParams p, void* dh, void* dw, Stream s) {
  fused::check_activation("contractive_backward", act);
  fused::check_batch("contractive_backward", rows);
  if (code <= 0) return;
  const DeviceInfo& dev = activate(s);
  auto cs = static_cast<cudaStream_t>(s);
  if (dh) {
    dispatch_dtype(dt, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      contractive_dh_kernel<T><<<grid_for(rows * code, dev), kThreads, 0, cs>>>(
          act, static_cast<const T*>(h), static_cast<const T*>(w_sq),
          static_cast<const T*>(dloss), rows, code, T(p.a), static_cast<T*>(dh));
    });
    AE_CUDA_CHECK_LAUNCH("cuda contractive_backward ", op_name(act), " (", dtype_name(dt),
                         ", rows=", rows, ", code=", code, "): dh");
  }
  if (dw && in > 0) {
    // s[k] = sum_i act'(h_ik)^2: the terms without w_sq, summed over the rows.
    Scratch g2(size_t(rows * code) * sizeof(double), s);
    Scratch sums(size_t(code) * sizeof(double), s);
    dispatch_dtype(dt, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      contractive_terms_kernel<T><<<grid_for(rows * code, dev), kThreads, 0, cs>>>(
          act, static_cast<const T*>(h), nullptr, g2.as<double>(), rows, code, T(p.a));
    });
    AE_CUDA_CHECK_LAUNCH("cuda contractive_backward ", op_name(act), " (", dtype_name(dt),
                         ", rows=", rows, ", code=", code, "): act'^2");
    reduce_sum(DType::f64, g2.as<double>(), sums.as<double>(), 1, rows, code, 1.0, s);
    dispatch_dtype(dt, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      contractive_dw_kernel<T><<<grid_for(code * in, dev), kThreads, 0, cs>>>(
          static_cast<const T*>(w), sums.as<double>(), static_cast<const T*>(dloss), rows, code,
          in, static_cast<T*>(dw));
    });
    AE_CUDA_CHECK_LAUNCH("cuda contractive_backward (", dtype_name(dt), ", code=", code,
                         ", in=", in, "): dW");
  }
}

void reparameterize_forward(DType dt, const void* mu, const void* logvar, void* z, void* kl,
                            int64_t rows, int64_t cols, uint64_t seed, uint64_t offset,
                            Stream s) {
  fused::check_batch("reparameterize_forward", rows);
  const int64_t n = rows * cols;
  if (n <= 0) return fill(dt, kl, 1, 0.0, s);
  rand_normal(dt, z, n, seed, offset, s);  // z holds eps until the kernel overwrites it
  const DeviceInfo& dev = activate(s);
  Scratch term(size_t(n) * sizeof(double), s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    reparameterize_forward_kernel<T><<<grid_for(n, dev), kThreads, 0,
                                       static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(mu), static_cast<const T*>(logvar), static_cast<T*>(z),
        term.as<double>(), n);
  });
  AE_CUDA_CHECK_LAUNCH("cuda reparameterize_forward (", dtype_name(dt), ", rows=", rows,
                       ", cols=", cols, ")");
  sum_terms(dt, term.as<double>(), n, -0.5 / static_cast<double>(rows), kl, s);
}

void reparameterize_backward(DType dt, const void* mu, const void* logvar, const void* dz,
                             const void* dkl, int64_t rows, int64_t cols, uint64_t seed,
                             uint64_t offset, void* dmu, void* dlogvar, Stream s) {
  const int64_t n = rows * cols;
  if (n <= 0 || (!dmu && !dlogvar)) return;
  const DeviceInfo& dev = activate(s);
  Scratch eps(dz ? size_t(n) * dtype_size(dt) : 0, s);  // the forward's normals, drawn again
  if (dz) rand_normal(dt, eps.get(), n, seed, offset, s);
  dispatch_dtype(dt, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    reparameterize_backward_kernel<T><<<grid_for(n, dev), kThreads, 0,
                                        static_cast<cudaStream_t>(s)>>>(
        static_cast<const T*>(mu), static_cast<const T*>(logvar), static_cast<const T*>(dz),
        eps.as<T>(), static_cast<const T*>(dkl), n, rows, static_cast<T*>(dmu),
        static_cast<T*>(dlogvar));
  });
  AE_CUDA_CHECK_LAUNCH("cuda reparameterize_backward (", dtype_name(dt), ", rows=", rows,
                       ", cols=", cols, ")");
}

}  // namespace ae::cu
