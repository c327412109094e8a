// Files ae does not read, named for what they are by their first bytes, with how to convert
// them; and the readers' own messages when handed one (tests/data/files/, make_files.py).
#include <gtest/gtest.h>

#include <string>

#include "data/npy.h"
#include "data/sniff.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

std::string file(const std::string& name) { return test::saved_file(name); }

TEST(IoSniff, WhatAeReadsIsTold) {
  EXPECT_EQ(sniff_file(file("one_array.npz")).format, "npz");
  EXPECT_EQ(sniff_file(file("sparse.npz")).format, "npz");  // refused by the reader, by its keys
  EXPECT_EQ(sniff_file(file("pictures_nhwc.npy")).format, "npy");
  for (const char* text : {"semicolon.csv", "tabs.tsv", "pipes.txt", "mac_cr.csv"})
    EXPECT_EQ(sniff_file(file(text)).format, "csv") << text;
  TempDir dir;
  test::write_raw(dir.path("u8.idx"), Bytes{0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9});
  EXPECT_EQ(sniff_file(dir.path("u8.idx")).format, "idx");
  test::write_raw(dir.path("empty"), Bytes{});
  EXPECT_EQ(sniff_file(dir.path("empty")).format, "");
  EXPECT_EQ(sniff_file(dir.path("empty")).what, "");
#if AE_HAVE_ZLIB
  // gzip: by what it holds.
  const std::string csv = "a,b\n1,2\n";
  test::write_raw(dir.path("t.gz"), test::gzip(Bytes(csv.begin(), csv.end())));
  const FileKind t = sniff_file(dir.path("t.gz"));
  EXPECT_EQ(t.format, "csv");
  EXPECT_TRUE(t.gzip);
#endif
}

TEST(IoSniff, FormatsAeDoesNotReadAreNamedWithHowToConvertThem) {
  struct Case {
    const char* name;
    const char* what;
    const char* advice;
  };
  const Case cases[] = {
      {"table.parquet", "a Parquet file (PAR1)", "pandas.read_parquet('"},
      {"table.h5", "an HDF5 file", "h5py.File('"},
      {"table.feather", "a Feather / Arrow IPC file", "pandas.read_feather('"},
      {"table.pkl", "a Python pickle", "np.save('"},
      {"table.xlsx", "an Excel workbook (.xlsx)", "pandas.read_excel('"},
#if AE_HAVE_ZLIB
      {"table.gz", "gzip-compressed data of no kind ae knows", "gunzip it"},
#endif
  };
  for (const Case& c : cases) {
    const FileKind k = sniff_file(file(c.name));
    EXPECT_EQ(k.format, "") << c.name;
    EXPECT_EQ(k.what, c.what) << c.name;
    EXPECT_TRUE(contains(k.advice, c.advice)) << c.name;
    const std::string m = not_readable_message(file(c.name), k);
    EXPECT_TRUE(contains(m, file(c.name) + ": " + c.what + ", which ae does not read; ")) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  // The conversion writes a file ae reads, named after the original.
  EXPECT_TRUE(contains(sniff_file(file("table.parquet")).advice,
                       ".to_csv('" + file("table") + ".csv', index=False)"));
}

TEST(IoSniff, OtherZipArchivesListWhatTheyHold) {
  TempDir dir;
  // The smallest zip there is: an end record of no entries.
  Bytes empty = {'P', 'K', 5, 6};
  empty.resize(22, 0);
  test::write_raw(dir.path("e.zip"), empty);
  EXPECT_EQ(sniff_file(dir.path("e.zip")).what, "an empty zip archive");
  test::write_raw(dir.path("bad.zip"), Bytes{'P', 'K', 3, 4, 1, 2, 3});
  EXPECT_EQ(sniff_file(dir.path("bad.zip")).what, "a zip archive whose directory cannot be read");
}

TEST(IoSniff, TheNpyReaderSaysWhatItGotInstead) {
  EXPECT_EQ(error_of([] { read_npy(file("table.parquet")); }),
            file("table.parquet") + ": not a .npy file (it is a Parquet file (PAR1))");
  EXPECT_EQ(error_of([] { read_npy(file("one_array.npz")); }),
            file("one_array.npz") + ": not a .npy file (it is a zip archive (a .npz, say))");
  EXPECT_EQ(error_of([] { read_npy(file("semicolon.csv")); }),
            file("semicolon.csv") + ": not a .npy file (it is text)");
}

}  // namespace
}  // namespace ae::io
