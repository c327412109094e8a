// cuRAND's Philox4_32_10 generator on the CPU. The specification is cuRAND's device code:
// curand_philox4x32_x.h (the block function), curand_kernel.h (curand_init, skipahead, curand),
// curand_uniform.h (_curand_uniform) and curand_normal.h (curand_normal, _curand_box_muller).
#include "kernels/cpu/random.h"

#include <atomic>
#include <bit>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace ae::cpu {

namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53;  // round multipliers
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9;  // key schedule increments (Weyl sequence)
constexpr uint32_t kPhiloxW1 = 0xBB67AE85;

// cuRAND's float constants, with the values nvcc gives them (checked against the PTX it emits).
constexpr float kTwoPow32Inv = 2.3283064e-10f;                   // CURAND_2POW32_INV == 2^-32
constexpr float kTwoPow32InvTwoPi = 2.3283064e-10f * 6.2831855f;  // CURAND_2POW32_INV_2PI
static_assert(std::bit_cast<uint32_t>(kTwoPow32Inv) == 0x2F800000);
static_assert(std::bit_cast<uint32_t>(kTwoPow32InvTwoPi) == 0x30C90FDB);
static_assert(std::bit_cast<uint32_t>(kTwoPow32InvTwoPi / 2) == 0x30490FDB);

uint32_t low32(uint64_t v) { return static_cast<uint32_t>(v); }
uint32_t high32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

// The state of curand_init(seed, 0, offset), advanced one curand() at a time. After curand_init
// the counter is (offset/4 as a 128-bit number, here its low 64 bits: the high words hold the
// subsequence, 0) and the position within the block is offset % 4. The caller keeps
// offset + draws < 2^64, so the counter never carries into the subsequence words.
class PhiloxStream {
 public:
  PhiloxStream(uint64_t seed, uint64_t offset)
      : key_{low32(seed), high32(seed)}, block_(offset / 4), lane_(offset % 4) {
    refill();
  }

  uint32_t next() {
    if (lane_ == 4) {
      ++block_;
      lane_ = 0;
      refill();
    }
    return out_[lane_++];
  }

 private:
  void refill() { out_ = philox4x32_10({low32(block_), high32(block_), 0, 0}, key_); }

  std::array<uint32_t, 2> key_;
  uint64_t block_;
  unsigned lane_;
  std::array<uint32_t, 4> out_;
};

// _curand_uniform: x * 2^-32 + 2^-32/2 in float, in (0, 1]. nvcc fuses it into one fma.rn.f32;
// the product by 2^-32 is exact, so the separate multiply and add here round identically.
float uniform_from_bits(uint32_t x) {
  return static_cast<float>(x) * kTwoPow32Inv + kTwoPow32Inv / 2;
}

// _curand_box_muller on the device:
//   u = x * 2^-32 + 2^-33               exact as above
//   v = fma(y, 2^-32 * 2pi, half that)   nvcc contracts y * C + C/2 into fma.rn.f32; std::fma
//                                        gives the same float
//   r = sqrtf(-2 * logf(u))              device logf errs <= 1 ulp (CUDA guide); here the log is
//                                        computed in double and rounded once (<= 0.5 ulp); sqrt
//                                        is correctly rounded on both sides
//   (sin v, cos v) * r                   device: __sincosf, the hardware approximation; here sin
//                                        and cos in double, rounded once (<= 2^-25 abs)
// Bound on |cuda - cpu| / r, in units of 2^-20:
//   __sincosf: <= 2^-21.41 on [-pi, pi] (CUDA guide); v reaches 2pi, where NVIDIA documents
//     no bound. Assumed: the hardware's reduction to turns, v * float(1/2pi) rounded toward
//     zero, adds the constant's error (4.1e-8 relative, 2.6e-7 at 2pi) and one more ulp of a
//     turn (2pi * 2^-24 = 3.8e-7). tests/gpu/test_sincos_bound.cu measures every one of the
//     2^32 angles against this (compiled, not yet run on a GPU):                          1.04
//   r: 1.5 ulp of log, halved by the sqrt, plus two sqrt roundings: < 2^-22                  0.25
//   the final multiply, rounded on both sides: <= 2^-23                                     0.125
//   the CPU's sin/cos rounding: <= 2^-25                                                    0.03
// Total < 1.45 * 2^-20 * r; ae states 1.5 * 2^-20 * r (r <= 6.77, since u >= 2^-33).
std::array<float, 2> box_muller(uint32_t x, uint32_t y) {
  const float u = uniform_from_bits(x);
  const float v = std::fma(static_cast<float>(y), kTwoPow32InvTwoPi, kTwoPow32InvTwoPi / 2);
  const float log_u = static_cast<float>(std::log(static_cast<double>(u)));
  const float r = std::sqrt(-2.0f * log_u);
  const double vd = v;
  return {static_cast<float>(std::sin(vd)) * r, static_cast<float>(std::cos(vd)) * r};
}

