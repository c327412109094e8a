// .npz archives as np.savez and np.savez_compressed write them (tests/data/files/, made by
// make_files.py), and zip archives built here byte by byte to make each field wrong on purpose.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "data/npy.h"
#include "data/npz.h"
#include "data/zip.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

std::string file(const std::string& name) { return test::saved_file(name); }

uint32_t crc32_ref(const Bytes& b) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t byte : b) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

struct Member {
  std::string name;
  Bytes data;
};

// A zip archive of stored members. zip64: the central directory gives every size and offset
// as 0xFFFFFFFF with the real values in a zip64 extra field, and the archive ends with the zip64
// end record and its locator, as large archives do.
Bytes zip_bytes(const std::vector<Member>& members, bool zip64 = false) {
  using test::append_le;
  Bytes out, central;
  for (const Member& m : members) {
    const uint64_t offset = out.size();
    append_le(out, 0x04034b50, 4);
    append_le(out, 20, 2);  // version needed
    append_le(out, 0, 2);   // flags
    append_le(out, 0, 2);   // stored
    append_le(out, 0, 4);   // time and date
    append_le(out, crc32_ref(m.data), 4);
    append_le(out, m.data.size(), 4);
    append_le(out, m.data.size(), 4);
    append_le(out, m.name.size(), 2);
    append_le(out, 0, 2);
    out.insert(out.end(), m.name.begin(), m.name.end());
    out.insert(out.end(), m.data.begin(), m.data.end());

    append_le(central, 0x02014b50, 4);
    append_le(central, 45, 2);
    append_le(central, 45, 2);
    append_le(central, 0, 2);
    append_le(central, 0, 2);
    append_le(central, 0, 4);
    append_le(central, crc32_ref(m.data), 4);
    append_le(central, zip64 ? 0xFFFFFFFFu : m.data.size(), 4);
    append_le(central, zip64 ? 0xFFFFFFFFu : m.data.size(), 4);
    append_le(central, m.name.size(), 2);
    append_le(central, zip64 ? 28 : 0, 2);  // extra
    append_le(central, 0, 2);               // comment
    append_le(central, 0, 2);               // disk
    append_le(central, 0, 2);
    append_le(central, 0, 4);
    append_le(central, zip64 ? 0xFFFFFFFFu : offset, 4);
    central.insert(central.end(), m.name.begin(), m.name.end());
    if (zip64) {
      append_le(central, 1, 2);
      append_le(central, 24, 2);
      append_le(central, m.data.size(), 8);  // uncompressed
      append_le(central, m.data.size(), 8);  // compressed
      append_le(central, offset, 8);
    }
  }
  const uint64_t cd_offset = out.size();
  out.insert(out.end(), central.begin(), central.end());
  if (zip64) {
    const uint64_t end64 = out.size();
    append_le(out, 0x06064b50, 4);
    append_le(out, 44, 8);
    append_le(out, 45, 2);
    append_le(out, 45, 2);
    append_le(out, 0, 4);
    append_le(out, 0, 4);
    append_le(out, members.size(), 8);
    append_le(out, members.size(), 8);
    append_le(out, central.size(), 8);
    append_le(out, cd_offset, 8);
    append_le(out, 0x07064b50, 4);
    append_le(out, 0, 4);
    append_le(out, end64, 8);
    append_le(out, 1, 4);
  }
  append_le(out, 0x06054b50, 4);
  append_le(out, 0, 4);
  append_le(out, zip64 ? 0xFFFF : members.size(), 2);
  append_le(out, zip64 ? 0xFFFF : members.size(), 2);
  append_le(out, zip64 ? 0xFFFFFFFFu : central.size(), 4);
  append_le(out, zip64 ? 0xFFFFFFFFu : cd_offset, 4);
  append_le(out, 0, 2);
  return out;
}

// The bytes of a .npy holding `values` as float32 of `shape`, as write_npy writes them.
Bytes npy_of(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  TempDir dir;
  write_npy(dir.path("a.npy"), shape, values.data());
  return test::read_raw(dir.path("a.npy"));
}

