// NumPy .npz archives (np.savez, np.savez_compressed): a zip of .npy files, one per array, named
// by the array's key ("x.npy" holds the array saved as x=...).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/array.h"
#include "data/file.h"

namespace ae::io {

// The keys of the archive's arrays, in stored order ("arr_0" for np.savez(path, a)).
std::vector<std::string> npz_keys(const std::string& path);

// Reads one array of a .npz file into float32, with read_npy's dtypes and checks. `key` names it;
// empty, the archive must hold exactly one array, and more are an error listing the keys. A
// scipy.sparse matrix (keys format, shape, data, indices, indptr) is refused with how to save
// it dense.
// The array's .npy may take at most max_bytes once inflated.
Array read_npz(const std::string& path, const std::string& key = "",
               uint64_t max_bytes = kMaxReadBytes);

// The same over bytes already in memory; name is used in messages.
Array parse_npz(const Bytes& bytes, const std::string& name, const std::string& key = "",
                uint64_t max_bytes = kMaxReadBytes);

}  // namespace ae::io
