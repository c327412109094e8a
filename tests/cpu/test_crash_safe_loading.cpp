// Loading hostile or damaged files: every size a header claims is checked against the real size
// before anything is allocated, nothing a header holds can overflow a count or the stack, and the
// byte-level parsers (what the fuzz targets call) behave exactly as the path readers.
//
// "Before anything is allocated" is observable here: a 1 TB allocation would throw std::bad_alloc
// (not ae::Error, so error_of fails the test) and abort under AddressSanitizer.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/npy.h"
#include "data/safetensors.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

using test::st_bytes;

// A version 1.0 .npy file from a header dict text and the data bytes.
Bytes npy_bytes(std::string header, const Bytes& data) {
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  test::append_le(b, header.size(), 2);
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

std::string st_error(const Bytes& b) {
  return error_of([&] { parse_safetensors(b, "m.safetensors"); });
}

std::string npy_error(const Bytes& b) {
  return error_of([&] { parse_npy(b, "a.npy"); });
}

TEST(CrashSafeLoading, ByteParsersAgreeWithThePathReaders) {
  TempDir dir;
  const float w[6] = {1, -2, 3.5f, 4, 5, 6};
  const int64_t s[2] = {9, -1};
  write_safetensors(dir.path("m.safetensors"),
                    {safetensor_f32("w", {2, 3}, w), safetensor_i64("s", {2}, s)}, {{"k", "v"}});
  const Bytes st = test::read_raw(dir.path("m.safetensors"));
  const SafeTensorsFile from_path = read_safetensors(dir.path("m.safetensors"));
  const SafeTensorsFile from_bytes = parse_safetensors(st, "m.safetensors");
  ASSERT_EQ(from_bytes.tensors.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(from_bytes.tensors[i].name, from_path.tensors[i].name);
    EXPECT_EQ(from_bytes.tensors[i].dtype, from_path.tensors[i].dtype);
    EXPECT_EQ(from_bytes.tensors[i].shape, from_path.tensors[i].shape);
    EXPECT_EQ(from_bytes.tensors[i].bytes, from_path.tensors[i].bytes);
  }
  EXPECT_EQ(from_bytes.metadata, from_path.metadata);

  write_npy(dir.path("a.npy"), Array{{3, 2}, {1, 2, 3, 4, 5, 6}});
  const Bytes np = test::read_raw(dir.path("a.npy"));
  EXPECT_EQ(parse_npy(np, "a.npy").data, read_npy(dir.path("a.npy")).data);
  EXPECT_EQ(parse_npy(np, "a.npy").shape, (std::vector<int64_t>{3, 2}));

  // The same damage gives the same message, with the name the caller gave.
  const Bytes cut(st.begin(), st.end() - 5);
  test::write_raw(dir.path("cut.safetensors"), cut);
  const std::string file_error = error_of([&] { read_safetensors(dir.path("cut.safetensors")); });
  const std::string bytes_error = error_of([&] { parse_safetensors(cut, "cut.safetensors"); });
  EXPECT_EQ(file_error.substr(file_error.find("cut.safetensors")), bytes_error);
}

TEST(CrashSafeLoading, AbsurdSizesAreRefusedBeforeAllocating) {
  // 1 TB claimed by a consistent shape and offsets, 8 bytes present.
  EXPECT_EQ(st_error(st_bytes(R"({"w":{"dtype":"U8","shape":[1099511627776],)"
                              R"("data_offsets":[0,1099511627776]}})",
                              Bytes(8))),
            "m.safetensors: tensor 'w': data_offsets [0, 1099511627776] are out of range: the "
            "buffer has 8 bytes");
  // Offsets at the very top of 64 bits.
  EXPECT_TRUE(contains(st_error(st_bytes(R"({"w":{"dtype":"U8","shape":[1],)"
                                         R"("data_offsets":[18446744073709551614,)"
                                         R"(18446744073709551615]}})",
                                         Bytes(8))),
                       "are out of range: the buffer has 8 bytes"));
  // A header length of 2^62.
  Bytes huge_header;
  test::append_le(huge_header, uint64_t{1} << 62, 8);
  huge_header.push_back('{');
  EXPECT_EQ(st_error(huge_header), "m.safetensors: header length 4611686018427387904 is larger "
                                   "than the rest of the file (1 bytes)");
  // .npy: a shape of 2^40 x 2^10 floats with no data, and a 4 GB header length (version 2.0).
  EXPECT_TRUE(contains(
      npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, "
                          "1024), }",
                          {})),
      "a.npy: .npy data truncated: shape (1099511627776, 1024) of <f4 is 1125899906842624 values "
      "of 4 bytes (4503599627370496 bytes), but the file has 0 bytes after the header (0 "
      "values)"));
  Bytes v2 = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xFF, 0xFF, 0xFF, 0xFF, '{'};
  EXPECT_TRUE(contains(npy_error(v2), "a.npy: .npy header length 4294967295 is larger than the "
                                      "limit of 1048576 bytes"));
}

