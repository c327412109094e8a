// The CPU GEMM entry (OpenBLAS underneath) against a plain triple loop in long double: every
// transpose combination, odd and degenerate sizes, alpha and beta, both element types. The loop
// is the independent oracle for the wrapper's transpose flags and leading dimensions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/cpu.h"

namespace ae {
namespace {

// C = alpha op(A) op(B) + beta C, row-major, A stored (m, k) or (k, m) when ta; B likewise.
template <class T>
std::vector<T> oracle(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                      const std::vector<T>& a, const std::vector<T>& b, double beta,
                      std::vector<T> c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      long double s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += static_cast<long double>(ta ? a[p * m + i] : a[i * k + p]) *
             static_cast<long double>(tb ? b[j * k + p] : b[p * n + j]);
      const long double old = beta == 0 ? 0.0L : beta * static_cast<long double>(c[i * n + j]);
      c[i * n + j] = static_cast<T>(alpha * s + old);
    }
  return c;
}

template <class T>
std::vector<T> uniform(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(u(rng));
  return v;
}

template <class T>
void check(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, double beta) {
  const DType dt = std::is_same_v<T, float> ? DType::f32 : DType::f64;
  std::vector<T> a = uniform<T>(m * k, 1), b = uniform<T>(k * n, 2), c = uniform<T>(m * n, 3);
  if (beta == 0)  // beta = 0 must ignore C's old contents, NaN included (BLAS semantics)
    for (T& x : c) x = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> want = oracle(ta, tb, m, n, k, alpha, a, b, beta, c);
  cpu::gemm(dt, ta, tb, m, n, k, alpha, a.data(), b.data(), beta, c.data(), nullptr);
  // Each output is a k-term sum of products of values in [-1, 1]: its rounding error is at most
  // about k eps (|a||b| <= 1 per term), plus beta's term.
  const double eps = std::numeric_limits<T>::epsilon();
  const double bound = (static_cast<double>(k) + 2) * eps * (std::abs(alpha) + std::abs(beta) + 1);
  for (int64_t i = 0; i < m * n; ++i)
    ASSERT_NEAR(c[i], want[i], bound) << "ta " << ta << " tb " << tb << " (" << m << ", " << n
                                      << ", " << k << ") element " << i;
}

TEST(CpuGemm, EveryTransposeAndOddSizesMatchAPlainLoop) {
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 96, 129}, {130, 3, 257}};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto& s : shapes) {
        check<float>(ta, tb, s[0], s[1], s[2], 1.0, 0.0);
        check<double>(ta, tb, s[0], s[1], s[2], 1.0, 0.0);
        check<float>(ta, tb, s[0], s[1], s[2], -0.5, 0.75);
        check<double>(ta, tb, s[0], s[1], s[2], 2.0, 1.0);
      }
}

TEST(CpuGemm, AutoencoderShapesMatchAPlainLoop) {
  // The forward (x Wᵀ), input gradient (dy W) and weight gradient (dyᵀ x) of a 784-512 layer,
  // large enough that the BLAS splits the work over its threads.
  check<float>(false, true, 64, 512, 784, 1.0, 0.0);
  check<float>(false, false, 64, 784, 512, 1.0, 0.0);
  check<float>(true, false, 512, 784, 64, 1.0, 0.0);
  check<double>(false, true, 96, 256, 300, 1.0, 0.0);
}

TEST(CpuGemm, AnEmptyInnerDimensionScalesC) {
  check<float>(false, false, 4, 3, 0, 1.0, 0.0);   // C = 0
  check<double>(true, true, 4, 3, 0, 1.0, 0.5);    // C = beta C
}

TEST(CpuGemm, SameInputsGiveTheSameBits) {
  std::vector<float> a = uniform<float>(256 * 784, 4), b = uniform<float>(512 * 784, 5);
  std::vector<float> c1(256 * 512), c2(256 * 512);
  cpu::gemm(DType::f32, false, true, 256, 512, 784, 1.0, a.data(), b.data(), 0.0, c1.data(), nullptr);
  cpu::gemm(DType::f32, false, true, 256, 512, 784, 1.0, a.data(), b.data(), 0.0, c2.data(), nullptr);
  EXPECT_EQ(c1, c2);
}

}  // namespace
}  // namespace ae
