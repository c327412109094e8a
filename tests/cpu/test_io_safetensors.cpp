#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "data/safetensors.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

using Shape = std::vector<int64_t>;

using test::st_bytes;

std::string read_error(const TempDir& dir, const Bytes& file) {
  test::write_raw(dir.path("m.safetensors"), file);
  return error_of([&] { read_safetensors(dir.path("m.safetensors")); });
}

TEST(IoSafetensors, RoundTripKeepsOrderValuesAndMetadata) {
  TempDir dir;
  const std::string path = dir.path("ckpt.safetensors");
  const std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-38f};
  const std::vector<int64_t> step = {12345678901234LL};
  const double d[2] = {0.1, -7.0};
  SafeTensor dbl{"z.f64", "F64", {2}, Bytes(16)};
  std::memcpy(dbl.bytes.data(), d, 16);  // little-endian host, as the test machines are
  std::vector<SafeTensor> tensors = {
      safetensor_f32("encoder.0.weight", {2, 3}, w.data()),
      safetensor_i64("step", {}, step.data()),
      dbl,
      SafeTensor{"empty", "F32", {0, 4}, {}},
      SafeTensor{"mask", "U8", {3}, {1, 0, 1}},
  };
  const std::map<std::string, std::string> meta = {{"format", "ae"}, {"model", "vae"}};
  write_safetensors(path, tensors, meta);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"ckpt.safetensors"});

  const SafeTensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.metadata, meta);
  ASSERT_EQ(f.tensors.size(), tensors.size());
  // The zero-byte tensor shares its offset with the next one; the rest come in written order.
  std::vector<std::string> names;
  for (const SafeTensor& t : f.tensors) names.push_back(t.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"encoder.0.weight", "step", "z.f64", "empty", "mask"}));
  for (const SafeTensor& t : tensors) {
    const SafeTensor* r = f.find(t.name);
    ASSERT_NE(r, nullptr) << t.name;
    EXPECT_EQ(r->dtype, t.dtype);
    EXPECT_EQ(r->shape, t.shape);
    EXPECT_EQ(r->bytes, t.bytes);
  }
  EXPECT_EQ(safetensor_to_f32(*f.find("encoder.0.weight")), w);
  EXPECT_EQ(safetensor_to_i64(*f.find("step")), step);
  EXPECT_EQ(safetensor_to_f32(*f.find("z.f64")), (std::vector<float>{0.1f, -7.0f}));
  EXPECT_EQ(safetensor_to_i64(*f.find("mask")), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(f.find("nope"), nullptr);
}

