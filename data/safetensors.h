// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then the tensors' bytes, little-endian and C-ordered, with
// offsets relative to the start of that buffer. ae's checkpoints use this format.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/file.h"

namespace ae::io {

struct SafeTensor {
  std::string name;
  std::string dtype;  // "F32", "F64", "I64", "U8", ... as the spec spells it
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // product(shape) * dtype size bytes, little-endian, row-major
};

struct SafeTensorsFile {
  std::vector<SafeTensor> tensors;  // in the order of their bytes in the file
  std::map<std::string, std::string> metadata;

  // The tensor called name, or nullptr.
  const SafeTensor* find(const std::string& name) const;
};

// Bytes per element of a dtype of the spec (BOOL U8 I8 F8_E5M2 F8_E4M3 I16 U16 F16 BF16 I32 U32
// F32 F64 I64 U64), or 0 for an unknown one.
int safetensors_dtype_size(const std::string& dtype);

// Writes the tensors in the given order, contiguously, after a header padded with spaces to a
// multiple of 8 bytes. Names must be unique and not "__metadata__"; each tensor's byte count must
// match its dtype and shape. Atomic: the old file stays intact until the new one is complete.
void write_safetensors(const std::string& path, const std::vector<SafeTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads and validates a whole file; every header number is checked against the file size before
// anything is allocated. Errors are one line naming the file and the tensor.
SafeTensorsFile read_safetensors(const std::string& path);

// Parses safetensors bytes already in memory, with the same checks; name is used in messages.
SafeTensorsFile parse_safetensors(const Bytes& bytes, const std::string& name);

// Where each tensor of a file lies, from its header alone (checked as read_safetensors checks
// it, against the file's size), in the order of their bytes; nothing else is read.
struct SafeTensorInfo {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // of the first byte, from the start of the file
  uint64_t bytes = 0;
};
std::vector<SafeTensorInfo> read_safetensors_layout(const std::string& path);

// Conversions between host values and SafeTensor bytes (little-endian on any host).
SafeTensor safetensor_f32(std::string name, std::vector<int64_t> shape,
                          const float* data);  // data: (product(shape))
SafeTensor safetensor_f64(std::string name, std::vector<int64_t> shape,
                          const double* data);  // data: (product(shape))
SafeTensor safetensor_i64(std::string name, std::vector<int64_t> shape,
                          const int64_t* data);  // data: (product(shape))
// The values of an F32 tensor (F64 is rounded to float32, F16 and BF16 widened exactly); any other
// dtype is an error.
std::vector<float> safetensor_to_f32(const SafeTensor& t);
// The values of an F64 tensor (F32, F16 and BF16 are widened exactly); any other dtype is an error.
std::vector<double> safetensor_to_f64(const SafeTensor& t);
// The values of an I64, I32 or U8 tensor; any other dtype is an error.
std::vector<int64_t> safetensor_to_i64(const SafeTensor& t);

}  // namespace ae::io
