// Training on a file larger than the run's memory: `ae train --stream` on a generated 2 GiB .npy
// (in a temporary folder, removed afterwards whatever happens) keeps its peak resident memory
// under the bound the buffer sets, the file is at least 4x that peak, and the parameters are
// those of in-memory training on the same rows in the same order, bit for bit.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "train/checkpoint.h"
#include "data/stream.h"
#include "train/trainer.h"
#include "tests/common/child_rss.h"
#include "tests/common/io_testing.h"
#include "tests/common/large_npy.h"
#include "tests/cpu/test_models_util.h"
#include "run/config.h"
#include "run/prepare.h"

#ifdef AE_CLI_PATH
namespace ae::models {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

using testing::read_log;
using testing::run_ae;

TEST(StreamLarge, TwoGiBFileTrainsWithinItsBufferAndMatchesInMemoryTraining) {
  // AE_STREAM_TEST_MIB makes the file smaller while working on this test; CI runs 2 GiB.
  const char* mib_env = std::getenv("AE_STREAM_TEST_MIB");
  const int64_t file_mib = mib_env ? std::atoll(mib_env) : 2048;
  const int64_t features = 256, rows = (file_mib << 20) / (features * 4);
  const int64_t buffer_mib = 64;
  // What the run holds besides the buffer: the program and its libraries (about 10 MiB), the
  // samples kept for the code check (1/8 of the buffer), the model, a few batches and OpenBLAS's
  // work space.
  const int64_t bound_mib = buffer_mib + 96;

  io::test::TempDir dir;  // removed with the 2 GiB file when the test ends, passed or failed
  const std::string data = dir.path("large.npy"), run = dir.path("run");
  auto started = Clock::now();
  testing::write_structured_npy(data, rows, features);
  test::measured(cat("wrote ", rows, " x ", features, " float32 (", file_mib, " MiB) in ",
                     seconds_since(started), " s"));

  started = Clock::now();
  const auto [status, peak_kib] = run_ae(
      {"train", "--data", data, "--stream", "--buffer-mb", std::to_string(buffer_mib), "--model",
       "ae", "--hidden", "32", "--code", "8", "--epochs", "1", "--batch-size", "2048",
       "--validation", "0.05", "--no-pictures", "--out", run},
      dir.path("train.log"));
  const double stream_seconds = seconds_since(started);
  ASSERT_EQ(status, 0) << read_log(dir.path("train.log"));
  const double peak_mib = peak_kib / 1024.0;
  test::measured(cat("ae train --stream: ", stream_seconds, " s, peak RSS ", peak_mib,
                     " MiB (bound ", bound_mib, " MiB, buffer ", buffer_mib, " MiB), file / peak ",
                     file_mib / peak_mib));
  EXPECT_LT(peak_mib, bound_mib);
  EXPECT_GE(static_cast<double>(file_mib), 4 * peak_mib);

  // In memory: the same rows, the same order, the same model and trainer as the run's config.
  started = Clock::now();
  run::RunConfig config = run::preset("ae");
  run::apply_json(config, run::read_json_file(run + "/config.json"), "config.json");
  const run::StreamPlan plan = run::plan_stream(config.data, config.seed);
  ASSERT_TRUE(plan.val.has_value());
  const Checkpoint checkpoint = read_checkpoint(run + "/latest.safetensors");
  InMemoryRows train = [&] {
    StreamedRows streamed(plan.files, plan.train);
    return InMemoryRows(streamed.stored_rows(0, streamed.size()), Device::cpu(), streamed.order());
  }();
  StreamedRows val_streamed(plan.files, *plan.val);
  InMemoryRows val(val_streamed.stored_rows(0, val_streamed.size()), Device::cpu(),
                   val_streamed.order());
  // --normalize auto kept the values as they are (they lie in [0, 1]): no normaliser to apply.
  EXPECT_FALSE(checkpoint.has("norm.shift"));
  std::unique_ptr<Model> model = build_model(checkpoint.spec, Device::cpu());
  Trainer(run::trainer_config(config)).fit(*model, train, &val);
  test::measured(cat("the same epoch in memory: ", seconds_since(started), " s"));

  std::unique_ptr<Model> streamed = build_model(checkpoint.spec, Device::cpu());
  restore_model(checkpoint, *streamed);
  const std::vector<Parameter> a = model->parameters(), b = streamed->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].value.to_floats(), b[i].value.to_floats()) << a[i].name;
}

