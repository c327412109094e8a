// Damaged files: every prefix and many single-byte corruptions of valid files must either read
// or throw ae::Error, never crash, hang or throw anything else (run under ASan to see overreads).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/csv.h"
#include "data/idx.h"
#include "data/npy.h"
#include "data/safetensors.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::TempDir;

// Reads every prefix of `valid` and `valid` with each of a spread of bytes replaced by a few
// values; returns how many of those damaged inputs were refused with ae::Error.
int damaged_reads(const TempDir& dir, const Bytes& valid,
                  const std::function<void(const std::string&)>& read) {
  const std::string path = dir.path("damaged");
  int refused = 0;
  auto attempt = [&](const Bytes& b) {
    test::write_raw(path, b);
    try {
      read(path);
    } catch (const ae::Error&) {
      ++refused;
    }  // any other exception fails the test through gtest
  };
  for (size_t n = 0; n < valid.size(); ++n) attempt(Bytes(valid.begin(), valid.begin() + n));
  const size_t step = valid.size() > 300 ? valid.size() / 300 : 1;
  for (size_t i = 0; i < valid.size(); i += step) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0xFF}, uint8_t{'9'}, uint8_t{'"'}, uint8_t{0x80}}) {
      if (valid[i] == v) continue;
      Bytes b = valid;
      b[i] = v;
      attempt(b);
    }
  }
  return refused;
}

TEST(IoRobust, DamagedNpy) {
  TempDir dir;
  write_npy(dir.path("ok.npy"), Array{{3, 2}, {1, 2, 3, 4, 5, 6}});
  const Bytes valid = test::read_raw(dir.path("ok.npy"));
  // Every strict prefix is truncated, so at least that many inputs are refused.
  EXPECT_GE(damaged_reads(dir, valid, [](const std::string& p) { read_npy(p); }),
            static_cast<int>(valid.size()));
}

TEST(IoRobust, DamagedSafetensors) {
  TempDir dir;
  const float w[6] = {1, 2, 3, 4, 5, 6};
  const int64_t s[1] = {9};
  write_safetensors(dir.path("ok.st"),
                    {safetensor_f32("w", {2, 3}, w), safetensor_i64("s", {1}, s)}, {{"k", "v"}});
  const Bytes valid = test::read_raw(dir.path("ok.st"));
  EXPECT_GE(damaged_reads(dir, valid, [](const std::string& p) { read_safetensors(p); }),
            static_cast<int>(valid.size()));
}

TEST(IoRobust, DamagedIdx) {
  TempDir dir;
  Bytes valid = {0, 0, 0x0B, 2};
  test::append_be32(valid, 3);
  test::append_be32(valid, 2);
  for (int i = 0; i < 12; ++i) valid.push_back(static_cast<uint8_t>(i));
  EXPECT_GE(damaged_reads(dir, valid, [](const std::string& p) { read_idx(p); }),
            static_cast<int>(valid.size()));
}

#if AE_HAVE_ZLIB
TEST(IoRobust, DamagedGzipIdx) {
  TempDir dir;
  Bytes raw = {0, 0, 0x08, 1};
  test::append_be32(raw, 64);
  for (int i = 0; i < 64; ++i) raw.push_back(static_cast<uint8_t>(i * 3));
  const Bytes valid = test::gzip(raw);
  // Prefixes of length 0 and 1 are not gzip (read as IDX and refused); the rest are truncated
  // gzip streams. Corrupted bytes mostly fail the CRC.
  EXPECT_GE(damaged_reads(dir, valid, [](const std::string& p) { read_idx(p); }),
            static_cast<int>(valid.size()));
}
#endif

TEST(IoRobust, DamagedCsvNeverCrashes) {
  TempDir dir;
  const std::string text = "a,\"b,c\",label\n# c\n1,2.5,0\n-3,4e2,1\n";
  damaged_reads(dir, Bytes(text.begin(), text.end()), [](const std::string& p) {
    CsvOptions o;
    o.label_name = "label";
    read_csv(p, o);
  });
}

}  // namespace
}  // namespace ae::io
