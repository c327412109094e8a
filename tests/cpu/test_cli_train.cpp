// ae train end to end: the run folder, exact resume, repeating a run from its config.json, and
// the checkpoint's byte layout against the safetensors specification.
#ifdef AE_CLI_PATH
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/device.h"
#include "train/checkpoint.h"
#include "data/safetensors.h"
#include "tests/cpu/test_cli_util.h"

namespace ae::testing_cli {
namespace {

// Small and quick: a few hundred synthetic shapes.
const std::string kSmall = " --shapes-samples 600 --batch-size 32 --no-pictures -q";

using CliTrain = CliTest;

TEST_F(CliTrain, WritesTheRunFolder) {
  ok("train --epochs 3 --shapes-samples 600 --batch-size 32 --out run -q");
  for (const char* f : {"config.json", "metrics.csv", "metrics.json", "latest.safetensors",
                        "best.safetensors", "loss.png", "latent.png", "reconstructions.png",
                        "samples.png"})
    EXPECT_TRUE(fs::exists(path("run") / f)) << f;
  // One row per epoch, each loss term separately, for training and validation.
  const std::string csv = read_text(path("run/metrics.csv"));
  EXPECT_EQ(count_lines(csv), 4u) << csv;
  EXPECT_EQ(csv.rfind("epoch,train_total,train_reconstruction,train_kl,val_total,"
                      "val_reconstruction,val_kl,lr,steps,seconds,samples_per_second\n", 0), 0u)
      << csv;
  const nlohmann::json metrics = nlohmann::json::parse(read_text(path("run/metrics.json")));
  ASSERT_EQ(metrics["epochs"].size(), 3u);
  // The VAE learns: the validation loss falls from the first epoch to the last.
  EXPECT_LT(metrics["epochs"][2]["val"]["total"].get<double>(),
            metrics["epochs"][0]["val"]["total"].get<double>());
  EXPECT_EQ(metrics["epochs"][2]["steps"].get<int64_t>(), 3 * ((540 + 31) / 32));
  // The pictures have a size worth looking at.
  const auto [w, h] = png_size(path("run/loss.png"));
  EXPECT_EQ(w, 640u);
  EXPECT_EQ(h, 420u);
  EXPECT_GT(png_size(path("run/reconstructions.png")).first, 0u);
  // Not a terminal and quiet: nothing on stdout.
  const Result r = ok("train --epochs 1 --shapes-samples 200 --out run2");
  EXPECT_NE(r.out.find("epoch 1/1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "no progress bar off a terminal";
}

// Small things a new user runs into.
TEST_F(CliTrain, HelpShowsTheChosenModelsDefaults) {
  const Result plain = ok("train --help");
  EXPECT_NE(plain.out.find("--code INT=2 "), std::string::npos);
  EXPECT_NE(plain.out.find("--model TEXT=auto "), std::string::npos) << "the default model";
  EXPECT_NE(ok("train --model topk --help").out.find("--model TEXT=topk "), std::string::npos);
  EXPECT_NE(ok("train --model ae --help").out.find("--code INT=16 "), std::string::npos);
  const Result sparse = ok("train --model=sparse --help");
  EXPECT_NE(sparse.out.find("--code INT=64 "), std::string::npos) << sparse.out;
  EXPECT_NE(sparse.out.find("--penalty TEXT=kl_sparsity "), std::string::npos) << sparse.out;
  EXPECT_NE(ok("info --model dae --help").out.find("--noise TEXT=masking "), std::string::npos);
}

TEST_F(CliTrain, ResumingAFinishedRunSaysThereIsNothingToDo) {
  ok("train --model ae --epochs 2 --out run" + kSmall);
  const std::string config = read_text(path("run/config.json"));
  const std::vector<uint8_t> checkpoint = read_bytes(path("run/latest.safetensors"));
  for (const char* epochs : {"1", "2"}) {
    const Result r = ok(std::string("train --resume run --epochs ") + epochs);
    EXPECT_NE(r.out.find("run has trained 2 epochs already"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nothing to do; pass --epochs N with N > 2"), std::string::npos) << r.out;
    EXPECT_EQ(count_lines(r.out), 1u) << r.out;
  }
  EXPECT_EQ(read_text(path("run/config.json")), config) << "config.json keeps --epochs 2";
  EXPECT_TRUE(checkpoint == read_bytes(path("run/latest.safetensors")));
  // One epoch in the singular.
  ok("train --model ae --epochs 1 --out one" + kSmall);
  const Result r = ok("train --resume one --epochs 1");
  EXPECT_NE(r.out.find("one has trained 1 epoch already"), std::string::npos) << r.out;
  const Result info = ok("info one");
  EXPECT_NE(info.out.find("trained 1 epoch ("), std::string::npos) << info.out;
}

TEST_F(CliTrain, ConfigPathsWorkFromAnyFolder) {
  fs::create_directories(path("data"));
  write_text(path("data/t.csv"), "a,b,c\n1,2,3\n2,3,4\n3,4,5\n4,5,6\n5,6,7\n6,7,8\n");
  ok("train --model ae --data data/t.csv --epochs 1 --validation 0 --out run -q --no-pictures");
  const nlohmann::json config = nlohmann::json::parse(read_text(path("run/config.json")));
  const fs::path saved = config["data"]["path"].get<std::string>();
  EXPECT_TRUE(saved.is_absolute()) << saved;
  EXPECT_TRUE(fs::equivalent(saved, path("data/t.csv"))) << saved;
  // From another folder, the run finds its data.
  fs::create_directories(path("elsewhere"));
  const std::string command = "cd '" + path("elsewhere").string() + "' && AE_DEVICE=cpu '" +
                              AE_CLI_PATH + "' eval ../run --split train >/dev/null 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0);
}

// Training 4 epochs straight and 2 + 2 with --resume give the same bytes: parameters,
// optimizer moments, noise position.
TEST_F(CliTrain, ResumeContinuesExactly) {
  for (const std::string model : {"vae", "dae"}) {
    SCOPED_TRACE(model);
    ok("train --model " + model + " --epochs 4 --out straight-" + model + kSmall);
    ok("train --model " + model + " --epochs 2 --out split-" + model + kSmall);
    ok("train --resume split-" + model + " --epochs 4 -q --no-pictures");
    expect_same_checkpoint(path("straight-" + model + "/latest.safetensors"),
                           path("split-" + model + "/latest.safetensors"));
    expect_same_checkpoint(path("straight-" + model + "/best.safetensors"),
                           path("split-" + model + "/best.safetensors"));
    // The metrics continue too: four rows, the same losses.
    const nlohmann::json a = nlohmann::json::parse(read_text(path("straight-" + model + "/metrics.json")));
    const nlohmann::json b = nlohmann::json::parse(read_text(path("split-" + model + "/metrics.json")));
    ASSERT_EQ(b["epochs"].size(), 4u);
    for (int e = 0; e < 4; ++e) EXPECT_EQ(a["epochs"][e]["val"], b["epochs"][e]["val"]) << e;
    // config.json now says 4 epochs, so --config repeats the whole run.
    EXPECT_EQ(nlohmann::json::parse(read_text(path("split-" + model + "/config.json")))["train"]["epochs"], 4);
  }
  // A finished run says so and changes nothing.
  const std::vector<uint8_t> before = read_bytes(path("split-vae/latest.safetensors"));
  const Result r = ok("train --resume split-vae");
  EXPECT_NE(r.out.find("has trained 4 epochs already: nothing to do"), std::string::npos) << r.out;
  EXPECT_TRUE(before == read_bytes(path("split-vae/latest.safetensors")));
}

// `ae train` started in a child process, its stderr in `err` and stdout discarded, SIGINT at its
// default action as from a terminal (whatever the test runner was given).
pid_t start_train(const fs::path& folder, const fs::path& err, const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int null = ::open("/dev/null", O_WRONLY);
  if (fd < 0 || null < 0 || ::chdir(folder.c_str()) != 0) ::_exit(99);
  ::dup2(fd, 2);
  ::dup2(null, 1);
  ::signal(SIGINT, SIG_DFL);
  ::setenv("AE_DEVICE", "cpu", 1);
  std::vector<char*> argv{const_cast<char*>(AE_CLI_PATH), const_cast<char*>("train")};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(AE_CLI_PATH, argv.data());
  ::_exit(98);
}

// Waits at most a minute for `file`; whether it came.
bool wait_for(const fs::path& file) {
  for (int i = 0; i < 600 && !fs::exists(file); ++i) ::usleep(100000);
  return fs::exists(file);
}

// Ctrl-C during training: exit code 130 and one line on stderr that says after which epoch the
// run stopped and how to continue it; the checkpoint on disk loads and the run resumes from it.
TEST_F(CliTrain, InterruptSaysHowToResume) {
  const fs::path err = path("stderr.txt");
  const pid_t pid = start_train(dir_, err, {"--model", "ae", "--epochs", "100000", "--shapes-samples",
                                            "600", "--batch-size", "32", "--no-pictures", "-q", "--out", "run"});
  ASSERT_GE(pid, 0);
  // Ctrl-C once the first checkpoint is there (at most a minute).
  const bool started = wait_for(path("run/latest.safetensors"));
  ::kill(pid, started ? SIGINT : SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(started) << read_text(err);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string e = read_text(err);
  EXPECT_EQ(count_lines(e), 1u) << e;
  EXPECT_EQ(e.rfind("ae: interrupted: the run stopped after epoch ", 0), 0u) << e;
  EXPECT_NE(e.find("continue it with `ae train --resume run`"), std::string::npos) << e;
  // The epoch named is the checkpoint's, and the run continues from it.
  const models::Checkpoint c = models::read_checkpoint(path("run/latest.safetensors").string());
  EXPECT_NE(e.find("after epoch " + std::to_string(c.state.epoch) + " of 100000"), std::string::npos)
      << e;
  ok("info run");
  ok("train --resume run --epochs " + std::to_string(c.state.epoch + 1) + " -q --no-pictures");
  EXPECT_EQ(models::read_checkpoint(path("run/latest.safetensors").string()).state.epoch,
            c.state.epoch + 1);
}

// Ctrl-C in the first epoch: no checkpoint yet, but config.json is there, and `--resume` starts
// the run again from it; the line says so (not that there is nothing to resume). The epoch is
// long (100,000 samples through 2048-wide layers), so the signal comes well before its end.
TEST_F(CliTrain, InterruptBeforeTheFirstCheckpointSaysResumeStartsAgain) {
  const fs::path err = path("stderr.txt");
  const pid_t pid = start_train(dir_, err, {"--model", "ae", "--hidden", "2048,2048", "--epochs", "2",
                                            "--shapes-samples", "100000", "--batch-size", "32",
                                            "--no-pictures", "-q", "--out", "run"});
  ASSERT_GE(pid, 0);
  // Ctrl-C once config.json is written and the handler installed (a moment after the file).
  const bool started = wait_for(path("run/config.json"));
  if (started) ::usleep(1000000);
  const bool checkpointed = fs::exists(path("run/latest.safetensors"));
  ::kill(pid, started ? SIGINT : SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(started) << read_text(err);
  ASSERT_FALSE(checkpointed) << "the first epoch ended within a second";
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string e = read_text(err);
  EXPECT_EQ(e, "ae: interrupted in epoch 1, before any checkpoint was saved; run holds the run's "
               "settings (config.json), and `ae train --resume run` starts it again from epoch 1\n");
  EXPECT_FALSE(fs::exists(path("run/latest.safetensors")));
}

// The step modes compute the same function: on the CPU the fused default and the eager reference
// write the same bytes; graph mode says it cannot capture here and runs fused. A resumed run may
// change the mode.
TEST_F(CliTrain, StepModesGiveTheSameRun) {
  ok("train --model dae --epochs 2 --out fused" + kSmall);
  ok("train --model dae --epochs 2 --step-mode eager --out eager" + kSmall);
  expect_same_checkpoint(path("fused/latest.safetensors"), path("eager/latest.safetensors"));
  const Result g = ok("train --model dae --epochs 1 --step-mode graph --out graph --shapes-samples "
                      "600 --batch-size 32 --no-pictures");
  EXPECT_NE(g.out.find("graph mode unavailable: the cpu backend cannot capture graphs"),
            std::string::npos) << g.out;
  ok("train --resume graph --epochs 2 --step-mode eager -q --no-pictures");
  expect_same_checkpoint(path("fused/latest.safetensors"), path("graph/latest.safetensors"));
  fails("train --step-mode fast --out bad", {"--step-mode", "fast", "eager, fused, graph"});
}

TEST_F(CliTrain, ConfigRepeatsTheRun) {
  ok("train --model ae --hidden 32 --code 3 --lr 0.003 --epochs 2 --seed 7 --data-seed 3 --out a" + kSmall);
  ok("train --config a/config.json --out b -q --no-pictures");
  expect_same_checkpoint(path("a/latest.safetensors"), path("b/latest.safetensors"));
  // Flags override the file.
  ok("train --config a/config.json --code 4 --out c -q --no-pictures");
  const models::Checkpoint c = models::read_checkpoint(path("c/latest.safetensors").string());
  EXPECT_EQ(c.spec.code_width(), 4);
  EXPECT_EQ(c.spec.autoencoder.widths, (std::vector<int64_t>{64, 32, 4}));
}

// The checkpoint's bytes read against the format: an 8-byte little-endian header size N, N
// bytes of JSON padded with spaces, then the tensors, back to back, with offsets relative to
// the end of the header; every metadata value a string.
TEST_F(CliTrain, CheckpointFollowsTheSafetensorsLayout) {
  ok("train --epochs 1 --out run" + kSmall);
  const std::vector<uint8_t> bytes = read_bytes(path("run/latest.safetensors"));
  ASSERT_GT(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[i];
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ((8 + n) % 8, 0u) << "the header is padded to 8 bytes";
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n));
  EXPECT_EQ(header.front(), '{');
  const nlohmann::json j = nlohmann::json::parse(header);
  ASSERT_TRUE(j.contains("__metadata__"));
  for (const auto& [key, value] : j["__metadata__"].items()) EXPECT_TRUE(value.is_string()) << key;
  // Offsets tile the data buffer exactly, in file order, with F32 sizes.
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const auto& [name, t] : j.items()) {
    if (name == "__metadata__") continue;
    EXPECT_EQ(t["dtype"], "F32") << name;
    uint64_t count = 1;
    for (const auto& d : t["shape"]) count *= d.get<uint64_t>();
    const uint64_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
    EXPECT_EQ(end - begin, 4 * count) << name;
    spans.emplace_back(begin, end);
  }
  std::sort(spans.begin(), spans.end());
  uint64_t at = 0;
  for (const auto& [begin, end] : spans) {
    EXPECT_EQ(begin, at);
    at = end;
  }
  EXPECT_EQ(8 + n + at, bytes.size()) << "no bytes after the last tensor";
  // The names a PyTorch user sees, and the training state.
  for (const char* name : {"encoder.0.weight", "encoder.0.bias", "mu.weight", "logvar.weight",
                           "decoder.0.weight", "optimizer.m.encoder.0.weight",
                           "optimizer.v.decoder.1.bias"})
    EXPECT_TRUE(j.contains(name)) << name;
  EXPECT_EQ(j["encoder.0.weight"]["shape"], nlohmann::json::parse("[256, 64]"));
  EXPECT_EQ(j["__metadata__"]["ae.epoch"], "1");
  EXPECT_EQ(nlohmann::json::parse(j["__metadata__"]["ae.model"].get<std::string>())["kind"], "vae");
}

// When Python's safetensors package is installed, it reads ae's checkpoint.
TEST_F(CliTrain, PythonSafetensorsReadsTheCheckpoint) {
  if (std::system("python3 -c 'import safetensors' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with the safetensors package is not installed";
  ok("train --epochs 1 --out run" + kSmall);
  const std::string script =
      "import json, safetensors\n"
      "with safetensors.safe_open('run/latest.safetensors', 'np') as f:\n"
      "    meta = f.metadata()\n"
      "    w = f.get_tensor('encoder.0.weight')\n"
      "    print(w.shape[0], w.shape[1], json.loads(meta['ae.model'])['kind'], meta['ae.epoch'])\n";
  write_text(path("read.py"), script);
  const std::string command = "cd '" + dir_.string() + "' && python3 read.py > py.out 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_text(path("py.out"));
  EXPECT_EQ(read_text(path("py.out")), "256 64 vae 1\n");
}

// An --out that already holds a run is refused before the data is read: with a file that would
// not even parse, the message is the run folder's, not the data's.
TEST_F(CliTrain, AnOutThatHoldsARunIsRefusedBeforeTheData) {
  ok("train --epochs 1 --out run" + kSmall);
  write_text(path("broken.npy"), "\x93NUMPY this is no array");
  const Result r = fails("train --data broken.npy --epochs 1 --out run -q",
                         {"run: already holds a run", "--resume run", "another --out"});
  EXPECT_EQ(r.err.find("broken.npy"), std::string::npos) << r.err;
}

// A checkpoint without the optimizer's state (Adam's moments), as the Python package's save
// writes it, resumes with a one-line warning saying that the moments start again from zero.
TEST_F(CliTrain, ResumingWithoutOptimizerStateSaysSo) {
  ok("train --epochs 1 --out run" + kSmall);
  const std::string latest = path("run/latest.safetensors").string();
  io::SafeTensorsFile file = io::read_safetensors(latest);
  std::vector<io::SafeTensor> kept;
  for (io::SafeTensor& t : file.tensors)
    if (t.name.rfind("optimizer.", 0) != 0) kept.push_back(std::move(t));
  ASSERT_LT(kept.size(), file.tensors.size());  // the run's own checkpoint holds the moments
  file.metadata.at("ae.optimizer_steps") = "0";
  io::write_safetensors(latest, kept, file.metadata);
  const Result r = ok("train --resume run --epochs 2");
  const size_t at = r.err.find("ae: warning: run/latest.safetensors holds no optimizer state "
                               "(Adam's moments");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
  EXPECT_NE(line.find("starts again from zero"), std::string::npos) << line;
  EXPECT_NE(line.find("first steps of epoch 2"), std::string::npos) << line;
  // A checkpoint with its moments resumes without it.
  const Result again = ok("train --resume run --epochs 3");
  EXPECT_EQ(again.err.find("optimizer state"), std::string::npos) << again.err;
}

// A run trained on a CUDA device, resumed where there is none: the error names the device its
// config.json records (not a --device the user did not pass) and suggests --device cpu, with
// which the run then goes on.
TEST_F(CliTrain, ResumingARunOfAMissingDeviceNamesItsConfig) {
  ok("train --epochs 1 --out run" + kSmall);
  // A CUDA device this machine lacks: cuda:0 where there is none.
  const std::string device = "cuda:" + std::to_string(cuda_device_count());
  const fs::path config = path("run/config.json");
  nlohmann::json j = nlohmann::json::parse(read_text(config));
  ASSERT_EQ(j["device"], "auto");  // where ae train records the device
  j["device"] = device;
  write_text(config, j.dump(2));
  const Result r = fails("train --resume run --epochs 2",
                         {"run/config.json", "trained with --device " + device, "add --device cpu"});
  EXPECT_EQ(r.err.rfind("ae: --device", 0), std::string::npos) << r.err;
  ok("train --resume run --epochs 2 --device cpu");
  EXPECT_EQ(nlohmann::json::parse(read_text(config))["device"], "cpu");
}

}  // namespace
}  // namespace ae::testing_cli
#endif  // AE_CLI_PATH