TEST(StreamCli, MisuseIsAOneLineErrorAndAnalysisCommandsNeedDataThatFits) {
  io::test::TempDir dir;
  const std::string log = dir.path("log");
  auto contains = [&](const std::string& part) {
    const std::string text = read_log(log);
    return text.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                                : ::testing::AssertionFailure() << text;
  };
  EXPECT_EQ(run_ae({"train", "--stream"}, log).first, 2);
  EXPECT_TRUE(contains("--stream reads a file or folder given by --data"));

  std::filesystem::create_directory(dir.path("shards"));
  testing::write_structured_npy(dir.path("shards/a.npy"), 300, 8);
  testing::write_structured_npy(dir.path("shards/b.npy"), 300, 9);
  EXPECT_EQ(run_ae({"train", "--stream", "--data", dir.path("shards")}, log).first, 2);
  EXPECT_TRUE(contains("b.npy: shape (300, 9) does not match the first shard's (300, 8)"));

  testing::write_structured_npy(dir.path("wider.npy"), 20, 40000);  // rows of 160 KB: blocks of one row
  EXPECT_EQ(run_ae({"train", "--stream", "--data", dir.path("wider.npy"), "--buffer-mb", "1"}, log)
                .first, 2);
  EXPECT_TRUE(contains("--buffer-mb 1 is too small for blocks of 1 rows of 40000 features"));
  testing::write_structured_npy(dir.path("wide.npy"), 2000, 1024);  // 4 KiB rows: blocks of 7 rows
  EXPECT_EQ(run_ae({"train", "--stream", "--data", dir.path("wide.npy"), "--buffer-mb", "1",
                    "--batch-size", "100", "--out", dir.path("too-big")},
                   log).first, 2);
  EXPECT_TRUE(contains("--batch-size 100 does not fit in a window of the stream's buffer (85 rows"));
  EXPECT_FALSE(std::filesystem::exists(dir.path("too-big")));  // refused before anything is written
  // The validation part's windows are smaller than evaluate's batches: it reads what fits.
  EXPECT_EQ(run_ae({"train", "--stream", "--data", dir.path("wide.npy"), "--buffer-mb", "1",
                    "--batch-size", "64", "--epochs", "1", "--no-pictures", "--out",
                    dir.path("wide-run")},
                   log).first, 0) << read_log(log);

  std::filesystem::remove(dir.path("shards/b.npy"));
  testing::write_structured_npy(dir.path("shards/b.npy"), 500, 8);
  const std::string run = dir.path("run");
  ASSERT_EQ(run_ae({"train", "--stream", "--data", dir.path("shards"), "--buffer-mb", "1",
                    "--epochs", "2", "--no-pictures", "--out", run},
                   log).first, 0) << read_log(log);
  EXPECT_TRUE(contains("in 2 files"));
  EXPECT_EQ(run_ae({"eval", run}, log).first, 2);
  EXPECT_TRUE(contains("was streamed in training (--stream)"));
  EXPECT_EQ(run_ae({"eval", run, "--data", dir.path("shards/a.npy")}, log).first, 0);
  // score, pca and retrieve fit on the training rows, which a streamed run never held in memory.
  for (const char* command : {"score", "pca", "retrieve"}) {
    EXPECT_EQ(run_ae({command, run, "--data", dir.path("shards/a.npy")}, log).first, 2) << command;
    EXPECT_TRUE(contains(cat("ae ", command, " fits on the run's training rows, and ")));
    EXPECT_TRUE(contains("was streamed in training (--stream): they are not read in memory; ae "
                         "eval, encode and reconstruct take --data with rows that fit"));
  }
  EXPECT_EQ(run_ae({"train", "--resume", run, "--epochs", "3"}, log).first, 0) << read_log(log);
}

}  // namespace
}  // namespace ae::models
#endif
