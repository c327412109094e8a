#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <string>
#include <vector>

#include "data/idx.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

// An IDX file: magic 00 00 type ndims, big-endian dims, then the payload as given.
Bytes idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) test::append_be32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

TEST(IoIdx, Uint8ImagesKeepShapeAndValues) {
  const Array a =
      parse_idx(idx_bytes(0x08, {2, 2, 3}, {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}), "t");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(a.rows(), 2);
  EXPECT_EQ(a.cols(), 6);
  EXPECT_EQ(a.data, (std::vector<float>{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}));
}

TEST(IoIdx, EveryElementTypeIsBigEndian) {
  EXPECT_EQ(parse_idx(idx_bytes(0x09, {3}, {0xFF, 0x80, 0x7F}), "i8").data,
            (std::vector<float>{-1, -128, 127}));
  EXPECT_EQ(parse_idx(idx_bytes(0x0B, {2}, {0x01, 0x02, 0xFF, 0xFE}), "i16").data,
            (std::vector<float>{258, -2}));
  EXPECT_EQ(
      parse_idx(idx_bytes(0x0C, {2}, {0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFD}), "i32").data,
      (std::vector<float>{65536, -3}));
  Bytes f32;
  test::append_be32(f32, std::bit_cast<uint32_t>(1.5f));
  test::append_be32(f32, std::bit_cast<uint32_t>(-0.25f));
  EXPECT_EQ(parse_idx(idx_bytes(0x0D, {1, 2}, f32), "f32").data,
            (std::vector<float>{1.5f, -0.25f}));
  Bytes f64;
  const uint64_t bits = std::bit_cast<uint64_t>(-3.0);
  test::append_be32(f64, static_cast<uint32_t>(bits >> 32));
  test::append_be32(f64, static_cast<uint32_t>(bits));
  const Array d = parse_idx(idx_bytes(0x0E, {1, 1, 1, 1}, f64), "f64");
  EXPECT_EQ(d.shape, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(d.data, (std::vector<float>{-3.0f}));
}

TEST(IoIdx, LabelsAreOneDimensional) {
  TempDir dir;
  test::write_raw(dir.path("labels.idx"), idx_bytes(0x08, {4}, {7, 2, 1, 0}));
  const Array a = read_idx(dir.path("labels.idx"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(a.cols(), 1);
  EXPECT_EQ(a.data, (std::vector<float>{7, 2, 1, 0}));
}

#if AE_HAVE_ZLIB
TEST(IoIdx, GzipAndRawReadTheSame) {
  TempDir dir;
  const Bytes raw = idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 6});
  test::write_raw(dir.path("a.idx"), raw);
  test::write_raw(dir.path("a.idx.gz"), test::gzip(raw));
  EXPECT_EQ(read_idx(dir.path("a.idx")).data, read_idx(dir.path("a.idx.gz")).data);
}
#endif

TEST(IoIdx, WrongMagicShowsTheFourBytes) {
  TempDir dir;
  const std::string path = dir.path("bad.idx");
  test::write_raw(path, std::string("PK\x03\x04rest"));
  const std::string msg = error_of([&] { read_idx(path); });
  EXPECT_TRUE(contains(msg, path + ": not an IDX file: magic is 50 4b 03 04"));
  // Unknown type byte and too many dims are magic errors too.
  EXPECT_TRUE(contains(error_of([] { parse_idx(idx_bytes(0x0A, {1}, {0}), "t"); }),
                       "magic is 00 00 0a 01"));
  EXPECT_TRUE(contains(error_of([] {
                         parse_idx(idx_bytes(0x08, {1, 1, 1, 1, 1}, {0}), "t");
                       }),
                       "magic is 00 00 08 05"));
  EXPECT_TRUE(contains(error_of([] {
                         parse_idx(Bytes{0, 0}, "tiny");
                       }),
                       "tiny: IDX file truncated: 2 bytes, the magic alone needs 4"));
}

TEST(IoIdx, TruncatedHeaderAndDataGiveExpectedAndActualBytes) {
  Bytes header_cut = {0, 0, 0x08, 3, 0, 0, 0, 2};
  EXPECT_TRUE(
      contains(error_of([&] { parse_idx(header_cut, "h.idx"); }),
               "h.idx: IDX header truncated: expected 16 bytes for 3 dims, the file has 8"));
  // 10 x 28 x 28 uint8 needs 16 + 7840 bytes; only 100 payload bytes are there.
  const Bytes data_cut = idx_bytes(0x08, {10, 28, 28}, Bytes(100, 0));
  EXPECT_TRUE(contains(error_of([&] { parse_idx(data_cut, "d.idx"); }),
                       "d.idx: IDX data truncated: shape (10, 28, 28) of uint8 needs 7856 bytes, "
                       "the file has 116"));
  const Bytes i32_cut = idx_bytes(0x0C, {3}, Bytes(11, 0));
  EXPECT_TRUE(
      contains(error_of([&] { parse_idx(i32_cut, "i.idx"); }),
               "i.idx: IDX data truncated: shape (3,) of int32 needs 20 bytes, the file has 19"));
}

TEST(IoIdx, TrailingBytesAreAnError) {
  const Bytes extra = idx_bytes(0x08, {2}, {1, 2, 3});
  EXPECT_TRUE(contains(error_of([&] { parse_idx(extra, "x.idx"); }),
                       "x.idx: IDX file has 1 unexpected bytes after the data"));
}

TEST(IoIdx, ZeroDimensionIsAnError) {
  const Bytes b = idx_bytes(0x08, {5, 0, 3}, {});
  EXPECT_TRUE(contains(error_of([&] { parse_idx(b, "z.idx"); }), "z.idx: IDX dimension 1 is 0"));
}

TEST(IoIdx, AbsurdProductFailsBeforeAllocating) {
  // 4 x 2^32-1 dims would be 2^128 values; the tiny file must be refused by arithmetic alone.
  const Bytes b = idx_bytes(0x0E, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, {1, 2, 3});
  EXPECT_EQ(error_of([&] { parse_idx(b, "huge.idx"); }),
            "huge.idx: IDX dims (4294967295, 4294967295, 4294967295, 4294967295) of float64 claim "
            "more than 2^64 bytes, the file has 23");
  // Large but representable: 2^32 x 2^30 float64 values would be 2^65 bytes.
  const Bytes c = idx_bytes(0x0E, {0xFFFFFFFFu, 1u << 30}, {});
  EXPECT_TRUE(contains(error_of([&] { parse_idx(c, "c.idx"); }), "claim more than 2^64 bytes"));
  // 2^31 x 2^31 uint8 fits in 64 bits: a truncation with both sizes, and nothing allocated.
  const Bytes d = idx_bytes(0x08, {1u << 31, 1u << 31}, {1});
  EXPECT_EQ(error_of([&] { parse_idx(d, "d.idx"); }),
            "d.idx: IDX data truncated: shape (2147483648, 2147483648) of uint8 needs "
            "4611686018427387916 bytes, the file has 13");
}

// The real MNIST test set, when it is present.
class IoIdxMnist : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz"))
      GTEST_SKIP() << "MNIST test set not found in " << dir;
  }
  const std::string dir = AE_MNIST_DIR;
};

