// NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order only.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/array.h"
#include "data/file.h"

namespace ae::io {

// Reads a .npy file into float32. Element types: '<f2' '>f2' (float16) and '<V2' (bfloat16 as
// np.save writes ml_dtypes.bfloat16, a 2-byte void), both widened exactly; '<f4' '>f4' '<f8' '>f8'
// (float64 is rounded to float32), '|u1' '|i1' '<i4' '>i4' '<i8' '>i8' (integers must be exactly representable in
// float32, |v| <= 2^24). fortran_order True is refused. A gzipped .npy is inflated in memory. A
// file that is not a .npy is named for what its first bytes say it is (data/sniff.h).
Array read_npy(const std::string& path);

// read_npy's values, with the same checks, written into memory the caller provides: allocate(shape)
// is called once the header is checked and returns room for product(shape) floats (a tensor's
// storage), so that the values are read once, straight where they are used. Returns the shape.
using NpyAllocate = std::function<float*(const std::vector<int64_t>& shape)>;
std::vector<int64_t> read_npy_into(const std::string& path, const NpyAllocate& allocate);

// Parses .npy bytes already in memory, with the same checks; name is used in messages.
Array parse_npy(const Bytes& bytes, const std::string& name);

// Where a .npy file's values lie, from its preamble and header alone, with every check of
// read_npy (dtype, order, shape, the file's exact size) done before anything else is read.
struct NpyLayout {
  std::vector<int64_t> shape;
  std::string descr;         // the dtype, as the header spells it ('<f4')
  int element_size = 0;      // bytes per value
  uint64_t data_offset = 0;  // where the first value starts in the file
};
NpyLayout read_npy_layout(const std::string& path);

// Converts `count` values of dtype `descr` (one of read_npy's) at `raw` into `out` (count) as
// read_npy does; `first_index` is the flat index of raw's first value in the array, for messages.
void npy_to_f32(const std::string& descr, const uint8_t* raw, uint64_t count, float* out,
                uint64_t first_index, const std::string& path);

// Writes '<f4' (atomically: the old file stays intact until the new one is complete).
void write_npy(const std::string& path, const Array& array);
void write_npy(const std::string& path, const std::vector<int64_t>& shape,
               const float* data);  // data: (product(shape))
// Writes '<i8', e.g. class labels or cluster codes.
void write_npy(const std::string& path, const std::vector<int64_t>& shape,
               const int64_t* data);  // data: (product(shape))

}  // namespace ae::io
