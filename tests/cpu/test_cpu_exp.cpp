// The CPU backend's float exp (kernels/scalar_math.h), which its loops vectorise, against the
// correctly rounded exp (glibc's float64 exp rounded to float): within 1 ulp over the whole
// range where exp is finite and nonzero, and the right special values outside it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/scalar_math.h"

namespace ae {
namespace {

// Distance in units in the last place between two finite floats of the same sign.
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, sizeof ia);
  std::memcpy(&ib, &b, sizeof ib);
  return std::llabs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
}

TEST(CpuExp, WithinOneUlpOfTheCorrectlyRoundedValue) {
  // 2^21 evenly spaced points over [-104, 89], plus the neighbourhood of 0 at every scale.
  int64_t worst = 0;
  float worst_x = 0;
  auto check = [&](float x) {
    const float got = math::exp(x);
    const float want = static_cast<float>(std::exp(static_cast<double>(x)));
    ASSERT_TRUE(std::isfinite(got)) << x;
    const int64_t d = ulps(got, want);
    if (d > worst) worst = d, worst_x = x;
  };
  const int n = 1 << 21;
  for (int i = 0; i <= n; ++i) check(-103.9f + 192.6f * static_cast<float>(i) / n);
  for (float x = 1e-38f; x < 1; x *= 1.01f) check(x), check(-x);
  EXPECT_LE(worst, 1) << "at x = " << worst_x;
}

TEST(CpuExp, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(math::exp(0.0f), 1.0f);
  EXPECT_EQ(math::exp(-0.0f), 1.0f);
  EXPECT_LE(ulps(math::exp(88.7f), static_cast<float>(std::exp(double(88.7f)))), 1);
  EXPECT_EQ(math::exp(88.8f), inf);
  EXPECT_EQ(math::exp(inf), inf);
  EXPECT_EQ(math::exp(1e30f), inf);
  EXPECT_EQ(math::exp(-inf), 0.0f);
  EXPECT_EQ(math::exp(-1e30f), 0.0f);
  EXPECT_EQ(math::exp(-104.0f), 0.0f);
  // Subnormal results: exp(-100) = 3.72e-44, 27 times the smallest subnormal.
  EXPECT_LE(ulps(math::exp(-100.0f), static_cast<float>(std::exp(-100.0))), 1);
  EXPECT_GT(math::exp(-100.0f), 0.0f);
  EXPECT_TRUE(std::isnan(math::exp(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace ae
