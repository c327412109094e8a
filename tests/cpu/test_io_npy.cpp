#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "data/npy.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

using Floats = std::vector<float>;
using Shape = std::vector<int64_t>;

using test::npy_bytes;

template <class T>
Bytes le_payload(const std::vector<T>& values) {
  Bytes b;
  for (T v : values) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    test::append_le(b, bits, sizeof(T));
  }
  return b;
}

std::string read_npy_error(const TempDir& dir, const Bytes& file) {
  test::write_raw(dir.path("x.npy"), file);
  return error_of([&] { read_npy(dir.path("x.npy")); });
}

TEST(IoNpy, WriterMatchesNumpyByteForByte) {
  // np.save("a.npy", np.arange(6, dtype="<f4").reshape(2, 3)) writes exactly this.
  TempDir dir;
  Array a{{2, 3}, {0, 1, 2, 3, 4, 5}};
  write_npy(dir.path("a.npy"), a);
  const Bytes expected = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                   le_payload<float>({0, 1, 2, 3, 4, 5}));
  const Bytes got = test::read_raw(dir.path("a.npy"));
  EXPECT_EQ(got.size(), 128u + 24u);
  EXPECT_EQ(got, expected);
}

TEST(IoNpy, Float32RoundTripKeepsShapeAndBits) {
  TempDir dir;
  for (const Shape& shape : {Shape{}, Shape{5}, Shape{3, 4}, Shape{2, 3, 4}, Shape{0, 7}}) {
    Array a;
    a.shape = shape;
    a.data.resize(static_cast<size_t>(a.numel()));
    for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = 0.1f * static_cast<float>(i) - 1e-30f;
    write_npy(dir.path("r.npy"), a);
    const Array b = read_npy(dir.path("r.npy"));
    EXPECT_EQ(b.shape, shape);
    EXPECT_EQ(b.data, a.data);
  }
  EXPECT_EQ(dir.list(), std::vector<std::string>{"r.npy"});  // no temporary left behind
}

TEST(IoNpy, Int64LabelsRoundTrip) {
  TempDir dir;
  const std::vector<int64_t> labels = {7, 2, 1, 0, -4, 16777216};
  write_npy(dir.path("l.npy"), {6}, labels.data());
  const Bytes raw = test::read_raw(dir.path("l.npy"));
  EXPECT_NE(std::string(raw.begin(), raw.end()).find("'descr': '<i8'"), std::string::npos);
  EXPECT_NE(std::string(raw.begin(), raw.end()).find("'shape': (6,)"), std::string::npos);
  EXPECT_EQ(read_npy(dir.path("l.npy")).data, (Floats{7, 2, 1, 0, -4, 16777216}));
}

TEST(IoNpy, ReadsOtherDtypesAndVersions) {
  TempDir dir;
  auto read = [&](const Bytes& file) {
    test::write_raw(dir.path("t.npy"), file);
    return read_npy(dir.path("t.npy"));
  };
  EXPECT_EQ(read(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                           le_payload<double>({0.5, -2.25})))
                .data,
            (Floats{0.5f, -2.25f}));
  EXPECT_EQ(
      read(npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 3), }", {0, 128, 255}))
          .data,
      (Floats{0, 128, 255}));
  // Big-endian float32: 1.0f is 3f 80 00 00.
  EXPECT_EQ(read(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                           {0x3f, 0x80, 0, 0}))
                .data,
            (Floats{1.0f}));
  // Version 2.0 (4-byte header length), double quotes and no trailing comma.
  const Array v2 =
      read(npy_bytes("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2, 1)}",
                     le_payload<int32_t>({-3, 9}), 2));
  EXPECT_EQ(v2.shape, (Shape{2, 1}));
  EXPECT_EQ(v2.data, (Floats{-3, 9}));
}

