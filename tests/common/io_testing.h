// Helpers shared by the test_io_*.cpp suites: a scratch folder, raw file writes, and checks on
// the message of an expected ae::Error.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "data/file.h"

#if AE_HAVE_ZLIB
#include <zlib.h>
#endif

namespace ae::io::test {

// A fresh folder under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ae_io_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Names of the entries in the folder, hidden ones included, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path dir_;
};

// A file of tests/data/files/ (the files as people save them; make_files.py there).
inline std::string saved_file(const std::string& name) {
  return std::string(AE_SOURCE_DIR) + "/tests/data/files/" + name;
}

inline void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void write_raw(const std::string& path, const std::string& text) {
  write_raw(path, std::vector<uint8_t>(text.begin(), text.end()));
}

inline std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs f, which must throw ae::Error; returns it (an empty one and a test failure otherwise).
template <class F>
ae::Error caught_error(F&& f) {
  try {
    f();
  } catch (const ae::Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ae::Error, got another exception: " << e.what();
    return ae::Error("");
  }
  ADD_FAILURE() << "expected ae::Error, nothing was thrown";
  return ae::Error("");
}

// Runs f, which must throw ae::Error; returns its message ("" and a test failure otherwise).
template <class F>
std::string error_of(F&& f) {
  return caught_error(std::forward<F>(f)).what();
}

// For EXPECT_TRUE(contains(msg, "...")): names both strings when it fails.
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

inline void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

inline void append_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A safetensors file from a header text (padded to a multiple of 8 as the spec recommends) and a
// buffer, so that every field can be made wrong on purpose.
inline std::vector<uint8_t> st_bytes(std::string header, const std::vector<uint8_t>& buffer) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> b;
  append_le(b, header.size(), 8);
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), buffer.begin(), buffer.end());
  return b;
}

// A .npy file as numpy writes it: magic, version, header length, the dict padded with spaces and
// ended by '\n' so that the data starts at a multiple of 64, then the payload.
inline std::vector<uint8_t> npy_bytes(const std::string& dict, const std::vector<uint8_t>& payload,
                                      int major = 1) {
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  append_le(b, header.size(), major == 1 ? 2 : 4);
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// 16-bit values (float16 or bfloat16 bit patterns), little-endian.
inline std::vector<uint8_t> le16(const std::vector<uint16_t>& bits) {
  std::vector<uint8_t> b;
  for (uint16_t v : bits) append_le(b, v, 2);
  return b;
}

#if AE_HAVE_ZLIB
// gzip-compresses bytes with zlib, as `gzip` would.
inline std::vector<uint8_t> gzip(const std::vector<uint8_t>& in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(zs.total_out);
  return out;
}
#endif

}  // namespace ae::io::test
