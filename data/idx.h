// IDX files (the MNIST family, http://yann.lecun.com/exdb/mnist/): a 4-byte magic 00 00 <type>
// <ndims>, ndims big-endian uint32 dims, then the values, big-endian, row-major.
#pragma once
#include <string>

#include "data/array.h"
#include "data/file.h"

namespace ae::io {

// Reads an IDX file, raw or gzip-compressed, into float32: uint8 (0x08), int8 (0x09), int16
// (0x0B), int32 (0x0C), float32 (0x0D) or float64 (0x0E) elements, 1 to 4 dims. Image files give
// (n, rows, cols), label files (n). Values are converted exactly as float32 would hold them
// (uint8 pixels stay 0..255; no scaling here).
Array read_idx(const std::string& path, uint64_t max_bytes = kMaxReadBytes);

// Parses IDX bytes already in memory; name is used in messages.
Array parse_idx(const Bytes& bytes, const std::string& name);

}  // namespace ae::io