// Activations as language models save them. The bit patterns are written here, not by ae:
// float16 0x3C00 = 1, 0xC000 = -2, 0x3555 = 1365 / 4096, 0x7BFF = 65504 (the largest),
// 0x0001 = 2^-24 (the smallest subnormal), 0x03FF = 1023 * 2^-24 (the largest), 0x0400 = 2^-14,
// 0x8000 = -0, 0x7C00 / 0xFC00 = +/-inf, 0x7E00 = NaN; bfloat16 is a float32's top half.
TEST(IoNpy, ReadsFloat16AndBfloat16Exactly) {
  TempDir dir;
  auto read = [&](const std::string& descr, const std::string& shape, const Bytes& payload) {
    test::write_raw(dir.path("h.npy"),
                    npy_bytes(cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ",
                                  shape, ", }"),
                              payload));
    return read_npy(dir.path("h.npy"));
  };
  const Array h = read("<f2", "(3, 3)",
                       test::le16({0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000,
                                   0x0000}));
  EXPECT_EQ(h.shape, (Shape{3, 3}));
  const Floats want = {1.0f,  -2.0f, 1365.0f / 4096, 65504.0f, std::ldexp(1.0f, -24),
                       std::ldexp(1023.0f, -24), std::ldexp(1.0f, -14), -0.0f, 0.0f};
  ASSERT_EQ(h.data.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(h.data[i]), std::bit_cast<uint32_t>(want[i])) << i;
  // Big-endian float16: 1.5 is 3e 00.
  EXPECT_EQ(read(">f2", "(1,)", {0x3e, 0x00}).data, (Floats{1.5f}));
  const Array inf = read("<f2", "(3,)", test::le16({0x7C00, 0xFC00, 0x7E00}));
  EXPECT_EQ(inf.data[0], INFINITY);
  EXPECT_EQ(inf.data[1], -INFINITY);
  EXPECT_TRUE(std::isnan(inf.data[2]));

  // ml_dtypes.bfloat16 as np.save writes it: a 2-byte void.
  for (const char* descr : {"<V2", "|V2"}) {
    const Array b = read(descr, "(5, 1)", test::le16({0x3F80, 0xC0A0, 0x4049, 0x0001, 0x7F7F}));
    EXPECT_EQ(b.shape, (Shape{5, 1}));
    EXPECT_EQ(b.data, (Floats{1.0f, -5.0f, 3.140625f, std::ldexp(1.0f, -133),
                              std::bit_cast<float>(0x7F7F0000u)}))
        << descr;
  }
  const Array bn = read("<V2", "(2,)", test::le16({0xFF80, 0x7FC0}));
  EXPECT_EQ(bn.data[0], -INFINITY);
  EXPECT_TRUE(std::isnan(bn.data[1]));
  // Other widths of void are no dtype ae knows.
  EXPECT_TRUE(contains(error_of([&] { read("|V4", "(1,)", Bytes(4, 0)); }),
                       "h.npy: .npy dtype '|V4' is not supported (expected <f2, >f2, <V2 (bfloat16)"));
}

