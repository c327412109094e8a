// libFuzzer target: parse_safetensors (the reader behind read_safetensors and checkpoints) and
// the conversions a loader applies to each tensor.
#include "data/safetensors.h"

#include "core/error.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ae::io;
  try {
    const SafeTensorsFile f = parse_safetensors(Bytes(data, data + size), "fuzz.safetensors");
    uint64_t total = 0;
    for (const SafeTensor& t : f.tensors) {
      uint64_t count = 0;
      FUZZ_CHECK(ae::fuzz::shape_count(t.shape, count));
      const int element = safetensors_dtype_size(t.dtype);
      FUZZ_CHECK(element > 0 && count * element == t.bytes.size());
      FUZZ_CHECK(f.find(t.name) == &t);
      total += t.bytes.size();
      try {
        FUZZ_CHECK(safetensor_to_f32(t).size() == count);
      } catch (const ae::Error&) {
        FUZZ_CHECK(t.dtype != "F32" && t.dtype != "F64");
      }
      try {
        FUZZ_CHECK(safetensor_to_i64(t).size() == count);
      } catch (const ae::Error&) {
        FUZZ_CHECK(t.dtype != "I64" && t.dtype != "I32" && t.dtype != "U8");
      }
    }
    // The tensors tile the buffer after the 8-byte length and the header.
    FUZZ_CHECK(total <= size);
  } catch (const ae::Error&) {
  }
  return 0;
}
