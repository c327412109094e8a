// libFuzzer target: gunzip, which every reader applies to a file starting with 1f 8b.
#include "core/error.h"
#include "data/file.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ae::io;
  try {
    const Bytes out = gunzip(data, size, "fuzz.gz", ae::fuzz::kMaxInflated);
    FUZZ_CHECK(out.size() <= ae::fuzz::kMaxInflated);
    FUZZ_CHECK(is_gzip(data, size));
  } catch (const ae::Error&) {
  }
  return 0;
}
