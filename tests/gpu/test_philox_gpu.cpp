// cuRAND's Philox stream on the GPU against the CPU reference: raw draws and uniforms bit for bit,
// normals within the bound derived in kernels/cpu/random.cpp, for aligned and unaligned offsets
// and odd sizes. Outputs are poisoned first and a guard after the last element must stay intact.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "kernels/cpu/random.h"
#include "kernels/cuda/random.h"

namespace ae {
namespace {

constexpr int64_t kGuard = 256;  // elements after n that no fill may touch (a block's tail)
constexpr unsigned char kPoison = 0xff;  // all-ones bytes: NaN as f32 and f64

struct Case {
  uint64_t seed;
  uint64_t offset;
  int64_t n;
};

// Odd n, offsets on every lane of a Philox block, a counter carrying into its second word, and
// sizes beyond one thread's 16 draws and one block's 4096.
const Case kCases[] = {
    {0, 0, 1},
    {0, 0, 16},
    {42, 1, 1001},
    {42, 2, 17},
    {42, 3, 4097},
    {0x0123456789abcdefULL, 5, 12345},
    {7, 4 * uint64_t{0xffffffff} + 3, 333},
    {1, 1234567, (int64_t{1} << 20) + 3},
};

std::string describe(const Case& c) {
  return "seed " + std::to_string(c.seed) + " offset " + std::to_string(c.offset) + " n " +
         std::to_string(c.n);
}

// Fills n elements of `bytes_per_element` on the device with `fill`, then returns n + kGuard
// elements copied back as raw bytes.
template <class Fill>
std::vector<unsigned char> run_on_device(int64_t n, size_t bytes_per_element, Fill fill) {
  const size_t bytes = (n + kGuard) * bytes_per_element;
  void* d = nullptr;
  EXPECT_EQ(cudaMalloc(&d, bytes), cudaSuccess);
  std::vector<unsigned char> host(bytes);
  if (!d) return host;
  EXPECT_EQ(cudaMemset(d, kPoison, bytes), cudaSuccess);
  fill(d);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(host.data(), d, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  return host;
}

void expect_guard_intact(const std::vector<unsigned char>& host, int64_t n, size_t bytes_per_element,
                         const Case& c) {
  for (size_t b = n * bytes_per_element; b < host.size(); ++b)
    ASSERT_EQ(host[b], kPoison) << describe(c) << ": byte " << b << " past the end was written";
}

template <class T>
std::vector<T> as(const std::vector<unsigned char>& host, int64_t n) {
  std::vector<T> v(n);
  std::memcpy(v.data(), host.data(), n * sizeof(T));
  return v;
}

class PhiloxGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no usable CUDA device";
  }
};

TEST_F(PhiloxGpu, BitsAreIdentical) {
  for (const Case& c : kCases) {
    std::vector<uint32_t> ref(c.n);
    cpu::rand_bits(ref.data(), c.n, c.seed, c.offset, nullptr);
    auto host = run_on_device(c.n, 4, [&](void* d) {
      cu::rand_bits(static_cast<uint32_t*>(d), c.n, c.seed, c.offset, nullptr);
    });
    expect_guard_intact(host, c.n, 4, c);
    std::vector<uint32_t> got = as<uint32_t>(host, c.n);
    for (int64_t i = 0; i < c.n; ++i)
      ASSERT_EQ(got[i], ref[i]) << describe(c) << ": first mismatch at index " << i;
  }
}

template <class T>
void expect_uniform_identical(DType dt) {
  for (const Case& c : kCases) {
    std::vector<T> ref(c.n);
    cpu::rand_uniform(dt, ref.data(), c.n, c.seed, c.offset, nullptr);
    auto host = run_on_device(c.n, sizeof(T), [&](void* d) {
      cu::rand_uniform(dt, d, c.n, c.seed, c.offset, nullptr);
    });
    expect_guard_intact(host, c.n, sizeof(T), c);
    std::vector<T> got = as<T>(host, c.n);
    for (int64_t i = 0; i < c.n; ++i)  // bitwise: a NaN (poison left in place) never passes
      ASSERT_EQ(std::memcmp(&got[i], &ref[i], sizeof(T)), 0)
          << dtype_name(dt) << " " << describe(c) << ": index " << i << " gpu " << got[i]
          << " cpu " << ref[i];
  }
}

TEST_F(PhiloxGpu, UniformsAreIdenticalFloat32) { expect_uniform_identical<float>(DType::f32); }
TEST_F(PhiloxGpu, UniformsAreIdenticalFloat64) { expect_uniform_identical<double>(DType::f64); }

// The device computes Box-Muller with the hardware __sincosf (abs error <= 2^-21.41 on [-pi, pi],
// and the angle reaches 2pi) and its own logf (<= 1 ulp); kernels/cpu/random.cpp derives
// |gpu - cpu| <= 1.5 * 2^-20 * r, r the radius of the value's Box-Muller pair, taken here as
// hypot of the CPU pair (both halves are computed on the CPU even when n is odd).
template <class T>
void expect_normal_close(DType dt) {
  const double bound = 1.5 * std::ldexp(1.0, -20);
  double worst = 0;
  for (const Case& c : kCases) {
    const int64_t n_pairs = (c.n + 1) / 2;
    std::vector<T> ref(2 * n_pairs);
    cpu::rand_normal(dt, ref.data(), 2 * n_pairs, c.seed, c.offset, nullptr);
    auto host = run_on_device(c.n, sizeof(T), [&](void* d) {
      cu::rand_normal(dt, d, c.n, c.seed, c.offset, nullptr);
    });
    expect_guard_intact(host, c.n, sizeof(T), c);
    std::vector<T> got = as<T>(host, c.n);
    for (int64_t i = 0; i < c.n; ++i) {
      const int64_t pair = i & ~int64_t{1};
      const double r = std::hypot(double{ref[pair]}, double{ref[pair + 1]});
      const double err = std::fabs(double{got[i]} - double{ref[i]});
      ASSERT_TRUE(err <= bound * r)  // false for NaN
          << dtype_name(dt) << " " << describe(c) << ": index " << i << " gpu " << got[i]
          << " cpu " << ref[i] << " radius " << r << " error " << err << " > " << bound * r;
      if (r > 0) worst = std::max(worst, err / r);
    }
  }
  // How close the device comes to the bound, for the record.
  std::printf("[ philox  ] %s normals: max |gpu - cpu| / radius = %.3g (bound %.3g)\n",
              dtype_name(dt), worst, bound);
}

TEST_F(PhiloxGpu, NormalsAreCloseFloat32) { expect_normal_close<float>(DType::f32); }
TEST_F(PhiloxGpu, NormalsAreCloseFloat64) { expect_normal_close<double>(DType::f64); }

// Launch errors and bad arguments surface as ae::Error, never as a crash.
TEST_F(PhiloxGpu, BadArgumentsThrow) {
  EXPECT_THROW(cu::rand_uniform(DType::f32, nullptr, 4, 0, 0, nullptr), Error);
  EXPECT_THROW(cu::rand_normal(DType::f32, nullptr, -1, 0, 0, nullptr), Error);
  EXPECT_NO_THROW(cu::rand_normal(DType::f32, nullptr, 0, 0, 0, nullptr));
}

}  // namespace
}  // namespace ae
