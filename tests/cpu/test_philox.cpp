// The CPU Philox4x32-10 stream: the block function against Random123's published answers, the
// stream layout of cuRAND's curand_init / curand / curand_uniform / curand_normal, offsets, the
// distributions, and float64 as widened float32.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/random.h"

namespace ae {
namespace {

using Block = std::array<uint32_t, 4>;
using Key = std::array<uint32_t, 2>;

std::vector<uint32_t> bits(int64_t n, uint64_t seed, uint64_t offset) {
  std::vector<uint32_t> y(n);
  cpu::rand_bits(y.data(), n, seed, offset, nullptr);
  return y;
}

template <class T = float>
std::vector<T> uniform(int64_t n, uint64_t seed, uint64_t offset) {
  std::vector<T> y(n);
  cpu::rand_uniform(sizeof(T) == 4 ? DType::f32 : DType::f64, y.data(), n, seed, offset, nullptr);
  return y;
}

template <class T = float>
std::vector<T> normal(int64_t n, uint64_t seed, uint64_t offset) {
  std::vector<T> y(n);
  cpu::rand_normal(sizeof(T) == 4 ? DType::f32 : DType::f64, y.data(), n, seed, offset, nullptr);
  return y;
}

// Random123 1.14, tests/kat_vectors, the three "philox4x32 10" lines (counter, key, output).
TEST(Philox, KnownAnswersOfRandom123) {
  struct Case {
    Block counter;
    Key key;
    Block expected;
  };
  const Case cases[] = {
      {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
       {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Case& c : cases) EXPECT_EQ(cpu::philox4x32_10(c.counter, c.key), c.expected);
}

// curand_init(seed, 0, offset): key = (seed low, seed high), counter = offset / 4 as a 128-bit
// number (its low word first), then draws x, y, z, w of each block from lane offset % 4 on.
TEST(Philox, StreamIsCounterBlocksKeyedBySeed) {
  const uint64_t seed = 0x0123456789abcdefULL;
  const Key key = {0x89abcdef, 0x01234567};

  std::vector<uint32_t> from_zero = bits(12, seed, 0);
  for (uint32_t block = 0; block < 3; ++block) {
    const Block out = cpu::philox4x32_10({block, 0, 0, 0}, key);
    for (int lane = 0; lane < 4; ++lane) EXPECT_EQ(from_zero[4 * block + lane], out[lane]);
  }

  // Lane 3 of block 2^32 - 1, then the counter carries into its second word.
  const uint64_t offset = 4 * uint64_t{0xffffffff} + 3;
  std::vector<uint32_t> y = bits(6, seed, offset);
  const Block last_low = cpu::philox4x32_10({0xffffffff, 0, 0, 0}, key);
  const Block carried = cpu::philox4x32_10({0, 1, 0, 0}, key);
  const Block after = cpu::philox4x32_10({1, 1, 0, 0}, key);
  EXPECT_EQ(y[0], last_low[3]);
  for (int lane = 0; lane < 4; ++lane) EXPECT_EQ(y[1 + lane], carried[lane]);
  EXPECT_EQ(y[5], after[0]);
}

// Offsets count draws: offset k is the stream from zero shifted by k, aligned to 4 or not.
TEST(Philox, OffsetShiftsBitsAndUniformsByDraws) {
  const uint64_t seed = 42;
  const int64_t n = 1001;  // odd
  std::vector<uint32_t> bits0 = bits(n + 2000, seed, 0);
  std::vector<float> uniform0 = uniform(n + 2000, seed, 0);
  for (uint64_t k : {1, 2, 3, 4, 5, 7, 1001, 1999}) {
    std::vector<uint32_t> b = bits(n, seed, k);
    std::vector<float> u = uniform(n, seed, k);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(b[i], bits0[k + i]) << "offset " << k << " index " << i;
      ASSERT_EQ(u[i], uniform0[k + i]) << "offset " << k << " index " << i;
    }
  }
}

// Normals take two draws per pair, so offset k shifts the normals of offset k % 2 by k - k % 2
// (with odd k the pairs are formed from odd-aligned draws: checked by the next test).
TEST(Philox, OffsetShiftsNormalsByDraws) {
  const uint64_t seed = 7;
  const int64_t n = 999;
  const std::vector<float> from[2] = {normal(n + 2000, seed, 0), normal(n + 2000, seed, 1)};
  for (uint64_t k : {1, 2, 3, 5, 6, 1001, 1998}) {
    std::vector<float> z = normal(n, seed, k);
    const std::vector<float>& base = from[k % 2];
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(z[i], base[k - k % 2 + i]) << "offset " << k << " index " << i;
  }
}

// Element 2j, 2j+1 of curand_normal are r sin(v), r cos(v) with r = sqrt(-2 log u), u the uniform
// of draw 2j and v = 2 pi times the uniform of draw 2j+1 (the uniform's rounding and cuRAND's
// float 2pi constant move v by < 1e-6, hence the tolerance).
TEST(Philox, NormalPairsAreBoxMullerOfConsecutiveDraws) {
  const uint64_t seed = 0xfeedfacecafebeefULL;
  const int64_t n = 2001;  // odd: the last pair is cut after its first value
  for (uint64_t offset : {0, 1, 2, 3, 5, 123457}) {
    std::vector<float> z = normal(n, seed, offset);
    std::vector<float> u = uniform(n + 1, seed, offset);
    for (int64_t i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(double{u[i]}));
      const double v = 2 * std::numbers::pi * u[i + 1];
      const double tol = 1e-5 * std::max(r, 1.0);
      ASSERT_NEAR(z[i], r * std::sin(v), tol) << "offset " << offset << " index " << i;
      if (i + 1 < n) {
        ASSERT_NEAR(z[i + 1], r * std::cos(v), tol) << "offset " << offset << " index " << i + 1;
      }
    }
  }
}

// curand_uniform is x * 2^-32 + 2^-33 in float (one rounding, as the device's fma), in (0, 1].
TEST(Philox, UniformIsCurandMapOfBitsAndInUnitInterval) {
  const int64_t n = 1'000'000;
  std::vector<uint32_t> b = bits(n, 2024, 3);
  std::vector<float> u = uniform(n, 2024, 3);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(u[i], std::fma(static_cast<float>(b[i]), 0x1p-32f, 0x1p-33f)) << "index " << i;
    ASSERT_GT(u[i], 0.0f) << "index " << i;
    ASSERT_LE(u[i], 1.0f) << "index " << i;
    sum += u[i];
  }
  // The mean of n uniforms has standard deviation sqrt(1/12 / n).
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
}

TEST(Philox, NormalMomentsAreZeroAndOne) {
  const int64_t n = 1'000'000;
  std::vector<float> z = normal(n, 31337, 0);
  double sum = 0, sum2 = 0;
  for (float v : z) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sum2 += double{v} * v;
  }
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  double m4 = 0;
  for (float v : z) m4 += std::pow(v - mean, 4);
  m4 /= n;
  // Standard errors of the estimates: sigma / sqrt(n) for the mean, sqrt((m4 - var^2) / n) for
  // the variance (about 1.0e-3 and 1.4e-3 here).
  EXPECT_NEAR(mean, 0.0, 5 * std::sqrt(var / n));
  EXPECT_NEAR(var, 1.0, 5 * std::sqrt((m4 - var * var) / n));
}

