// The CPU backend's float exp and log1p (kernels/scalar_math.h), which its loops vectorise: exp
// against the correctly rounded exp (glibc's float64 exp rounded to float), within 1 ulp over the
// whole range where exp is finite and nonzero; log1p against long double's log1pl, within its
// derived bound; and the right special values of both.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
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

// |got - want| in units of the last place of the float nearest want (a normal float here).
double ulp_error(float got, long double want) {
  int e = 0;
  std::frexp(static_cast<double>(want), &e);  // |want| in [2^(e-1), 2^e): ulp = 2^(e-24)
  return static_cast<double>(std::fabs(static_cast<long double>(got) - want) /
                             std::ldexp(1.0L, e - 24));
}

// The bound, from the formula (scalar_math.h), u = 2^-24 and ulp(r) >= u |r|: the last rounding
// (adding k ln2_hi) 0.5 ulp; the rounding of f + y, |f + y| <= |result|, 0.5 ulp; y's own
// roundings, each at most u times a term of y, whose terms are below a quarter of the result
// (f^2 / 2 <= 0.25 |log1p(f)| on f's range), about 1 ulp; the polynomial's error on log(1 + f),
// 0.06 ulp (measured in long double over f's range); c / u's rounding and c^2 / (2u^2),
// negligible: 2.1 ulp. Measured once over every float in (-1, FLT_MAX]: 0.90 ulp.
TEST(CpuLog1p, WithinItsBoundOfLongDoubleLog1p) {
  double worst = 0;
  float worst_x = 0;
  auto check = [&](float x) {
    const float got = math::log1p(x);
    ASSERT_TRUE(std::isfinite(got)) << x;
    const double e = x == 0 ? std::fabs(got) : ulp_error(got, std::log1p(static_cast<long double>(x)));
    if (e > worst) worst = e, worst_x = x;
  };
  // 2^21 even steps over (-1, 3] (the softplus and BCE losses call it on (0, 1]), every binade
  // of positive and negative x at 2^-10 relative steps down to 1e-38, up to FLT_MAX.
  const int n = 1 << 21;
  for (int i = 1; i <= n; ++i) check(-1.0f + 4.0f * static_cast<float>(i) / n);
  for (float x = 1e-38f; x < 1; x *= 1.0009765625f) check(x), check(-x);
  for (float x = 1; x < 3.3e38f; x *= 1.0009765625f) check(x);
  check(std::numeric_limits<float>::max());
  check(std::nextafter(-1.0f, 0.0f));
  std::printf("[ measured ] log1p: worst %.3f ulp at x = %.9g (bound 2.1)\n", worst, worst_x);
  EXPECT_LE(worst, 2.1) << "at x = " << worst_x;
}

TEST(CpuLog1p, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(math::log1p(0.0f), 0.0f);
  EXPECT_EQ(math::log1p(1e-30f), 1e-30f);  // below 2^-25, log1p(x) rounds to x
  EXPECT_EQ(math::log1p(-1e-30f), -1e-30f);
  EXPECT_EQ(math::log1p(-1.0f), -inf);
  EXPECT_EQ(math::log1p(inf), inf);
  EXPECT_TRUE(std::isnan(math::log1p(-1.5f)));
  EXPECT_TRUE(std::isnan(math::log1p(-inf)));
  EXPECT_TRUE(std::isnan(math::log1p(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_LE(ulp_error(math::log1p(std::numeric_limits<float>::max()),
                      std::log1p(static_cast<long double>(std::numeric_limits<float>::max()))),
            2.1);
}

}  // namespace
}  // namespace ae