TEST(CrashSafeLoading, AZeroDimensionDoesNotHideAnOverflowingShape) {
  // (0, 2^40, 2^40) holds no values, but rows x cols of such a shape overflows int64 wherever it
  // is used: refused, whatever the order of the dimensions.
  for (const char* shape : {"[0,1099511627776,1099511627776]", "[1099511627776,1099511627776,0]"}) {
    EXPECT_TRUE(contains(
        st_error(st_bytes(std::string(R"({"w":{"dtype":"U8","shape":)") + shape +
                              R"(,"data_offsets":[0,0]}})",
                          {})),
        "does not match data_offsets [0, 0]: its element or byte count overflows 64 bits"))
        << shape;
  }
  for (const char* shape :
       {"(0, 1099511627776, 1099511627776)", "(1099511627776, 1099511627776, 0)"}) {
    EXPECT_EQ(npy_error(npy_bytes(std::string("{'descr': '<f4', 'fortran_order': False, "
                                              "'shape': ") +
                                      shape + ", }",
                                  {})),
              std::string("a.npy: shape ") + shape + " has too many elements")
        << shape;
  }
  // A real empty array still loads.
  const SafeTensorsFile empty = parse_safetensors(
      st_bytes(R"({"w":{"dtype":"F32","shape":[0,784],"data_offsets":[0,0]}})", {}), "e");
  ASSERT_EQ(empty.tensors.size(), 1u);
  EXPECT_EQ(empty.tensors[0].shape, (std::vector<int64_t>{0, 784}));
  EXPECT_EQ(parse_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 784), }",
                                {}),
                      "e.npy")
                .cols(),
            784);
}

TEST(CrashSafeLoading, ShapesAndOffsetsMustBeIntegers) {
  const std::string where = "m.safetensors: tensor 'w': ";
  for (const std::string bad : {"1.5", "\"4\"", "true", "null", "[1]", "{}"}) {
    const std::string in_shape = R"({"w":{"dtype":"U8","shape":[)" + bad +
                                 R"(],"data_offsets":[0,1]}})";
    EXPECT_EQ(st_error(st_bytes(in_shape, Bytes(1))),
              where + "shape must hold non-negative integers, got " + bad);
    const std::string in_offsets =
        R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,)" + bad + "]}}";
    EXPECT_EQ(st_error(st_bytes(in_offsets, Bytes(1))),
              where + "data_offsets must hold non-negative integers, got " + bad);
  }
  EXPECT_EQ(st_error(st_bytes(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})", Bytes(1))),
            "m.safetensors: tensor 'w': dtype must be a string, got 7");
}

TEST(CrashSafeLoading, DeepNestingIsRefusedWithoutRecursion) {
  // A million nested arrays where the shape belongs: printing or walking it recursively would
  // overflow the stack; the parser stops at the ninth level.
  const size_t depth = 1000000;
  const std::string header = R"({"w":{"dtype":"U8","shape":)" + std::string(depth, '[') +
                             std::string(depth, ']') + R"(,"data_offsets":[0,1]}})";
  EXPECT_EQ(st_error(st_bytes(header, Bytes(1))),
            "m.safetensors: the JSON header nests deeper than 8 levels (a safetensors header has "
            "3)");
  // Metadata values are strings, so nesting there is refused the same way.
  EXPECT_TRUE(contains(st_error(st_bytes(R"({"__metadata__":{"k":)" + std::string(64, '[') +
                                             std::string(64, ']') + "}}",
                                         {})),
                       "nests deeper than 8 levels"));
}

TEST(CrashSafeLoading, LongValuesAreCutInMessages) {
  const std::string long_string(100000, 'x');
  const std::string message = st_error(
      st_bytes(R"({"w":{"dtype":"U8","shape":[")" + long_string + R"("],"data_offsets":[0,1]}})",
               Bytes(1)));
  EXPECT_TRUE(contains(message, "shape must hold non-negative integers, got \"xxxx"));
  EXPECT_TRUE(contains(message, "..."));
  EXPECT_LT(message.size(), 200u);
}

}  // namespace
}  // namespace ae::io
