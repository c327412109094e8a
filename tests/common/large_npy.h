// A generated .npy larger than memory for the streaming test and benchmark: (rows, features)
// float32 of rank-4 structure in [0, 1], row i = 0.5 + 0.125 sum_k u_ik w_kj with u_ik in [-1, 1]
// from a splitmix64 hash of i and fixed w_kj in [-1, 1]. Written in 8 MiB chunks: the writer
// never holds the file. Throws std::runtime_error when the file cannot be written.
#pragma once
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ae::testing {

inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline void write_structured_npy(const std::string& path, int64_t rows, int64_t features) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(features) + "), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(magic, 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);  // little-endian on x86-64
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  std::vector<float> w(static_cast<size_t>(4 * features));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{8} << 20) / (features * 4));
  std::vector<float> buffer(static_cast<size_t>(chunk * features));
  for (int64_t first = 0; first < rows; first += chunk) {
    const int64_t n = std::min(chunk, rows - first);
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t h = splitmix64(static_cast<uint64_t>(first + i));
      float u[4];
      for (int k = 0; k < 4; ++k) u[k] = static_cast<float>((h >> (16 * k)) & 0xffff) / 32767.5f - 1.0f;
      float* r = buffer.data() + i * features;
      for (int64_t j = 0; j < features; ++j)
        r[j] = 0.5f + 0.125f * (u[0] * w[j] + u[1] * w[features + j] + u[2] * w[2 * features + j] +
                                u[3] * w[3 * features + j]);
    }
    out.write(reinterpret_cast<const char*>(buffer.data()), n * features * 4);
  }
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

}  // namespace ae::testing