TEST(Philox, Float64IsWidenedFloat32) {
  for (uint64_t offset : {0, 3, 6}) {
    const int64_t n = 1001;
    std::vector<float> u32 = uniform<float>(n, 5, offset);
    std::vector<double> u64 = uniform<double>(n, 5, offset);
    std::vector<float> z32 = normal<float>(n, 5, offset);
    std::vector<double> z64 = normal<double>(n, 5, offset);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(u64[i], double{u32[i]}) << "offset " << offset << " index " << i;
      ASSERT_EQ(z64[i], double{z32[i]}) << "offset " << offset << " index " << i;
    }
  }
}

TEST(Philox, SeedsGiveDifferentStreams) {
  std::vector<uint32_t> a = bits(64, 1, 0), b = bits(64, 2, 0), c = bits(64, uint64_t{1} << 32, 0);
  int same_ab = 0, same_ac = 0;
  for (int i = 0; i < 64; ++i) {
    same_ab += a[i] == b[i];
    same_ac += a[i] == c[i];
  }
  EXPECT_EQ(same_ab, 0);
  EXPECT_EQ(same_ac, 0);
}

TEST(Philox, EmptyFillWritesNothing) {
  EXPECT_NO_THROW(cpu::rand_uniform(DType::f32, nullptr, 0, 1, 0, nullptr));
  EXPECT_NO_THROW(cpu::rand_normal(DType::f64, nullptr, 0, 1, 0, nullptr));
  EXPECT_NO_THROW(cpu::rand_bits(nullptr, 0, 1, 0, nullptr));
}

TEST(Philox, BadArgumentsThrow) {
  float y[16];
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_THROW(cpu::rand_uniform(DType::f32, y, -1, 0, 0, nullptr), Error);
  EXPECT_THROW(cpu::rand_normal(DType::f32, nullptr, 4, 0, 0, nullptr), Error);
  // The stream ends after 2^64 draws; a normal fill of odd n uses n + 1 of them.
  EXPECT_NO_THROW(cpu::rand_uniform(DType::f32, y, 10, 0, max - 10, nullptr));
  EXPECT_THROW(cpu::rand_uniform(DType::f32, y, 11, 0, max - 10, nullptr), Error);
  EXPECT_NO_THROW(cpu::rand_normal(DType::f32, y, 10, 0, max - 10, nullptr));
  EXPECT_THROW(cpu::rand_normal(DType::f32, y, 9, 0, max - 9, nullptr), Error);
  try {
    cpu::rand_normal(DType::f32, y, 9, 0, max - 9, nullptr);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rand_normal"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ae
