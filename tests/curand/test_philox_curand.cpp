// ae's CPU Philox stream against NVIDIA's own generator: cuRAND's host generator
// (curandCreateGeneratorHost, CURAND_RNG_PSEUDO_PHILOX4_32_10) runs on the CPU, so this
// independent oracle runs in CI, with no GPU.
//
// The orders differ, and are matched exactly. ae's stream for (seed, offset) is what the device
// API gives after curand_init(seed, /*subsequence*/ 0, offset): Philox4x32-10 block b (counter b,
// subsequence 0) yields draws 4b .. 4b + 3. The host generator fills its output in rounds: round
// r holds block r of 65536 threads, 4 values each, thread t on subsequence t; its offset counts
// positions in that layout. Draw k of ae's stream (thread 0's) therefore sits at host position
// (k / 4) * 262144 + k % 4. The layout is cuRAND's implementation, not its documented interface:
// the first test checks it, so that a cuRAND that lays its output out otherwise fails there, by
// name, rather than in the comparisons.
//
// Compared: raw 32-bit draws and float32 uniforms bit for bit, at aligned and unaligned offsets,
// with counters that carry into the second and third 32-bit words of the Philox counter; normals
// (float32 Box-Muller pairs, the host generator's own logf/sinf/cosf against ae's double ones
// rounded once) within 2^-21 of their pair's radius, at even offsets (where ae's pairs and the
// host's coincide).
#include <curand.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/random.h"
#include "kernels/types.h"

namespace {

constexpr uint64_t kRound = 262144;  // values per round of the host generator: 65536 threads x 4
constexpr uint64_t kRounds = 16;     // blocks of subsequence 0 compared per case

const uint64_t kSeeds[] = {0, 42, 0x0123456789abcdefULL, ~uint64_t{0}};
// First Philox block of each case: small, around 2^32 (the counter's first word carries), and
// past 2^32 blocks, up to where host positions still fit in 64 bits.
const uint64_t kBlocks[] = {0, 3, (uint64_t{1} << 32) - 5, (uint64_t{1} << 32) + 7,
                            (uint64_t{1} << 45) + 11};

// kRounds rounds of the host generator from round `block`, as `fill` draws them.
template <class T, class Fill>
std::vector<T> host_rounds(uint64_t seed, uint64_t block, Fill fill) {
  curandGenerator_t g = nullptr;
  EXPECT_EQ(curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10), CURAND_STATUS_SUCCESS);
  EXPECT_EQ(curandSetPseudoRandomGeneratorSeed(g, seed), CURAND_STATUS_SUCCESS);
  EXPECT_EQ(curandSetGeneratorOffset(g, block * kRound), CURAND_STATUS_SUCCESS);
  std::vector<T> out(kRound * kRounds);
  EXPECT_EQ(fill(g, out.data(), out.size()), CURAND_STATUS_SUCCESS);
  EXPECT_EQ(curandDestroyGenerator(g), CURAND_STATUS_SUCCESS);
  return out;
}

// Host position of draw k of subsequence 0, counted from round `block`'s start.
size_t position(uint64_t k) { return (k / 4) * kRound + k % 4; }

TEST(PhiloxCurand, HostLayoutIsThread0InRoundsOf262144) {
  // Block 1 of subsequence 0 (ae's draws 4..7) is the first thing of round 1, not position 4.
  std::vector<uint32_t> ae(8);
  ae::cpu::rand_bits(ae.data(), 8, 42, 0, nullptr);
  const auto host = host_rounds<unsigned>(42, 0, [](curandGenerator_t g, unsigned* p, size_t n) {
    return curandGenerate(g, p, n);
  });
  for (uint64_t k = 0; k < 8; ++k) EXPECT_EQ(host[position(k)], ae[k]) << "draw " << k;
  EXPECT_NE(host[4], ae[4]);  // position 4 is thread 1's
}

TEST(PhiloxCurand, BitsAndUniformsAreIdentical) {
  for (uint64_t seed : kSeeds)
    for (uint64_t block : kBlocks) {
      const auto bits = host_rounds<unsigned>(seed, block, [](curandGenerator_t g, unsigned* p,
                                                                size_t n) {
        return curandGenerate(g, p, n);
      });
      const auto uniforms = host_rounds<float>(seed, block, [](curandGenerator_t g, float* p,
                                                                size_t n) {
        return curandGenerateUniform(g, p, n);
      });
      for (uint64_t shift : {0, 1, 2, 3, 6}) {  // ae offsets on every lane of a block
        const uint64_t offset = 4 * block + shift, n = 4 * kRounds - shift;
        std::vector<uint32_t> ae_bits(n);
        std::vector<float> ae_uniform(n);
        ae::cpu::rand_bits(ae_bits.data(), int64_t(n), seed, offset, nullptr);
        ae::cpu::rand_uniform(ae::DType::f32, ae_uniform.data(), int64_t(n), seed, offset, nullptr);
        for (uint64_t i = 0; i < n; ++i) {
          const size_t at = position(shift + i);
          ASSERT_EQ(ae_bits[i], bits[at]) << "seed " << seed << " offset " << offset << " draw " << i;
          ASSERT_EQ(ae_uniform[i], uniforms[at])  // float ==: both in (0, 1], no NaN
              << "seed " << seed << " offset " << offset << " uniform " << i;
        }
      }
    }
}

TEST(PhiloxCurand, NormalsAgreeWithinRounding) {
  const double bound = std::ldexp(1.0, -21);
  double worst = 0;
  for (uint64_t seed : kSeeds)
    for (uint64_t block : kBlocks) {
      const auto normals = host_rounds<float>(seed, block, [](curandGenerator_t g, float* p,
                                                               size_t n) {
        return curandGenerateNormal(g, p, n, 0.0f, 1.0f);
      });
      for (uint64_t shift : {0, 2}) {
        const uint64_t offset = 4 * block + shift, n = 4 * kRounds - shift;
        std::vector<float> z(n);
        ae::cpu::rand_normal(ae::DType::f32, z.data(), int64_t(n), seed, offset, nullptr);
        for (uint64_t i = 0; i < n; ++i) {
          const uint64_t pair = i & ~uint64_t{1};
          const double r = std::hypot(double(z[pair]), double(z[pair + 1]));
          const double err = std::fabs(double(z[i]) - double(normals[position(shift + i)]));
          ASSERT_LE(err, bound * r)  // false for NaN
              << "seed " << seed << " offset " << offset << " normal " << i << ": ae " << z[i]
              << " cuRAND " << normals[position(shift + i)];
          if (r > 0) worst = std::max(worst, err / r);
        }
      }
    }
  std::printf("[ curand   ] max |ae - cuRAND host| / radius over the normals: %.3g (bound %.3g)\n",
              worst, bound);
}

}  // namespace
