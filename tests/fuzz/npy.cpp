// libFuzzer target: parse_npy, the reader behind read_npy.
#include "data/npy.h"

#include "core/error.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ae::io;
  try {
    const Array a = parse_npy(Bytes(data, data + size), "fuzz.npy");
    uint64_t count = 0;
    FUZZ_CHECK(ae::fuzz::shape_count(a.shape, count) && count == a.data.size());
    FUZZ_CHECK(a.rows() * a.cols() == a.numel());
  } catch (const ae::Error&) {
  }
  return 0;
}
