// Bad input to ae: each case ends with exit code 2 and one line "ae: <message>" that names the
// file (and line or field) and the values involved, and leaves existing files as they were.
#ifdef AE_CLI_PATH
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "data/endian.h"
#include "data/npy.h"
#include "data/safetensors.h"
#include "tests/cpu/test_cli_util.h"

namespace ae::testing_cli {
namespace {

using CliErrors = CliTest;

const std::string kQuick = " --epochs 1 --shapes-samples 200 -q --no-pictures";

TEST_F(CliErrors, MissingFile) {
  fails("train --data missing.csv", {"missing.csv", "No such file"});
  fails("train --data no-such-folder/", {"no-such-folder"});
  fails("train --config nope.json", {"nope.json"});
  fails("eval no-run", {"no-run"});
  EXPECT_FALSE(fs::exists(path("runs"))) << "a failed run leaves no folder behind";
}

TEST_F(CliErrors, UnreadableFile) {
  fs::create_directories(path("folder.csv"));
  fails("train --data folder.csv --format csv", {"folder.csv", "Is a directory"});
  fails("train --data folder.csv", {"folder.csv", "no MNIST images"});  // a folder is IDX
  write_text(path("locked.csv"), "1,2\n3,4\n");
  fs::permissions(path("locked.csv"), fs::perms::none);
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  fails("train --data locked.csv", {"locked.csv", "Permission denied"});
}

TEST_F(CliErrors, WrongIdxMagic) {
  // 0x0803 with a non-zero first byte: not an IDX header.
  write_text(path("bad-images-idx3-ubyte"), std::string("\x12\x34\x08\x03", 4) + std::string(64, '\0'));
  fails("train --data bad-images-idx3-ubyte", {"bad-images-idx3-ubyte", "magic"});
}

TEST_F(CliErrors, TruncatedIdx) {
  // Claims 10 pictures of 28x28 but holds 100 bytes of them.
  std::string idx("\x00\x00\x08\x03", 4);
  for (uint32_t d : {10u, 28u, 28u})
    for (int s = 24; s >= 0; s -= 8) idx += static_cast<char>(d >> s & 0xFF);
  idx += std::string(100, '\x10');
  write_text(path("short-images-idx3-ubyte"), idx);
  fails("train --data short-images-idx3-ubyte", {"short-images-idx3-ubyte", "7856", "116"});
}

TEST_F(CliErrors, RaggedCsvRow) {
  write_text(path("ragged.csv"), "a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n");
  fails("train --data ragged.csv", {"ragged.csv", ":4", "2", "3"});
}

TEST_F(CliErrors, NonFiniteValues) {
  write_text(path("nan.csv"), "a,b\n1,2\n3,nan\n");
  fails("train --data nan.csv", {"nan.csv", ":3"});
  write_text(path("inf.csv"), "# a comment line\n1,2\ninf,4\n");
  fails("train --data inf.csv", {"inf.csv", ":3"});
  const float values[6] = {1, 2, 3, std::numeric_limits<float>::infinity(), 5, 6};
  io::write_npy(path("inf.npy").string(), {3, 2}, values);
  fails("train --data inf.npy", {"inf.npy", "row 1", "inf"});
}

TEST_F(CliErrors, CheckpointShapesDoNotMatchTheModel) {
  ok("train --model ae --hidden 8 --out small" + kQuick);
  ok("train --model ae --hidden 16 --out large" + kQuick);
  // The small model's tensors under the large model's description.
  io::SafeTensorsFile small = io::read_safetensors(path("small/latest.safetensors").string());
  const io::SafeTensorsFile large = io::read_safetensors(path("large/latest.safetensors").string());
  io::write_safetensors(path("mixed.safetensors").string(), small.tensors, large.metadata);
  fails("eval mixed.safetensors", {"mixed.safetensors", "encoder.0.weight", "(8, 64)", "(16, 64)"});
  // A resumed run whose configuration no longer describes its checkpoint.
  nlohmann::json config = nlohmann::json::parse(read_text(path("small/config.json")));
  config["model"]["hidden"] = {12};
  write_text(path("small/config.json"), config.dump());
  const std::vector<uint8_t> before = read_bytes(path("small/latest.safetensors"));
  const Result r = fails("train --resume small --epochs 2",
                         {"small", "latest.safetensors", "differs", "[64,8,", "[64,12,"});
  // Short, and no guess at a cause: it names the setting that differs.
  EXPECT_LT(r.err.size(), 200u) << r.err;
  EXPECT_EQ(r.err.find("data changed"), std::string::npos) << r.err;
  EXPECT_TRUE(before == read_bytes(path("small/latest.safetensors")));
}

// A small table of 4 features (200 rows, deterministic).
std::string small_table() {
  std::string csv = "a,b,c,d\n";
  for (int i = 0; i < 200; ++i)
    csv += std::to_string(i % 7) + "," + std::to_string(i % 5 * 0.5) + "," +
           std::to_string((i * 3) % 11) + "," + std::to_string(i % 2) + "\n";
  return csv;
}

// A run that diverges stops at the first epoch whose training or validation loss (or a
// parameter) is not finite, and leaves no checkpoint that ae could not read back.
TEST_F(CliErrors, DivergedRunWritesNoUnreadableCheckpoint) {
  write_text(path("t.csv"), small_table());
  fails("train --data t.csv --lr 1e30 --epochs 3 --out d1 --model ae -q --no-pictures",
        {"training diverged in epoch 1", "1e+30"});
  EXPECT_FALSE(fs::exists(path("d1/best.safetensors")));
  EXPECT_FALSE(fs::exists(path("d1/latest.safetensors")));
}

// A checkpoint whose parameters hold a NaN or an infinity is refused when loaded, naming the
// file and the tensor, instead of giving wrong results.
TEST_F(CliErrors, NonFiniteCheckpointParametersAreRefused) {
  ok("train --model ae --out run" + kQuick);
  io::SafeTensorsFile f = io::read_safetensors(path("run/best.safetensors").string());
  for (io::SafeTensor& t : f.tensors)
    if (t.name == "encoder.0.weight") {
      ASSERT_EQ(t.dtype, "F32");
      io::store_as<float>(t.bytes.data() + 3 * 4, std::numeric_limits<float>::quiet_NaN(),
                          std::endian::little);
    }
  io::write_safetensors(path("run/best.safetensors").string(), f.tensors, f.metadata);
  fails("encode run -o codes.npy", {"best.safetensors", "'encoder.0.weight'", "nan", "index 3"});
  EXPECT_FALSE(fs::exists(path("codes.npy")));
  fails("score run -o s.csv", {"best.safetensors", "'encoder.0.weight'", "nan"});
  EXPECT_FALSE(fs::exists(path("s.csv")));
}

// Excluding a label that no sample carries would train on everything: an error that lists the
// labels there are, with nothing written.
TEST_F(CliErrors, ExcludedLabelMustBePresent) {
  std::string csv;
  for (int i = 0; i < 60; ++i)
    csv += std::to_string(i % 3) + "," + std::to_string(i * 0.5) + "," + std::to_string(i % 4) + "\n";
  write_text(path("t.csv"), csv);
  fails("train --data t.csv --label-column 0 --exclude-labels 9 --out d -q --no-pictures",
        {"--exclude-labels", "label 9", "t.csv", "labels 0, 1, 2"});
  EXPECT_FALSE(fs::exists(path("d")));
}

// A bad name or number names the flag and the value, never an internal function.
TEST_F(CliErrors, BadValuesNameTheFlag) {
  Result r = fails("train --noise bogus" + kQuick,
                   {"--noise", "'bogus' is not one of none, gaussian, salt_and_pepper, masking"});
  EXPECT_EQ(r.err.find("parse_"), std::string::npos) << r.err;
  r = fails("train --lr-schedule bogus" + kQuick,
            {"--lr-schedule", "'bogus' is not one of constant, step, cosine"});
  EXPECT_EQ(r.err.find("parse_"), std::string::npos) << r.err;
  r = fails("train --epochs 99999999999999999999 --shapes-samples 200 -q --no-pictures",
            {"--epochs", "99999999999999999999 is out of range"});
  EXPECT_EQ(r.err.find("not an integer"), std::string::npos) << r.err;
  fails("train --epochs 1x --shapes-samples 200 -q", {"--epochs", "'1x' is not an integer"});
  ok("train --model ae --out run" + kQuick);
  r = fails("denoise run --noise bogus", {"--noise: 'bogus' is not one of none, gaussian"});
  EXPECT_EQ(r.err.find("parse_"), std::string::npos) << r.err;
}

// Dropout at 1 would scale the kept inputs by 1/0: refused before anything is written, in the
// flag's terms, by ae train and ae denoise alike.
TEST_F(CliErrors, DropoutAtOneSaysWhy) {
  const std::vector<std::string> why = {"--noise-level", " 1 is out of range for --noise dropout",
                                        "[0, 1)", "1/(1 - level)"};
  Result r = fails("train --model dae --noise dropout --noise-level 1 --out run" + kQuick, why);
  EXPECT_EQ(r.err.find("corrupt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("run")));
  ok("train --model ae --out plain" + kQuick);
  r = fails("denoise plain --noise dropout --noise-level 1", why);
  EXPECT_EQ(r.err.find("corrupt"), std::string::npos) << r.err;
}

TEST_F(CliErrors, UnknownModelOrOption) {
  fails("train --model transformer", {"--model", "transformer", "vae"});
  fails("train --bogus", {"--bogus"});
  fails("train --lr fast", {"--lr", "fast"});
  fails("train --epochs 0", {"--epochs", "0"});
  fails("train --optimizer lion", {"--optimizer", "lion"});
  fails("train --normalize zscore", {"--normalize", "zscore"});
  fails("frobnicate", {"frobnicate", "train"});
  fails("", {"no command", "train"});
  write_text(path("typo.json"), R"({"train": {"lrr": 0.1}})");
  fails("train --config typo.json", {"typo.json", "train.lrr"});
  write_text(path("wrong.json"), R"({"train": {"epochs": "many"}})");
  fails("train --config wrong.json", {"wrong.json", "train.epochs", "many"});
  write_text(path("broken.json"), "{\"train\": {\n");
  fails("train --config broken.json", {"broken.json", "line"});
}

TEST_F(CliErrors, BinaryDataKindNeedsUnitRange) {
  write_text(path("wide.csv"), "a,b\n1,20\n3,40\n5,60\n7,80\n9,100\n");
  fails("train --data wide.csv --validation 0 --data-kind binary --normalize none",
        {"wide.csv", "[1, 100]", "min_max"});
  // The default standardises a table (--model auto), which is not in [0, 1] either.
  fails("train --data wide.csv --validation 0 --data-kind binary",
        {"wide.csv", "--normalize standardize", "min_max"});
}

TEST_F(CliErrors, ExistingFilesAreNotOverwritten) {
  ok("train --model ae --out run" + kQuick);
  const std::vector<uint8_t> checkpoint = read_bytes(path("run/latest.safetensors"));
  const std::string config = read_text(path("run/config.json"));
  // Training into a folder that holds a run is refused.
  fails("train --out run" + kQuick, {"run", "already holds a run", "--resume"});
  EXPECT_TRUE(checkpoint == read_bytes(path("run/latest.safetensors")));
  EXPECT_EQ(config, read_text(path("run/config.json")));
  // A command that fails on its data leaves its output file as it was.
  write_text(path("codes.npy"), "old codes");
  write_text(path("bad.csv"), "1,2,3\n4,5\n");
  fails("encode run --data bad.csv -o codes.npy", {"bad.csv"});
  EXPECT_EQ(read_text(path("codes.npy")), "old codes");
  // Data of the wrong width for the model.
  write_text(path("narrow.csv"), "1,2,3\n4,5,6\n");
  fails("encode run --data narrow.csv -o codes.npy", {"narrow.csv", "3 features", "64"});
  EXPECT_EQ(read_text(path("codes.npy")), "old codes");
  // No temporary files left behind.
  for (const auto& entry : fs::directory_iterator(path("run")))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST_F(CliErrors, CountsBelowOneAreRefused) {
  ok("train --model ae --out run" + kQuick);
  for (const char* command : {"reconstruct", "denoise", "pca", "retrieve"}) {
    fails(std::string(command) + " run -n 0", {"-n/--count", "at least 1", "0"});
    fails(std::string(command) + " run -n -3", {"-n/--count", "-3"});
  }
  ok("train --out vae" + kQuick);
  fails("sample vae -n 0", {"-n/--count", "0"});
  EXPECT_FALSE(fs::exists(path("run/reconstructions.png")));
  EXPECT_FALSE(fs::exists(path("vae/samples.png")));
}

TEST_F(CliErrors, CommandsCheckTheModelKind) {
  ok("train --model ae --out plain" + kQuick);
  fails("sample plain", {"plain", "autoencoder", "VAE"});
  ok("train --out vae" + kQuick);
  fails("train --model vae --noise masking", {"--model vae", "noise"});
  fails("score vae --anomaly-labels 1 --contamination 1.5", {"--contamination", "1.5"});
}

#if AE_HAVE_NCCL
// AE_COMM=nccl where the ranks cannot meet: refused in one line before any folder is made (each
// process would otherwise train alone and write the run folder as rank 0).
TEST_F(CliErrors, NcclRanksThatCannotMeetAreRefused) {
  setenv("AE_COMM", "nccl", 1);
  setenv("AE_WORLD_SIZE", "2", 1);
  fails("train --model ae --out run" + kQuick, {"AE_WORLD_SIZE=2 but AE_NCCL_ID_FILE is not set"});
  unsetenv("AE_WORLD_SIZE");
  unsetenv("AE_COMM");
  EXPECT_FALSE(fs::exists(path("run")));
}
#endif

}  // namespace
}  // namespace ae::testing_cli
#endif  // AE_CLI_PATH
