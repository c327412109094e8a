#include "tests/gpu/harness.h"

#include <cstdlib>
#include <string>

namespace ae::gputest {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_string(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

const Backend& gpu() { return *cuda_backend(); }
const Backend& cpu() { return cpu_backend(); }
Stream gpu_stream() { return gpu().stream(0); }

uint64_t base_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("AE_TEST_SEED");
    return env && *env ? std::strtoull(env, nullptr, 10) : 0ull;
  }();
  return seed;
}

uint64_t case_seed() {
  static uint64_t counter = 0;
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
  return splitmix64(hash_string(name) ^ splitmix64(base_seed() + ++counter));
}

double uniform_at(uint64_t seed, uint64_t i, double lo, double hi) {
  const uint64_t bits = splitmix64(seed ^ splitmix64(i));
  const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
  return lo + (hi - lo) * u;
}

}  // namespace ae::gputest
