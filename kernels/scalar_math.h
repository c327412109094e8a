// The scalar formula of every elementwise op and loss, written once and compiled for both the
// CPU backend and the CUDA kernels (host and device), so the two backends differ only in how
// they walk memory. The formulas themselves are checked by the float64 gradchecks on the CPU.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/types.h"

#if defined(__CUDACC__)
#define AE_HD __host__ __device__ __forceinline__
#else
#define AE_HD inline
#endif

namespace ae::math {

// Float overloads on the host (the device has its own): float math stays in float.
using std::expm1, std::log, std::sqrt, std::fabs, std::pow, std::tanh;

#if defined(__CUDACC__)
using std::exp, std::log1p;
#else
// The CPU backend's float exp: straight-line code that its loops vectorise (glibc's expf is a
// call, which keeps a loop scalar), so that the sigmoid epilogues run on full vectors. Cephes'
// expf polynomial with Cody and Waite's reduction (S. L. Moshier, Cephes Math Library); within
// 1 ulp of the correctly rounded value (tests/cpu/test_cpu_exp.cpp), exact at 0, inf past
// log(FLT_MAX), through the subnormals to 0, NaN in, NaN out. float64 stays glibc's (the
// gradchecks' reference).
inline double exp(double x) { return std::exp(x); }

inline float exp(float x) {
  // Clamped to where 2^n below is a pair of normal floats; NaN goes through as 0 (a NaN cast to
  // an integer is undefined) and comes back at the end.
  const float xc = x < -103.97f ? -103.97f : (x > 88.73f ? 88.73f : (x == x ? x : 0.0f));
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |x / ln 2| < 2^22); r = x - n ln 2
  // in two parts (Cody and Waite) so that r is exact.
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  // 2^n in two halves, each a normal float for n in [-150, 128].
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2, n2 = ni - n1;
  float s1, s2;
  const int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  __builtin_memcpy(&s1, &b1, sizeof s1);
  __builtin_memcpy(&s2, &b2, sizeof s2);
  const float y = er * s1 * s2;
  return x > 88.7228391f ? __builtin_inff() : (x < -103.972077f ? 0.0f : (x == x ? y : x));
}

// The CPU backend's float log1p, straight-line code for the same reason as exp: the softplus
// and BCE-with-logits loops call it on every element. u = 1 + x rounded, its rounding error
// c = (1 + x) - u exactly (Fast2Sum, the larger of 1 and x first), so log1p(x) = log(u) + c / u
// up to c^2 / (2u^2) < 2^-49; u = 2^k m with m in [sqrt(1/2), sqrt(2)), f = m - 1 exact
// (Sterbenz), log(m) = f - f^2/2 + f^3 P(f) with Cephes' logf polynomial (S. L. Moshier, Cephes
// Math Library), k ln 2 in two parts as in exp. Error within 2 ulp of log1p (the bound and the
// test: tests/cpu/test_cpu_exp.cpp); log1p(-1) = -inf, NaN below -1 and for NaN, inf at inf.
inline double log1p(double x) { return std::log1p(x); }

inline float log1p(float x) {
  // Special inputs (x <= -1, inf, NaN) run through the same straight line, on bits only, and
  // their results are replaced at the end: no branch, so that the loops around it vectorise.
  const float u = 1.0f + x;
  const float c_big = 1.0f - (u - x), c_small = x - (u - 1.0f);
  const float c = x > 1.0f ? c_big : c_small;
  // u's bits shifted so that the exponent field counts from sqrt(1/2): k = floor(log2(u / sqrt(1/2))).
  // Unsigned: the bits of a special u (NaN, inf, negative) wrap instead of overflowing.
  uint32_t iu;
  __builtin_memcpy(&iu, &u, sizeof iu);
  const uint32_t shifted = iu + (0x3f800000u - 0x3f3504f3u);
  const int32_t k = static_cast<int32_t>(shifted >> 23) - 127;
  const uint32_t im = (shifted & 0x007fffffu) + 0x3f3504f3u;
  float m;
  __builtin_memcpy(&m, &im, sizeof m);
  const float f = m - 1.0f;
  const float kf = static_cast<float>(k);
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = p * f * z;
  y = y + kf * -2.12194440e-4f;
  y = y + (c / u - 0.5f * z);
  const float r = (f + y) + kf * 0.693359375f;
  return x > -1.0f ? (x == __builtin_inff() ? x : r) : (x == -1.0f ? -__builtin_inff() : __builtin_nanf(""));
}

#endif

// Stable on both tails: exp of a non-positive number only, 1 / (1 + e^-x) for x >= 0 and
// e^x / (1 + e^x) below. One exp and one division for both (a vector loop computes every
// branch it selects from).
template <class T>
AE_HD T sigmoid(T x) {
  const T e = exp(-fabs(x));
  return (x >= T(0) ? T(1) : e) / (T(1) + e);
}

template <class T>
AE_HD T softplus(T x) {  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
  return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
}

template <class T>
AE_HD T unary_forward(UnaryOp op, T x, T a, T b) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return exp(x);
    case UnaryOp::log: return log(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::sqrt: return sqrt(x);
    case UnaryOp::abs: return fabs(x);
    case UnaryOp::pow: return pow(x, a);
    case UnaryOp::clamp: return x < a ? a : (x > b ? b : x);
    case UnaryOp::affine: return a * x + b;
    case UnaryOp::sigmoid: return sigmoid(x);
    case UnaryOp::tanh: return tanh(x);
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::leaky_relu: return x > T(0) ? x : a * x;
    case UnaryOp::softplus: return softplus(x);
    case UnaryOp::identity: return x;
  }
  return x;
}