TEST(IoNpy, FortranOrderIsRefused) {
  TempDir dir;
  const std::string msg = read_npy_error(
      dir, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", Bytes(16, 0)));
  EXPECT_TRUE(contains(msg, dir.path("x.npy") + ": fortran_order True is not supported"));
}

#if AE_HAVE_ZLIB
// np.save's output gzipped by hand ("x.npy.gz") reads as the .npy does.
TEST(IoNpy, GzippedFileReadsAsTheNpy) {
  TempDir dir;
  write_npy(dir.path("a.npy"), Array{{2, 2}, {1, 2, 3, 4}});
  test::write_raw(dir.path("a.npy.gz"), test::gzip(test::read_raw(dir.path("a.npy"))));
  const Array a = read_npy(dir.path("a.npy.gz"));
  EXPECT_EQ(a.shape, (Shape{2, 2}));
  EXPECT_EQ(a.data, (Floats{1, 2, 3, 4}));
}
#endif

TEST(IoNpy, BadFilesNameTheFileAndTheProblem) {
  TempDir dir;
  const std::string p = dir.path("x.npy");
  EXPECT_EQ(read_npy_error(dir, {0x93, 'N', 'U'}),
            p + ": .npy file truncated: 3 bytes, the preamble needs 10");
  EXPECT_EQ(read_npy_error(dir, Bytes{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0}),
            p + ": not a .npy file (it is a zip archive (a .npz, say))");
  EXPECT_EQ(read_npy_error(dir, Bytes{0x93, 'N', 'U', 'L', 'L', 0, 0, 0, 0, 0, 0}),
            p + ": not a .npy file (the first 6 bytes are not \\x93NUMPY)");
  Bytes v9 = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", Bytes(4, 0));
  v9[6] = 9;
  EXPECT_EQ(read_npy_error(dir, v9),
            p + ": .npy format version 9.0 is not supported (expected 1.0, 2.0 or 3.0)");
  EXPECT_TRUE(contains(
      read_npy_error(
          dir, npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", Bytes(8, 0))),
      p + ": .npy dtype '<c8' is not supported"));
  EXPECT_EQ(
      read_npy_error(dir,
                     npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 784), }",
                               Bytes(100, 0))),
      p + ": .npy data truncated: shape (10, 784) of <f4 is 7840 values of 4 bytes (31360 "
          "bytes), but the file has 100 bytes after the header (25 values)");
  EXPECT_EQ(
      read_npy_error(dir, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                    Bytes(12, 0))),
      p + ": .npy file has 4 unexpected bytes after the data (shape (2,) of <f4)");
  // A header length that points past the end of the file.
  Bytes long_header = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", {});
  long_header[8] = 0xFF;
  long_header[9] = 0x7F;
  EXPECT_EQ(read_npy_error(dir, long_header),
            p + ": .npy header length 32767 is larger than the rest of the file (118 bytes)");
  // Dims whose product overflows 64 bits are refused without allocating.
  EXPECT_TRUE(
      contains(read_npy_error(dir, npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': "
                                             "(4294967296, 4294967296, 4294967296), }",
                                             {})),
               "has too many elements"));
}

TEST(IoNpy, MalformedHeadersAreRefused) {
  TempDir dir;
  const std::string p = dir.path("x.npy");
  EXPECT_TRUE(
      contains(read_npy_error(dir, npy_bytes("{'descr': '<f4', 'shape': (1,), }", Bytes(4, 0))),
               p + ": invalid .npy header at character"));
  EXPECT_TRUE(contains(
      read_npy_error(dir,
                     npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", {})),
      "expected a non-negative integer"));
  EXPECT_TRUE(
      contains(read_npy_error(
                   dir, npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", {})),
               "expected True or False"));
  EXPECT_TRUE(contains(
      read_npy_error(dir, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "
                                    "'extra': 1}",
                                    {})),
      "unexpected key 'extra'"));
  EXPECT_TRUE(contains(read_npy_error(dir, npy_bytes("['<f4']", {})), "expected '{'"));
}

TEST(IoNpy, IntegersBeyondFloat32PrecisionAreRefused) {
  TempDir dir;
  const std::vector<int64_t> v = {1, 16777217};
  write_npy(dir.path("x.npy"), {2}, v.data());
  EXPECT_EQ(error_of([&] { read_npy(dir.path("x.npy")); }),
            dir.path("x.npy") +
                ": value 16777217 at index 1 cannot be held exactly by float32 (|v| > 2^24)");
}

TEST(IoNpy, WriteChecksShapeAgainstData) {
  TempDir dir;
  Array bad{{2, 3}, {1, 2, 3}};
  EXPECT_EQ(error_of([&] { write_npy(dir.path("w.npy"), bad); }),
            dir.path("w.npy") + ": write_npy: shape (2, 3) does not match 3 values");
  EXPECT_TRUE(dir.list().empty());
}

}  // namespace
}  // namespace ae::io
