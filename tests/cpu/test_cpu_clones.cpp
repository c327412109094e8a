// The CPU loops are compiled for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and baseline x86-64
// (kernels/cpu/loops.h), and the loader picks one for the running CPU: a result must not depend on
// which. This file is compiled as the loops are (CMake's AE_CPU_LOOP_OPTIONS, -O3, so that the
// loops below vectorise) and runs the formulas with the most instructions that a vector unit or
// an FMA could change (exp, log1p, sigmoid, the BCE-with-logits loss and its gradient, Adam) in
// loops built for each instruction set the machine has, on a dense sweep of inputs, specials
// included: every bit must match the baseline's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/scalar_math.h"

namespace ae {
namespace {

constexpr int kOutputs = 8;  // results per input element

// out[j * n + i]: the j-th formula at x[i] (t[i] the target, g[i] a gradient), one loop per
// formula as in the library.
#define AE_FORMULA_LOOP(name, target)                                                    \
  target void name(const float* __restrict x, const float* __restrict t,                \
                   const float* __restrict g, float* __restrict out, int64_t n) {        \
    AdamParams a;                                                                        \
    a.lr = 1e-3, a.beta1 = 0.9, a.beta2 = 0.999, a.eps = 1e-8, a.weight_decay = 0.01;    \
    a.decoupled = true, a.bias_correction1 = 0.19, a.bias_correction2 = 0.0199;         \
    for (int64_t i = 0; i < n; ++i) out[i] = math::exp(x[i]);                            \
    for (int64_t i = 0; i < n; ++i) out[n + i] = math::log1p(x[i]);                      \
    for (int64_t i = 0; i < n; ++i) out[2 * n + i] = math::sigmoid(x[i]);                \
    for (int64_t i = 0; i < n; ++i) out[3 * n + i] = math::softplus(x[i]);               \
    for (int64_t i = 0; i < n; ++i)                                                      \
      out[4 * n + i] = math::loss_forward<float>(LossOp::bce_with_logits, x[i], t[i]);   \
    for (int64_t i = 0; i < n; ++i)                                                      \
      out[5 * n + i] = math::loss_backward<float>(LossOp::bce_with_logits, x[i], t[i],   \
                                                  0.5f);                                 \
    float* p = out + 6 * n;                                                              \
    float* m = out + 7 * n;                                                              \
    for (int64_t i = 0; i < n; ++i) p[i] = x[i], m[i] = g[i] * 0.1f;                     \
    for (int64_t i = 0; i < n; ++i) {                                                    \
      float v = g[i] * g[i] * 1e-3f;                                                     \
      math::adam_update<float>(p[i], g[i], m[i], v, a);                                  \
      m[i] += v;                                                                         \
    }                                                                                    \
  }

AE_FORMULA_LOOP(formulas_baseline, )
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
AE_FORMULA_LOOP(formulas_v3, __attribute__((target("arch=x86-64-v3"))))
AE_FORMULA_LOOP(formulas_v4, __attribute__((target("arch=x86-64-v4"))))
#endif
#undef AE_FORMULA_LOOP

TEST(CpuClones, EveryInstructionSetGivesTheBaselineBits) {
  // Inputs: an even sweep over [-120, 120], every power of 2 and its neighbours with both signs,
  // and the special values; targets and gradients vary with them.
  std::vector<float> x;
  for (int i = 0; i <= (1 << 18); ++i) x.push_back(-120.0f + 240.0f * static_cast<float>(i) / (1 << 18));
  for (int e = -149; e <= 127; ++e)
    for (float s : {1.0f, -1.0f}) {
      const float p = std::ldexp(s, e);
      x.insert(x.end(), {p, std::nextafter(p, 0.0f), std::nextafter(p, 2 * p)});
    }
  const float inf = std::numeric_limits<float>::infinity();
  x.insert(x.end(), {0.0f, -0.0f, -1.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
                     std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()});
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> t(x.size()), g(x.size());
  for (int64_t i = 0; i < n; ++i) {
    t[i] = static_cast<float>(i % 7) / 6.0f;
    g[i] = std::sin(static_cast<float>(i)) * 1e-2f;
  }
  std::vector<float> want(x.size() * kOutputs);
  formulas_baseline(x.data(), t.data(), g.data(), want.data(), n);
  auto same_bits = [&](const char* set, void (*loop)(const float*, const float*, const float*,
                                                     float*, int64_t)) {
    std::vector<float> got(want.size());
    loop(x.data(), t.data(), g.data(), got.data(), n);
    int64_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
        if (differ++ < 5)
          ADD_FAILURE() << set << ": formula " << i / x.size() << " at x = " << x[i % x.size()]
                        << " gives " << got[i] << ", baseline " << want[i];
      }
    EXPECT_EQ(differ, 0) << set;
  };
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  int ran = 0;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    same_bits("x86-64-v3", formulas_v3), ++ran;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    same_bits("x86-64-v4", formulas_v4), ++ran;
  if (ran == 0) GTEST_SKIP() << "this CPU has neither AVX2 + FMA nor AVX-512";
#else
  GTEST_SKIP() << "clones are built by GCC on x86-64 only";
#endif
}

}  // namespace
}  // namespace ae
