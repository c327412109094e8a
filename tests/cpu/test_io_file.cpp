#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/file.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::caught_error;
using test::contains;
using test::error_of;
using test::TempDir;

TEST(IoFile, ReadFileReturnsTheBytes) {
  TempDir dir;
  const std::vector<uint8_t> bytes = {0, 1, 2, 255, 128, 7};
  test::write_raw(dir.path("a.bin"), bytes);
  EXPECT_EQ(read_file(dir.path("a.bin")), bytes);
  test::write_raw(dir.path("empty"), std::vector<uint8_t>{});
  EXPECT_TRUE(read_file(dir.path("empty")).empty());
}

TEST(IoFile, MissingFileNamesThePathAndTheReason) {
  TempDir dir;
  const std::string path = dir.path("nope.idx");
  const Error e = caught_error([&] { read_file(path); });
  EXPECT_EQ(std::string(e.what()), path + ": cannot open: No such file or directory");
  EXPECT_EQ(e.kind(), ErrorKind::file);
  EXPECT_EQ(e.os_error(), ENOENT);
  EXPECT_TRUE(contains(error_of([&] { read_file_inflated(path); }), path + ": cannot open"));
}

TEST(IoFile, DirectoryIsRefused) {
  TempDir dir;
  const Error e = caught_error([&] { read_file(dir.path("")); });
  EXPECT_TRUE(contains(e.what(), "cannot open: Is a directory"));
  EXPECT_EQ(e.kind(), ErrorKind::file);
  EXPECT_EQ(e.os_error(), EISDIR);
}

TEST(IoFile, SizeLimitIsCheckedBeforeReading) {
  TempDir dir;
  test::write_raw(dir.path("big"), std::vector<uint8_t>(100, 1));
  const Error e = caught_error([&] { read_file(dir.path("big"), 99); });
  EXPECT_TRUE(
      contains(e.what(), dir.path("big") + ": 100 bytes is larger than the limit of 99 bytes"));
  EXPECT_EQ(e.kind(), ErrorKind::data);
  EXPECT_EQ(read_file(dir.path("big"), 100).size(), 100u);
}

TEST(IoFile, InputFileReadAtChecksTheRange) {
  TempDir dir;
  test::write_raw(dir.path("f"), std::vector<uint8_t>{10, 11, 12, 13});
  InputFile f(dir.path("f"));
  EXPECT_EQ(f.size(), 4u);
  uint8_t two[2];
  f.read_at(2, two, 2);
  EXPECT_EQ(two[0], 12);
  EXPECT_EQ(two[1], 13);
  const Error e = caught_error([&] { f.read_at(3, two, 2); });
  EXPECT_TRUE(contains(e.what(), "cannot read 2 bytes at offset 3: the file has only 4 bytes"));
  EXPECT_EQ(e.kind(), ErrorKind::data);  // a header that claims more than the file holds
}

TEST(IoFile, WriteAtomicCreatesAndReplaces) {
  TempDir dir;
  const std::string path = dir.path("out.bin");
  write_file_atomic(path, Bytes{1, 2, 3});
  EXPECT_EQ(test::read_raw(path), (Bytes{1, 2, 3}));
  write_file_atomic(path, Bytes{9});
  EXPECT_EQ(test::read_raw(path), (Bytes{9}));
  // Nothing but the target is left in the folder: no temporary file.
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.bin"});
}

TEST(IoFile, WriteAtomicStreamsLargeAndSmallPieces) {
  TempDir dir;
  const std::string path = dir.path("mix.bin");
  Bytes big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  Bytes expected;
  write_file_atomic(path, [&](FileSink& sink) {
    for (int round = 0; round < 3; ++round) {
      sink.write("ab", 2);  // buffered
      sink.write(big);      // larger than the buffer: written through
      expected.insert(expected.end(), {'a', 'b'});
      expected.insert(expected.end(), big.begin(), big.end());
    }
    EXPECT_EQ(sink.bytes_written(), expected.size());
  });
  EXPECT_EQ(test::read_raw(path), expected);
}

TEST(IoFile, WriterThatThrowsLeavesTheOldFileIntactAndNoTemporary) {
  TempDir dir;
  const std::string path = dir.path("model.safetensors");
  test::write_raw(path, std::string("old contents"));
  // The producer writes more than the buffer holds (so bytes reach the temporary file), then
  // fails midway, as a crash or a full disk would.
  EXPECT_THROW(write_file_atomic(path,
                                 [&](FileSink& sink) {
                                   sink.write(Bytes(200000, 'x'));
                                   throw std::runtime_error("simulated failure");
                                 }),
               std::runtime_error);
  const Bytes now = test::read_raw(path);
  EXPECT_EQ(std::string(now.begin(), now.end()), "old contents");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"model.safetensors"});
}

TEST(IoFile, WriterThatThrowsWithoutAnOldFileLeavesNothing) {
  TempDir dir;
  EXPECT_THROW(write_file_atomic(dir.path("new.bin"),
                                 [](FileSink& sink) {
                                   sink.write("partial", 7);
                                   throw ae::Error("stop");
                                 }),
               ae::Error);
  EXPECT_TRUE(dir.list().empty());
}