// The counter of set_rand_offset_counter, or null.
std::atomic<const uint64_t*> g_offset_counter{nullptr};

// `offset` moved by the counter when one is set, checked against the end of the stream.
uint64_t counted_offset(const char* op, uint64_t offset) {
  const uint64_t* counter = g_offset_counter.load(std::memory_order_acquire);
  if (counter == nullptr) return offset;
  AE_CHECK(*counter <= std::numeric_limits<uint64_t>::max() - offset, op, ": offset ", offset,
           " + counter ", *counter, " passes the end of the Philox stream (2^64 draws)");
  return offset + *counter;
}

void check_args(const char* op, const void* y, int64_t n, uint64_t offset, uint64_t draws) {
  AE_CHECK(n >= 0, op, ": n = ", n, " is negative");
  AE_CHECK(n == 0 || y, op, ": output is null for n = ", n);
  AE_CHECK(draws <= std::numeric_limits<uint64_t>::max() - offset, op, ": offset ", offset, " + ",
           draws, " draws passes the end of the Philox stream (2^64 draws)");
}

template <class T>
void write_uniform(T* y, int64_t n, uint64_t seed, uint64_t offset) {
  PhiloxStream stream(seed, offset);
  for (int64_t i = 0; i < n; ++i) y[i] = uniform_from_bits(stream.next());
}

// curand_normal draws two values per Box-Muller pair, returns the first and caches the second
// for the next call; so element 2j and 2j+1 come from draws 2j and 2j+1 of the stream.
template <class T>
void write_normal(T* y, int64_t n, uint64_t seed, uint64_t offset) {
  PhiloxStream stream(seed, offset);
  for (int64_t i = 0; i < n; i += 2) {
    const uint32_t x = stream.next();
    const std::array<float, 2> pair = box_muller(x, stream.next());
    y[i] = pair[0];
    if (i + 1 < n) y[i + 1] = pair[1];
  }
}

}  // namespace

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kPhiloxW0;
      key[1] += kPhiloxW1;
    }
    const uint64_t p0 = uint64_t{kPhiloxM0} * counter[0];
    const uint64_t p1 = uint64_t{kPhiloxM1} * counter[2];
    counter = {high32(p1) ^ counter[1] ^ key[0], low32(p1), high32(p0) ^ counter[3] ^ key[1],
               low32(p0)};
  }
  return counter;
}

void rand_bits(uint32_t* y, int64_t n, uint64_t seed, uint64_t offset, Stream) {
  check_args("rand_bits", y, n, offset, static_cast<uint64_t>(n));
  PhiloxStream stream(seed, offset);
  for (int64_t i = 0; i < n; ++i) y[i] = stream.next();
}

void set_rand_offset_counter(int, const uint64_t* counter) {
  g_offset_counter.store(counter, std::memory_order_release);
}

void rand_uniform(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream) {
  offset = counted_offset("rand_uniform", offset);
  check_args("rand_uniform", y, n, offset, static_cast<uint64_t>(n));
  if (dt == DType::f32) write_uniform(static_cast<float*>(y), n, seed, offset);
  else write_uniform(static_cast<double*>(y), n, seed, offset);
}

void rand_normal(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream) {
  offset = counted_offset("rand_normal", offset);
  // An odd n still draws the whole last pair.
  check_args("rand_normal", y, n, offset, static_cast<uint64_t>(n) + (n & 1));
  if (dt == DType::f32) write_normal(static_cast<float*>(y), n, seed, offset);
  else write_normal(static_cast<double*>(y), n, seed, offset);
}

}  // namespace ae::cpu