// Offset of the central directory's first entry in an archive made by zip_bytes.
size_t central_at(const Bytes& zip) {
  for (size_t i = 0; i + 4 <= zip.size(); ++i)
    if (zip[i] == 'P' && zip[i + 1] == 'K' && zip[i + 2] == 1 && zip[i + 3] == 2) return i;
  return 0;
}

TEST(IoNpz, ReadsWhatNpSavezWrites) {
  // np.savez(path, X): the only array, named arr_0; numpy writes zip64 extra fields in the local
  // headers.
  EXPECT_EQ(npz_keys(file("one_array.npz")), std::vector<std::string>{"arr_0"});
  const Array a = read_npz(file("one_array.npz"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{40, 3}));
  // The third column is the first plus 10 (make_files.py).
  for (int64_t i = 0; i < 40; ++i) EXPECT_FLOAT_EQ(a.data[i * 3 + 2], a.data[i * 3] + 10.0f);
  // By name, and from the archive of two arrays: the same values.
  EXPECT_EQ(read_npz(file("one_array.npz"), "arr_0").data, a.data);
  EXPECT_EQ(read_npz(file("two_arrays.npz"), "features").data, a.data);
  const Array labels = read_npz(file("two_arrays.npz"), "labels");
  EXPECT_EQ(labels.shape, (std::vector<int64_t>{40}));
  for (int64_t i = 0; i < 40; ++i) EXPECT_EQ(labels.data[i], a.data[i * 3] > 0 ? 1.0f : 0.0f);
}

TEST(IoNpz, ReadsWhatNpSavezCompressedWrites) {
#if AE_HAVE_ZLIB
  const Array a = read_npz(file("compressed.npz"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{40, 3}));
  EXPECT_EQ(a.data, read_npz(file("one_array.npz")).data);
  EXPECT_EQ(read_npz(file("pictures_nhwc.npz")).shape, (std::vector<int64_t>{24, 6, 5, 3}));
#else
  EXPECT_TRUE(contains(error_of([] { read_npz(file("compressed.npz")); }),
                       "deflated (np.savez_compressed), but ae was built without zlib"));
#endif
}

TEST(IoNpz, SeveralArraysNeedAKeyAndTheErrorListsThem) {
  const std::string p = file("two_arrays.npz");
  EXPECT_EQ(error_of([&] { read_npz(p); }),
            p + ": holds 2 arrays (features and labels); pass --npz-key with the one to read");
  EXPECT_EQ(error_of([&] { read_npz(p, "x"); }),
            p + ": no array 'x' (it holds features and labels)");
}

TEST(IoNpz, ScipySparseIsRefusedWithHowToSaveItDense) {
  const std::string p = file("sparse.npz");
  const std::string e = error_of([&] { read_npz(p); });
  EXPECT_TRUE(contains(e, p + ": a scipy.sparse matrix")) << e;
  EXPECT_TRUE(contains(e, "np.save('" + file("sparse") + ".npy', scipy.sparse.load_npz('" + p +
                             "').toarray())"))
      << e;
  // Asking for one of its arrays by name does not get round it.
  EXPECT_TRUE(contains(error_of([&] { read_npz(p, "data"); }), "scipy.sparse")) << e;
}

TEST(IoNpz, Zip64DirectoryAndEndRecordsAreRead) {
  const Bytes x = npy_of({2, 3}, {1, 2, 3, 4, 5, 6}), y = npy_of({2}, {0, 1});
  for (bool zip64 : {false, true}) {
    const Bytes zip = zip_bytes({{"x.npy", x}, {"y.npy", y}}, zip64);
    const Array a = parse_npz(zip, "z.npz", "x");
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(parse_npz(zip, "z.npz", "y").data, (std::vector<float>{0, 1}));
  }
}