TEST(IoFile, WriteAtomicIntoMissingFolderNamesThePath) {
  TempDir dir;
  const std::string path = dir.path("no/such/folder/x.bin");
  const Error e = caught_error([&] { write_file_atomic(path, Bytes{1}); });
  EXPECT_TRUE(contains(e.what(), path + ": cannot create temporary file"));
  EXPECT_TRUE(contains(e.what(), "No such file or directory"));
  EXPECT_EQ(e.kind(), ErrorKind::file);
  EXPECT_EQ(e.os_error(), ENOENT);
}

TEST(IoFile, GzipDetection) {
  const uint8_t gz[] = {0x1f, 0x8b, 8};
  const uint8_t raw[] = {0x00, 0x00, 8};
  EXPECT_TRUE(is_gzip(gz, 3));
  EXPECT_FALSE(is_gzip(raw, 3));
  EXPECT_FALSE(is_gzip(gz, 1));
}

TEST(IoFile, UncompressedFilePassesThroughInflatedRead) {
  TempDir dir;
  test::write_raw(dir.path("plain"), Bytes{5, 6, 7});
  EXPECT_EQ(read_file_inflated(dir.path("plain")), (Bytes{5, 6, 7}));
}

#if AE_HAVE_ZLIB

Bytes sample_bytes(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 31) ^ (i >> 7));
  return b;
}

TEST(IoFile, GzipRoundTrip) {
  TempDir dir;
  const Bytes original = sample_bytes(3'000'000);  // several times the initial output buffer
  test::write_raw(dir.path("x.gz"), test::gzip(original));
  EXPECT_EQ(read_file_inflated(dir.path("x.gz")), original);
}

TEST(IoFile, GzipConcatenatedMembersAreOneStream) {
  const Bytes a = sample_bytes(1000), b = {42, 43};
  Bytes both = test::gzip(a);
  const Bytes gb = test::gzip(b);
  both.insert(both.end(), gb.begin(), gb.end());
  Bytes expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  EXPECT_EQ(gunzip(both.data(), both.size(), "two.gz"), expected);
}

TEST(IoFile, GzipTruncatedIsAnError) {
  TempDir dir;
  Bytes gz = test::gzip(sample_bytes(5000));
  gz.resize(gz.size() / 2);
  test::write_raw(dir.path("cut.gz"), gz);
  const Error e = caught_error([&] { read_file_inflated(dir.path("cut.gz")); });
  EXPECT_TRUE(contains(e.what(), dir.path("cut.gz") + ": gzip stream is truncated"));
  EXPECT_EQ(e.kind(), ErrorKind::data);
  // Only the magic: nothing to inflate.
  const Bytes magic = {0x1f, 0x8b};
  EXPECT_TRUE(contains(error_of([&] { gunzip(magic.data(), magic.size(), "m.gz"); }),
                       "m.gz: gzip stream is truncated"));
}

TEST(IoFile, GzipCorruptIsAnError) {
  Bytes gz = test::gzip(sample_bytes(5000));
  gz[3] = 0xE0;  // reserved FLG bits set: not a valid gzip header
  const Error e = caught_error([&] { gunzip(gz.data(), gz.size(), "bad.gz"); });
  EXPECT_TRUE(contains(e.what(), "bad.gz: corrupt gzip data"));
  EXPECT_EQ(e.kind(), ErrorKind::data);
}

TEST(IoFile, GzipBadChecksumIsAnError) {
  Bytes gz = test::gzip(sample_bytes(5000));
  gz[gz.size() - 8] ^= 0xFF;  // the CRC32 in the trailer
  const std::string msg = error_of([&] { gunzip(gz.data(), gz.size(), "crc.gz"); });
  EXPECT_TRUE(contains(msg, "crc.gz: corrupt gzip data"));
}

TEST(IoFile, GzipGarbageAfterTheStreamIsAnError) {
  Bytes gz = test::gzip(sample_bytes(100));
  gz.insert(gz.end(), {1, 2, 3});
  const std::string msg = error_of([&] { gunzip(gz.data(), gz.size(), "tail.gz"); });
  EXPECT_TRUE(contains(msg, "tail.gz: 3 bytes of garbage after the gzip stream"));
}

TEST(IoFile, GzipBombStopsAtTheLimit) {
  // 10 MB of zeros compress to ~10 KB; a 1 MB limit must stop the inflate, not allocate 10 MB.
  const Bytes gz = test::gzip(Bytes(10'000'000, 0));
  ASSERT_LT(gz.size(), 20000u);
  const std::string msg =
      error_of([&] { gunzip(gz.data(), gz.size(), "bomb.gz", uint64_t{1} << 20); });
  EXPECT_TRUE(contains(msg, "bomb.gz: inflated size exceeds the limit of 1048576 bytes"));
  EXPECT_EQ(gunzip(gz.data(), gz.size(), "bomb.gz", 10'000'000).size(), 10'000'000u);
}

#else

TEST(IoFile, GzipWithoutZlibIsAClearError) {
  TempDir dir;
  test::write_raw(dir.path("x.gz"), Bytes{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3});
  const std::string msg = error_of([&] { read_file_inflated(dir.path("x.gz")); });
  EXPECT_TRUE(contains(msg, dir.path("x.gz") + ": gzip-compressed, but ae was built without zlib"));
}

#endif

}  // namespace
}  // namespace ae::io
