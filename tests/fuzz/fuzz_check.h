// What every fuzz target shares: the one rule that each input must either parse or throw
// ae::Error, and checks on what a successful parse returned. A failed check aborts, which libFuzzer
// reports as a crash with the input that caused it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace ae::fuzz {

// The fuzz targets inflate with this limit: far below -malloc_limit_mb, so a gzip bomb is
// refused by the library's own limit and never reaches libFuzzer's.
inline constexpr uint64_t kMaxInflated = uint64_t{2} << 20;

// product(shape), or false when a dimension is negative or the product overflows 63 bits. Zero
// dimensions are skipped, so a shape whose other dimensions overflow counts as overflowing.
inline bool shape_count(const std::vector<int64_t>& shape, uint64_t& count) {
  uint64_t nonzero = 1;
  bool zero = false;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (d == 0) {
      zero = true;
      continue;
    }
    if (__builtin_mul_overflow(nonzero, static_cast<uint64_t>(d), &nonzero) ||
        nonzero > static_cast<uint64_t>(INT64_MAX))
      return false;
  }
  count = zero ? 0 : nonzero;
  return true;
}

}  // namespace ae::fuzz