TEST(IoNpz, EveryTruncationOrFlippedByteIsAnErrorOrTheRightArray) {
  // What a fuzzer would try first: every prefix, and every byte flipped, of a real archive.
  const Bytes whole = test::read_raw(file("one_array.npz"));
  const Array right = read_npz(file("one_array.npz"));
  for (size_t n = 0; n < whole.size(); ++n) {
    const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(error_of([&] { parse_npz(cut, "cut.npz"); }).empty()) << n << " bytes";
  }
  for (size_t i = 0; i < whole.size(); ++i) {
    Bytes flipped = whole;
    flipped[i] ^= 0x5A;
    try {
      const Array a = parse_npz(flipped, "flipped.npz");
      // Bytes nothing reads (the date, the version made by, a padding space): the same array.
      EXPECT_EQ(a.shape, right.shape) << "byte " << i;
      EXPECT_EQ(a.data, right.data) << "byte " << i;
    } catch (const Error&) {
    }
  }
}

TEST(IoNpz, HostileArchivesAreRefusedBeforeAllocating) {
  const Bytes x = npy_of({2, 2}, {1, 2, 3, 4});
  const Bytes good = zip_bytes({{"x.npy", x}});
  const size_t cd = central_at(good);
  auto set32 = [](Bytes b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
    return b;
  };
  auto set16 = [](Bytes b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v);
    b[at + 1] = static_cast<uint8_t>(v >> 8);
    return b;
  };
  auto e = [](const Bytes& b) { return error_of([&] { parse_npz(b, "h.npz"); }); };
  // A 4 GB entry in an archive of 300 bytes: refused before anything is allocated.
  EXPECT_TRUE(contains(e(set32(set32(good, cd + 24, 0xFFFFFFF0u), cd + 20, 0xFFFFFFF0u)),
                       "h.npz: entry 'x.npy': 4294967280 compressed bytes at offset"));
#if AE_HAVE_ZLIB
  // An uncompressed size that deflate cannot reach from the compressed one.
  EXPECT_TRUE(contains(e(set16(set32(good, cd + 24, 0x7FFFFFFFu), cd + 10, 8)),
                       "compressed bytes cannot inflate to the 2147483647"));
#endif
  // Methods other than stored and deflate, encryption, a wrong CRC, an offset past the end.
  EXPECT_TRUE(contains(e(set16(good, cd + 10, 12)), "compressed with method 12 (bzip2)"));
  EXPECT_TRUE(contains(e(set16(good, cd + 8, 1)), "is encrypted"));
  EXPECT_TRUE(contains(e(set32(good, cd + 16, 0x12345678u)), "CRC-32 mismatch"));
  EXPECT_TRUE(contains(e(set32(good, cd + 42, 1u << 30)), "local header offset 1073741824"));
  // A directory that claims more entries than it can hold, or lies past the end.
  const size_t end = good.size() - 22;
  EXPECT_TRUE(contains(e(set16(set16(good, end + 10, 9000), end + 8, 9000)),
                       "cannot hold the 9000 entries it claims"));
  EXPECT_TRUE(contains(e(set32(good, end + 16, 0xFFFFFF00u)), "lies outside the archive"));
  // No end record at all.
  EXPECT_EQ(e(Bytes(40, 'a')), "h.npz: not a zip archive (no end of central directory record)");
  // A zip of other things is not a .npz.
  const std::string text = "a,b\n1,2\n";
  EXPECT_EQ(e(zip_bytes({{"t.csv", Bytes(text.begin(), text.end())}})),
            "h.npz: a zip archive without .npy arrays, so not a .npz (it holds 't.csv')");
}

TEST(IoNpz, AnArrayOfTheWrongDtypeNamesTheArchiveAndKey) {
  Bytes x = npy_of({2}, {1, 2});
  const std::string bad = "'<c8'";
  const size_t at = std::string(x.begin(), x.end()).find("'<f4'");
  ASSERT_NE(at, std::string::npos);
  std::memcpy(x.data() + at, bad.data(), bad.size());
  EXPECT_TRUE(contains(error_of([&] { parse_npz(zip_bytes({{"v.npy", x}}), "z.npz"); }),
                       "z.npz[v]: .npy dtype '<c8' is not supported"));
}

}  // namespace
}  // namespace ae::io