TEST_F(IoIdxMnist, TestImages) {
#if !AE_HAVE_ZLIB
  GTEST_SKIP() << "ae built without zlib";
#endif
  const Array images = read_idx(dir + "/t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(images.shape, (std::vector<int64_t>{10000, 28, 28}));
  EXPECT_EQ(images.rows(), 10000);
  EXPECT_EQ(images.cols(), 784);
  ASSERT_EQ(images.data.size(), 7840000u);
  const auto [lo, hi] = std::minmax_element(images.data.begin(), images.data.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 255.0f);
  // Pixels are integers, and MNIST digits are mostly background: about 19% of pixels are lit.
  size_t lit = 0;
  for (float v : images.data) {
    ASSERT_EQ(v, static_cast<float>(static_cast<int>(v)));
    lit += v > 0;
  }
  EXPECT_GT(lit, images.data.size() / 10);
  EXPECT_LT(lit, images.data.size() / 3);
  // The 28x28 frame's corners are blank in every image.
  for (int64_t i = 0; i < 10000; ++i) ASSERT_EQ(images.data[i * 784], 0.0f) << "image " << i;
}

TEST_F(IoIdxMnist, TestLabels) {
#if !AE_HAVE_ZLIB
  GTEST_SKIP() << "ae built without zlib";
#endif
  const Array labels = read_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(labels.shape, (std::vector<int64_t>{10000}));
  ASSERT_EQ(labels.data.size(), 10000u);
  EXPECT_EQ(labels.data[0], 7.0f);  // the first test digit is a 7, then 2, 1, 0
  EXPECT_EQ(labels.data[1], 2.0f);
  EXPECT_EQ(labels.data[2], 1.0f);
  EXPECT_EQ(labels.data[3], 0.0f);
  std::vector<int> counts(10, 0);
  for (float v : labels.data) {
    ASSERT_TRUE(v >= 0 && v <= 9 && v == static_cast<int>(v)) << v;
    ++counts[static_cast<int>(v)];
  }
  for (int c : counts) EXPECT_GT(c, 800);  // every class is present, roughly balanced
  EXPECT_EQ(counts[1], 1135);              // the documented class-1 count of the test set
}

}  // namespace
}  // namespace ae::io
