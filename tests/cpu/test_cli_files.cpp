// ae train on files as people save them: .npz archives from np.savez and np.savez_compressed,
// tables separated by ';', tabs or '|', decimal commas, old Mac line ends, colour pictures stored
// (N, H, W, C), and formats ae does not read, each named for what it is. The inputs are
// tests/data/files/ (make_files.py writes them).
#ifdef AE_CLI_PATH
#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/error.h"
#include "tests/common/io_testing.h"
#include "tests/cpu/test_cli_util.h"
#include "train/checkpoint.h"
#include "run/session.h"

namespace ae::testing_cli {
namespace {

std::string input(const std::string& name) { return io::test::saved_file(name); }

using CliFiles = CliTest;

// A short run that must succeed: its stdout.
constexpr const char* kQuick = " --epochs 1 --no-pictures --model ae";

TEST_F(CliFiles, NpzFromSavezAndSavezCompressedTrain) {
  for (const char* name : {"one_array.npz", "compressed.npz"}) {
    SCOPED_TRACE(name);
    const Result r = ok(cat("train --data ", input(name), kQuick, " --out ", name));
    EXPECT_NE(r.out.find(cat("on ", name, " (3 -> ")), std::string::npos) << r.out;
  }
  // Several arrays: the key picks one, and the labels come from another of the same archive.
  const std::string two = input("two_arrays.npz");
  const Result r = fails(cat("train --data ", two, kQuick, " --out two"),
                         {two, "holds 2 arrays (features and labels)", "--npz-key"});
  EXPECT_FALSE(fs::exists(path("two")));
  ok(cat("train --data ", two, " --npz-key features --labels-key labels --exclude-labels 1",
         kQuick, " --out two"));
  const nlohmann::json config = nlohmann::json::parse(read_text(path("two/config.json")));
  EXPECT_EQ(config["data"]["npz_key"], "features");
  EXPECT_EQ(config["data"]["labels_key"], "labels");
  // The analysis commands read the same arrays again from the run's settings.
  ok("score two");
  fails(cat("train --data ", two, " --npz-key nothing", kQuick, " --out bad"),
        {"no array 'nothing' (it holds features and labels)"});
  fails(cat("train --data ", input("semicolon.csv"), " --npz-key features", kQuick, " --out bad"),
        {"--npz-key is for .npz and .safetensors data"});
  EXPECT_FALSE(fs::exists(path("bad")));
}

TEST_F(CliFiles, ScipySparseNpzIsRefusedWithTheConversion) {
  fails(cat("train --data ", input("sparse.npz"), kQuick, " --out s"),
        {"a scipy.sparse matrix", ".toarray())"});
  EXPECT_FALSE(fs::exists(path("s")));
}

TEST_F(CliFiles, FormatsAeDoesNotReadAreNamedNotGuessed) {
  const std::pair<const char*, const char*> cases[] = {
      {"table.parquet", "a Parquet file (PAR1), which ae does not read; convert it to CSV"},
      {"table.h5", "an HDF5 file, which ae does not read"},
      {"table.feather", "a Feather / Arrow IPC file, which ae does not read"},
      {"table.pkl", "a Python pickle, which ae does not read"},
      {"table.xlsx", "an Excel workbook (.xlsx), which ae does not read"},
#if AE_HAVE_ZLIB
      {"table.gz", "gzip-compressed data of no kind ae knows"},
#endif
  };
  for (const auto& [name, what] : cases) {
    SCOPED_TRACE(name);
    const Result r = fails(cat("train --data ", input(name), kQuick, " --out x"), {input(name), what});
    // The old advice, which then failed in the .npy reader.
    EXPECT_EQ(r.err.find("--format"), std::string::npos) << r.err;
    // An explicit format does not get past it either.
    fails(cat("train --format csv --data ", input(name), kQuick, " --out x"), {what});
  }
  EXPECT_FALSE(fs::exists(path("x")));
  // Bytes of no known kind: the first ones are shown.
  write_text(path("blob.bin"), std::string("\x01\x02\x03\x04\x05", 5));
  fails("train --data blob.bin --out x", {"blob.bin: cannot tell the data format: its first bytes "
                                          "(01 02 03 04 05)"});
}

TEST_F(CliFiles, SeparatorsAreSniffedAndNamed) {
  for (const char* name : {"semicolon.csv", "tabs.tsv", "pipes.txt", "mac_cr.csv"}) {
    SCOPED_TRACE(name);
    const Result r = ok(cat("train --data ", input(name), " --label-column label", kQuick,
                            " --out run"));
    EXPECT_NE(r.out.find(cat("on ", name, " (3 -> ")), std::string::npos) << r.out;
    // 40 rows: 36 for training, 4 for validation.
    EXPECT_NE(r.out.find("36 training and 4 validation samples"), std::string::npos) << r.out;
    const std::string note = cat(input(name), ": fields separated by ");
    EXPECT_EQ(r.out.find(note) != std::string::npos, std::string(name) != "mac_cr.csv") << r.out;
    fs::remove_all(path("run"));
  }
  // --delimiter takes a tab as "\t" or "tab", and refuses what cannot separate fields.
  fs::copy_file(input("tabs.tsv"), path("tabs.txt"));
  for (const char* tab : {"'\\t'", "tab"}) {
    ok(cat("train --data tabs.txt --delimiter ", tab, " --label-column label", kQuick, " --out t"));
    EXPECT_EQ(nlohmann::json::parse(read_text(path("t/config.json")))["data"]["delimiter"],
              tab[0] == '\'' ? "\\t" : "tab");
    fs::remove_all(path("t"));
  }
  fails("train --data tabs.txt --delimiter ab --out t", {"--delimiter (data.delimiter) must be auto"});
  fails("train --data tabs.txt --delimiter . --out t", {"'.' cannot separate fields"});
}

TEST_F(CliFiles, DecimalCommaIsNamedAndReadWithDecimal) {
  const std::string csv = input("decimal_comma.csv");
  fails(cat("train --data ", csv, " --label-column label", kQuick, " --out d"),
        {csv + ":2: column 'a': '0,35877' is a number with a decimal comma", "--decimal ,"});
  EXPECT_FALSE(fs::exists(path("d")));
  const Result r = ok(cat("train --data ", csv, " --decimal , --label-column label", kQuick, " --out d"));
  EXPECT_NE(r.out.find("(3 -> "), std::string::npos) << r.out;
  // One column under a one-word header: the extra field is the decimal comma's, not a title line.
  const std::string one = input("one_column_decimal_comma.csv");
  const Result e = fails(cat("train --data ", one, kQuick, " --out o"),
                         {"'0,35877' is a number with a decimal comma", "--decimal ,"});
  EXPECT_EQ(e.err.find("--skip-rows"), std::string::npos) << e.err;
  ok(cat("train --data ", one, " --decimal ,", kQuick, " --out o"));
  fails(cat("train --data ", csv, " --decimal , --delimiter , --out x"),
        {"--delimiter and --decimal are both ','"});
  fails(cat("train --data ", csv, " --decimal ';' --out x"), {"--decimal (data.decimal)"});
}

// Colour pictures saved (N, H, W, C): N samples of H x W x C, drawn as pictures of that shape, in
// ae train and again when the run is loaded.
TEST_F(CliFiles, ChannelsLastPicturesAreSamplesOfThatShape) {
  const std::vector<std::string> files = {"pictures_nhwc.npy",
#if AE_HAVE_ZLIB
                                          "pictures_nhwc.npz"
#endif
  };
  for (const std::string& name : files) {
    SCOPED_TRACE(name);
    const Result r = ok(cat("train --data ", input(name), " --model ae --epochs 1 -q --out ", name));
    EXPECT_TRUE(fs::exists(path(name + "/reconstructions.png")));
    EXPECT_FALSE(fs::exists(path(name + "/features.png")));  // not a table
    const models::Checkpoint c = models::read_checkpoint(path(name + "/best.safetensors").string());
    EXPECT_EQ(c.spec.input_width(), 90);
    EXPECT_EQ(c.metadata(run::kImageChannelsKey), "3");
    const run::LoadedRun run = run::load_run(path(name).string(), "best", "cpu");
    EXPECT_EQ(run.picture.h, 6);
    EXPECT_EQ(run.picture.w, 5);
    EXPECT_EQ(run.picture.c, 3);
    fs::remove(path(name + "/reconstructions.png"));
    ok("reconstruct " + name);
    EXPECT_TRUE(fs::exists(path(name + "/reconstructions.png")));
  }
}

TEST_F(CliFiles, StreamAndBufferSayWhatTheyRead) {
  // --buffer-mb without --stream did nothing, silently.
  fails(cat("train --data ", input("pictures_nhwc.npy"), " --buffer-mb 64", kQuick, " --out b"),
        {"--buffer-mb sizes the buffer of --stream", "add --stream, or drop --buffer-mb"});
  EXPECT_FALSE(fs::exists(path("b")));
  // --stream on a CSV file said "not a .npy file".
  const Result r = fails(cat("train --data ", input("semicolon.csv"), " --stream", kQuick, " --out b"),
                         {"--stream reads .npy and .safetensors files and folders of their shards",
                          "is CSV text", "train on it without --stream"});
  EXPECT_EQ(r.err.find("not a .npy file"), std::string::npos) << r.err;
  fails(cat("train --data ", input("one_array.npz"), " --stream", kQuick, " --out b"),
        {"is a .npz archive"});
  fails(cat("train --data ", input("table.parquet"), " --stream", kQuick, " --out b"),
        {"a Parquet file (PAR1), which ae does not read"});
  EXPECT_FALSE(fs::exists(path("b")));
  // A 4-d .npy streams as pictures too.
  ok(cat("train --data ", input("pictures_nhwc.npy"), " --stream --buffer-mb 1 --validation 0 --batch-size 8",
         " --model ae --epochs 1 -q --out s"));
  EXPECT_TRUE(fs::exists(path("s/reconstructions.png")));
}

// Activations saved as float16 shards (np.save of a float16 array): bit patterns written here.
TEST_F(CliFiles, AFolderOfFloat16ShardsTrainsInMemoryAndStreamed) {
  const std::string dir = path("acts").string();
  std::filesystem::create_directory(dir);
  for (int s = 0; s < 3; ++s) {
    std::vector<uint16_t> bits;
    for (int i = 0; i < 41 * 6; ++i) bits.push_back(static_cast<uint16_t>(0x3000 + (i * 37 + s) % 0x0C00));
    io::test::write_raw(cat(dir, "/shard-", s, ".npy"),
                        io::test::npy_bytes("{'descr': '<f2', 'fortran_order': False, "
                                            "'shape': (41, 6), }",
                                            io::test::le16(bits)));
  }
  ok(cat("train --data ", dir, " --stream --model ae --epochs 1 --no-pictures -q --out s"));
  const Result r = ok(cat("train --data ", dir, kQuick, " --out m"));
  EXPECT_NE(r.out.find("(6 -> "), std::string::npos) << r.out;
  // A shard of another width is named with both shapes, in memory and streamed.
  io::test::write_raw(cat(dir, "/shard-3.npy"),
                      io::test::npy_bytes("{'descr': '<f2', 'fortran_order': False, "
                                          "'shape': (2, 5), }",
                                          io::test::le16(std::vector<uint16_t>(10, 0x3C00))));
  for (const char* stream : {"", " --stream"})
    fails(cat("train --data ", dir, stream, kQuick, " --out bad"),
          {"shard-3.npy: shape (2, 5) does not match the first shard's (41, 6)"});
}

TEST_F(CliFiles, HelpListsTheNewFlags) {
  const Result r = ok("train --help");
  for (const char* flag : {"--npz-key", "--labels-key", "--decimal", "--delimiter"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  EXPECT_NE(r.out.find("tab (or \\t)"), std::string::npos);
}

}  // namespace
}  // namespace ae::testing_cli
#endif
