// NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/io/array.h"
#include "models/io/file.h"

namespace ae::io {

// Reads a .npy file into float32. Element types: '<f4' '>f4' '<f8' '>f8' (float64 is rounded to
// float32), '|u1' '|i1' '<i4' '>i4' '<i8' '>i8' (integers must be exactly representable in
// float32, |v| <= 2^24). fortran_order True is refused.
Array read_npy(const std::string& path);

// Parses .npy bytes already in memory, with the same checks; name is used in messages.
Array parse_npy(const Bytes& bytes, const std::string& name);

// Writes '<f4' (atomically: the old file stays intact until the new one is complete).
void write_npy(const std::string& path, const Array& array);
void write_npy(const std::string& path, const std::vector<int64_t>& shape,
               const float* data);  // data: (product(shape))
// Writes '<i8', e.g. class labels or cluster codes.
void write_npy(const std::string& path, const std::vector<int64_t>& shape,
               const int64_t* data);  // data: (product(shape))

}  // namespace ae::io