// dx = dy * f'(x), with y = f(x) available. Conventions at kinks: abs'(0) = relu'(0) = 0;
// clamp passes the gradient where a <= x <= b.
template <class T>
AE_HD T unary_backward(UnaryOp op, T x, T y, T dy, T a, T b) {
  switch (op) {
    case UnaryOp::neg: return -dy;
    case UnaryOp::exp: return dy * y;
    case UnaryOp::log: return dy / x;
    case UnaryOp::square: return T(2) * x * dy;
    case UnaryOp::sqrt: return dy / (T(2) * y);
    case UnaryOp::abs: return x > T(0) ? dy : (x < T(0) ? -dy : T(0));
    case UnaryOp::pow: return dy * a * pow(x, a - T(1));
    case UnaryOp::clamp: return (x >= a && x <= b) ? dy : T(0);
    case UnaryOp::affine: return a * dy;
    case UnaryOp::sigmoid: return dy * y * (T(1) - y);
    case UnaryOp::tanh: return dy * (T(1) - y * y);
    case UnaryOp::relu: return x > T(0) ? dy : T(0);
    case UnaryOp::leaky_relu: return x > T(0) ? dy : a * dy;
    case UnaryOp::softplus: return dy * sigmoid(x);
    case UnaryOp::identity: return dy;
  }
  return dy;
}

// The derivative act'(z) of an activation written through its output y = act(z), so backward
// passes need only the layer's output. a is leaky_relu's slope.
template <class T>
AE_HD T activation_grad(UnaryOp act, T y, T a) {
  switch (act) {
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::relu: return y > T(0) ? T(1) : T(0);
    case UnaryOp::leaky_relu: return y > T(0) ? T(1) : a;
    case UnaryOp::softplus: return -expm1(-y);  // sigmoid(z) = 1 - e^-y
    default: return T(1);                      // identity
  }
}

// d/dy of activation_grad(y)^2: what the contractive penalty sends back to the layer's output.
template <class T>
AE_HD T activation_grad_sq_derivative(UnaryOp act, T y, T a) {
  T s = activation_grad(act, y, a);
  switch (act) {
    case UnaryOp::sigmoid: return T(2) * s * (T(1) - T(2) * y);
    case UnaryOp::tanh: return T(2) * s * (T(-2) * y);
    case UnaryOp::softplus: return T(2) * s * exp(-y);
    default: return T(0);  // piecewise constant
  }
}

template <class T>
AE_HD T binary_forward(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return a;
}

template <class T>
AE_HD T clamp_prob_log(T p) {  // log(max(p, eps)): finite at p = 0
  return log(p > T(kProbEps) ? p : T(kProbEps));
}

template <class T>
AE_HD T loss_forward(LossOp op, T p, T t) {
  switch (op) {
    case LossOp::squared_error: return (p - t) * (p - t);
    case LossOp::bce: return -(t * clamp_prob_log(p) + (T(1) - t) * clamp_prob_log(T(1) - p));
    case LossOp::bce_with_logits:  // max(z, 0) - z t + log(1 + e^-|z|)
      return (p > T(0) ? p : T(0)) - p * t + log1p(exp(-fabs(p)));
    case LossOp::absolute_error: return fabs(p - t);
  }
  return p;
}

// dp = dy * dl/dp
template <class T>
AE_HD T loss_backward(LossOp op, T p, T t, T dy) {
  switch (op) {
    case LossOp::squared_error: return dy * T(2) * (p - t);
    case LossOp::bce: {
      T p0 = p > T(kProbEps) ? p : T(kProbEps);
      T p1 = (T(1) - p) > T(kProbEps) ? (T(1) - p) : T(kProbEps);
      return dy * (-t / p0 + (T(1) - t) / p1);
    }
    case LossOp::bce_with_logits: return dy * (sigmoid(p) - t);
    case LossOp::absolute_error: {
      T d = p - t;
      return d > T(0) ? dy : (d < T(0) ? -dy : T(0));
    }
  }
  return dy;
}

// One Adam/AdamW step on one element (see AdamParams); updates p, m, v in place. The bias
// corrections enter as factors, 1 / bc1 and 1 / sqrt(bc2), the same for every element (a loop
// computes them once): one division and one square root per element rather than three and one.
template <class T>
AE_HD void adam_update(T& p, T g, T& m, T& v, const AdamParams& a) {
  if (!a.decoupled) g += T(a.weight_decay) * p;
  m = T(a.beta1) * m + T(1 - a.beta1) * g;
  v = T(a.beta2) * v + T(1 - a.beta2) * g * g;
  T update = (m * T(1 / a.bias_correction1)) /
             (sqrt(v) * T(1 / std::sqrt(a.bias_correction2)) + T(a.eps));
  if (a.decoupled) update += T(a.weight_decay) * p;
  p -= T(a.lr) * update;
}

// One SGD step on one element (see SgdParams); updates p and the velocity in place.
template <class T>
AE_HD void sgd_update(T& p, T g, T& velocity, const SgdParams& s) {
  g += T(s.weight_decay) * p;
  if (s.momentum != 0) {
    velocity = T(s.momentum) * velocity + g;
    g = s.nesterov ? g + T(s.momentum) * velocity : velocity;
  }
  p -= T(s.lr) * g;
}

}  // namespace ae::math
