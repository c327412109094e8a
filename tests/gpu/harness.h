// Running one Backend entry on the CUDA table and on the CPU reference with the same inputs.
//
// Inputs are random with a fresh seed per case (case_seed()), device outputs are poisoned with
// NaN before the call (an element the kernel fails to write then fails the comparison), every
// device array is fenced by guard bytes before and after it (a write out of bounds fails the test
// without a sanitizer), and results are compared by relative error (tests/common/compare.h) against bounds tied to the
// dtype (tolerance<T>() below).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <string>
#include <vector>

#include "core/device.h"
#include "kernels/backend.h"
#include "tests/common/compare.h"

namespace ae::gputest {

const Backend& gpu();  // the CUDA table (the tests only run when a device is usable)
const Backend& cpu();  // the reference
Stream gpu_stream();   // the stream of cuda:0

template <class T>
constexpr DType dtype_of() {
  return std::is_same_v<T, float> ? DType::f32 : DType::f64;
}

// Relative-error bounds, ||gpu - cpu|| / ||cpu||. Elementwise results differ by the last-place
// errors of the two math libraries and fma contraction: far below these for float32 (2^-24
// per rounding) and float64 (2^-53). GEMM results differ by the accumulation order over k.
template <class T>
constexpr double elementwise_tol() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}
template <class T>
constexpr double gemm_tol() {
  return std::is_same_v<T, float> ? 1e-4 : 1e-12;
}
// A float64 sum of n terms: the CPU's sequential sum is within (n-1) 2^-53 of the exact sum
// relative to the sum of the terms' magnitudes (Higham's bound, approached when the same terms
// repeat and the rounding errors do not cancel); the GPU's blocked sum is closer. Tests of float64
// sums therefore use terms of one sign. float32 results are rounded once from such sums.
template <class T>
double sum_tol(int64_t n) {
  if (std::is_same_v<T, float>) return 1e-5;
  return std::max(1e-12, static_cast<double>(n) * std::ldexp(1.0, -53));
}

// A seed that differs for every call: the test's name, a counter and AE_TEST_SEED (default 0)
// hashed together. Printed by the failure messages (SCOPED_TRACE) so a failure can be replayed.
uint64_t case_seed();
uint64_t base_seed();

// Uniform in [lo, hi) at index i of the stream `seed` (a counter-based hash, so filling 2^31
// elements stays cheap and the values do not depend on the order they are drawn in).
double uniform_at(uint64_t seed, uint64_t i, double lo, double hi);

template <class T>
std::vector<T> uniform(int64_t n, uint64_t seed, double lo, double hi) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(uniform_at(seed, i, lo, hi));
  return v;
}

template <class T>
std::vector<T> nan_vector(int64_t n) {
  return std::vector<T>(static_cast<size_t>(n), std::numeric_limits<T>::quiet_NaN());
}

// A device array on cuda:0 owned by the test: allocated with the CUDA table, freed on scope exit.
// `pad` extra leading elements let a test hand kernels pointers that are not 16-byte aligned.
// The pad and kGuardBytes after the last element hold a guard pattern that download() and the
// destructor check: a kernel that writes past either end of its array fails the test there.
template <class T>
class DeviceArray {
 public:
  static constexpr int64_t kGuardBytes = 1024;  // beyond any vector access or block tail
  static constexpr unsigned char kGuardByte = 0xA5;

  // Poisoned with NaN.
  explicit DeviceArray(int64_t n, int64_t pad = 0) : DeviceArray(nan_vector<T>(n), pad) {}
  explicit DeviceArray(const std::vector<T>& host, int64_t pad = 0)
      : n_(static_cast<int64_t>(host.size())), pad_(pad) {
    base_ = static_cast<T*>(gpu().alloc(total_bytes(), 0, gpu_stream()));
    const std::vector<unsigned char> guard(total_bytes() - size_t(n_) * sizeof(T), kGuardByte);
    const size_t head = size_t(pad_) * sizeof(T);
    auto* bytes = reinterpret_cast<unsigned char*>(base_);
    gpu().copy(bytes, guard.data(), head, CopyKind::host_to_device, gpu_stream());
    gpu().copy(bytes + head + size_t(n_) * sizeof(T), guard.data() + head, guard.size() - head,
               CopyKind::host_to_device, gpu_stream());
    upload(host);
  }
  ~DeviceArray() {
    if (!base_) return;
    check_guards();
    gpu().free(base_, 0, gpu_stream());
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() const { return base_ + pad_; }
  int64_t size() const { return n_; }

  void upload(const std::vector<T>& host) {
    EXPECT_EQ(static_cast<int64_t>(host.size()), n_);
    gpu().copy(data(), host.data(), size_t(n_) * sizeof(T), CopyKind::host_to_device,
               gpu_stream());
    gpu().synchronize(gpu_stream());
  }
  // Waits for the stream, then copies back (and checks the guards).
  std::vector<T> download() const {
    std::vector<T> host(static_cast<size_t>(n_));
    gpu().copy(host.data(), data(), size_t(n_) * sizeof(T), CopyKind::device_to_host,
               gpu_stream());
    gpu().synchronize(gpu_stream());
    check_guards();
    return host;
  }

  // EXPECTs every guard byte intact (copies back only the guards); names the first one
  // overwritten.
  void check_guards() const {
    const size_t head = size_t(pad_) * sizeof(T), tail = size_t(kGuardBytes);
    std::vector<unsigned char> bytes(head + tail);
    const auto* base = reinterpret_cast<const unsigned char*>(base_);
    gpu().copy(bytes.data(), base, head, CopyKind::device_to_host, gpu_stream());
    gpu().copy(bytes.data() + head, base + head + size_t(n_) * sizeof(T), tail,
               CopyKind::device_to_host, gpu_stream());
    gpu().synchronize(gpu_stream());
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (bytes[i] != kGuardByte) {
        const int64_t offset = i < head ? int64_t(i) - int64_t(head)
                                        : int64_t(size_t(n_) * sizeof(T) + (i - head));
        ADD_FAILURE() << "device array of " << n_ << " elements: the guard byte at byte offset "
                      << offset << " from its first element was overwritten (a write "
                      << (i < head ? "before" : "past") << " its bounds)";
        return;
      }
    }
  }

 private:
  size_t total_bytes() const { return size_t(n_ + pad_) * sizeof(T) + kGuardBytes; }

  int64_t n_ = 0;
  int64_t pad_ = 0;
  T* base_ = nullptr;
};

// EXPECT that the device result matches the reference within tol.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double tol,
                  const std::string& what) {
  EXPECT_TRUE(testing::relative_error_within(std::span<const T>(got), std::span<const T>(want),
                                             tol, what));
}

}  // namespace ae::gputest
