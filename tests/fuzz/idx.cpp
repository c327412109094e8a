// libFuzzer target: IDX files as read_idx reads them (gzip inflated first, then parse_idx).
#include "data/idx.h"

#include "core/error.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ae::io;
  try {
    Bytes bytes(data, data + size);
    if (is_gzip(bytes.data(), bytes.size()))
      bytes = gunzip(bytes.data(), bytes.size(), "fuzz.idx.gz", ae::fuzz::kMaxInflated);
    const Array a = parse_idx(bytes, "fuzz.idx");
    uint64_t count = 0;
    FUZZ_CHECK(!a.shape.empty() && a.shape.size() <= 4);
    FUZZ_CHECK(ae::fuzz::shape_count(a.shape, count) && count == a.data.size());
    FUZZ_CHECK(a.rows() * a.cols() == a.numel());
  } catch (const ae::Error&) {
  }
  return 0;
}