TEST(IoSafetensors, LayoutFollowsTheSpecByteForByte) {
  TempDir dir;
  const float a[2] = {1.0f, 2.0f};
  write_safetensors(dir.path("s.safetensors"), {safetensor_f32("a", {2}, a)}, {{"format", "pt"}});
  const Bytes got = test::read_raw(dir.path("s.safetensors"));
  // The header the reference implementation writes for the same tensor, padded with spaces.
  const std::string json =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const Bytes expected = st_bytes(json, {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40});
  EXPECT_EQ(got, expected);
  uint64_t n = 0;
  std::memcpy(&n, got.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(got[8], '{');
}

TEST(IoSafetensors, EmptyFileHasNoTensors) {
  TempDir dir;
  write_safetensors(dir.path("e.safetensors"), {});
  const SafeTensorsFile f = read_safetensors(dir.path("e.safetensors"));
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_TRUE(f.metadata.empty());
}

TEST(IoSafetensors, WriterRefusesInconsistentTensors) {
  TempDir dir;
  const std::string p = dir.path("w.safetensors");
  const float x[4] = {};
  EXPECT_EQ(error_of([&] {
              write_safetensors(p, {safetensor_f32("a", {2}, x), safetensor_f32("a", {1}, x)});
            }),
            p + ": tensor 'a': duplicate tensor name");
  EXPECT_EQ(error_of([&] {
              write_safetensors(p, {SafeTensor{"b", "F32", {2, 2}, Bytes(12)}});
            }),
            p + ": tensor 'b': shape (2, 2) of F32 needs 16 bytes, got 12");
  EXPECT_EQ(error_of([&] {
              write_safetensors(p, {SafeTensor{"c", "Q4", {1}, Bytes(1)}});
            }),
            p + ": tensor 'c': unknown dtype 'Q4'");
  EXPECT_EQ(error_of([&] {
              write_safetensors(p, {SafeTensor{"__metadata__", "U8", {1}, Bytes(1)}});
            }),
            p + ": tensor '__metadata__': the name is reserved for metadata");
  EXPECT_TRUE(dir.list().empty());
}

TEST(IoSafetensors, HeaderLengthBeyondTheFile) {
  TempDir dir;
  const std::string p = dir.path("m.safetensors");
  Bytes b = st_bytes(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {5});
  b[5] = 0x01;  // header length 2^40 + ...
  EXPECT_TRUE(contains(read_error(dir, b), p + ": header length 1099511627832 is larger than the "
                                               "rest of the file (57 bytes)"));
  EXPECT_EQ(read_error(dir, {1, 2, 3}), p + ": safetensors file truncated: 3 bytes, the header "
                                            "length alone needs 8");
}

TEST(IoSafetensors, InvalidJson) {
  TempDir dir;
  const std::string p = dir.path("m.safetensors");
  EXPECT_TRUE(contains(read_error(dir, st_bytes(R"({"a":{"dtype":"U8",)", {})),
                       p + ": invalid JSON header: "));
  EXPECT_EQ(read_error(dir, st_bytes(R"(["a"])", {})), p + ": the header does not start with '{'");
  EXPECT_TRUE(contains(read_error(dir, st_bytes(R"({"a": 3})", {})),
                       p + ": tensor 'a': expected an object with dtype, shape and data_offsets"));
  EXPECT_TRUE(contains(read_error(dir, st_bytes(R"({"__metadata__":{"k":1}})", {})),
                       p + ": __metadata__ 'k' must be a string, got 1"));
}

TEST(IoSafetensors, UnknownDtypeAndMissingFields) {
  TempDir dir;
  const std::string p = dir.path("m.safetensors");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})",
                                     Bytes(4))),
            p + ": tensor 'w': unknown dtype 'F12'");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", Bytes(4))),
            p + ": tensor 'w': missing 'shape'");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                                     Bytes(4))),
            p + ": tensor 'w': shape must hold non-negative integers, got -1");
  EXPECT_EQ(read_error(
                dir, st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}})", Bytes(4))),
            p + ": tensor 'w': data_offsets must be [begin, end], got [4]");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
                                     Bytes(4))),
            p + ": tensor 'w': data_offsets [4, 0] end before they begin");
}

TEST(IoSafetensors, ShapeMustMatchTheOffsetSpan) {
  TempDir dir;
  const std::string p = dir.path("m.safetensors");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                                     Bytes(20))),
            p + ": tensor 'w': shape (2, 3) of F32 does not match data_offsets [0, 20] (20 bytes)");
  // A shape whose byte count overflows 64 bits.
  EXPECT_TRUE(contains(
      read_error(
          dir,
          st_bytes(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                   Bytes(8))),
      p + ": tensor 'w': shape (4294967296, 4294967296) of F64 does not match"));
}

TEST(IoSafetensors, OffsetsOutOfRangeOverlappingOrNotCovering) {
  TempDir dir;
  const std::string p = dir.path("m.safetensors");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                                     Bytes(8))),
            p + ": tensor 'w': data_offsets [4, 12] are out of range: the buffer has 8 bytes");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                     R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                                     Bytes(6))),
            p + ": tensor 'b': data_offsets [2, 6] overlap tensor 'a' [0, 4]");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                     R"("b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})",
                                     Bytes(6))),
            p + ": tensor 'b': data_offsets [4, 6] leave a gap: the bytes before it end at 2");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
                                     Bytes(5))),
            p + ": the tensors cover 2 of the 5 buffer bytes; 3 bytes at the end belong to no "
                "tensor");
}

TEST(IoSafetensors, DuplicateNamesInTheHeader) {
  TempDir dir;
  const std::string p = dir.path("m.safetensors");
  EXPECT_EQ(read_error(dir, st_bytes(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                     R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                     Bytes(2))),
            p + ": tensor 'a': duplicate name in the header");
}

TEST(IoSafetensors, ConversionsCheckTheDtype) {
  const SafeTensor u{"u", "U16", {1}, Bytes(2)};
  EXPECT_EQ(error_of([&] { safetensor_to_f32(u); }),
            "safetensor 'u': dtype U16 cannot be read as float32 (F32, F64, F16 or BF16)");
  EXPECT_EQ(error_of([&] { safetensor_to_i64(u); }),
            "safetensor 'u': dtype U16 cannot be read as int64 (I64, I32 or U8)");
  const SafeTensor short_f32{"s", "F32", {2}, Bytes(4)};
  EXPECT_EQ(error_of([&] { safetensor_to_f32(short_f32); }),
            "safetensor 's': shape (2,) of F32 does not match 4 bytes");
}

}  // namespace
}  // namespace ae::io
