// libFuzzer target: parse_npz, the zip reader under it (central directory, zip64 records, stored
// and deflated entries) and parse_npy on what it extracts. The first byte picks the key: none (the
// only array), or "x".
#include "data/npz.h"

#include "core/error.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ae::io;
  if (size == 0) return 0;
  const std::string key = data[0] & 1 ? "x" : "";
  try {
    const Array a = parse_npz(Bytes(data + 1, data + size), "fuzz.npz", key, ae::fuzz::kMaxInflated);
    uint64_t count = 0;
    FUZZ_CHECK(ae::fuzz::shape_count(a.shape, count) && count == a.data.size());
  } catch (const ae::Error&) {
  }
  return 0;
}
