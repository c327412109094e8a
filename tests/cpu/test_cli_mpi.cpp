// `mpirun -np 2 ae train` end to end (built with MPI; skipped otherwise): the same parameters as
// `ae train` with the same global batch, within the bound of tests/mpi/test_mpi.cpp (2 T u max|p|
// after T SGD steps, u = 2^-24); rank 0 alone writes and prints; resuming on the same number of
// ranks continues exactly, on another number within that bound and says so; a rank that fails
// or is killed ends the whole job at once with a non-zero status; streamed data (--stream) too.
#if defined(AE_CLI_PATH) && defined(AE_MPIEXEC)
#include <chrono>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/random.h"
#include "data/npy.h"
#include "data/safetensors.h"
#include "tests/cpu/test_cli_util.h"
#include "tests/cpu/test_models_util.h"

namespace ae::testing_cli {
namespace {

class CliMpi : public CliTest {
 protected:
  // `mpirun -np 2 <program>` in the test's folder, one thread per rank; `program` is given to
  // the shell as it is (ae's path is $AE).
  Result mpirun(const std::string& program) const {
    Result r;
    const fs::path out = dir_ / ".stdout", err = dir_ / ".stderr";
    const std::string command =
        "cd '" + dir_.string() + "' && export AE_DEVICE=cpu AE_CPU_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 "
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 AE='" + AE_CLI_PATH + "' && '" + AE_MPIEXEC + "' " +
        AE_MPIEXEC_FLAGS + " " + program + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(command.c_str());
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
  }
  Result train_on_two(const std::string& args) const {
    Result r = mpirun("\"$AE\" train " + args);
    EXPECT_EQ(r.code, 0) << "mpirun ae train " << args << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
    return r;
  }
  Result one_rank(const std::string& args) const {  // ae alone, one thread as each rank
    setenv("AE_CPU_THREADS", "1", 1);
    Result r = ok(args);
    unsetenv("AE_CPU_THREADS");
    return r;
  }
};

std::vector<float> floats(const io::SafeTensor& t) {
  std::vector<float> v(t.bytes.size() / sizeof(float));
  std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(float));
  return v;
}

// The model's parameters of two checkpoints (float32) within 2 T u max|p|, T their steps.
void expect_within_rounding(const fs::path& a, const fs::path& b) {
  const io::SafeTensorsFile fa = io::read_safetensors(a.string());
  const io::SafeTensorsFile fb = io::read_safetensors(b.string());
  ASSERT_EQ(fa.metadata.at("ae.step"), fb.metadata.at("ae.step"));
  EXPECT_EQ(fa.metadata.at("ae.rng_offset"), fb.metadata.at("ae.rng_offset"));
  double max_p = 0, max_diff = 0;
  int compared = 0;
  for (const io::SafeTensor& t : fa.tensors) {
    // Not parameters: the optimizer's moments, the normaliser, and a sparse autoencoder's
    // firing counters (each rank counts its own shard's rows: models/sae.h).
    if (t.name.rfind("optimizer.", 0) == 0 || t.name.rfind("norm.", 0) == 0 ||
        t.name.rfind("latents.", 0) == 0)
      continue;
    const io::SafeTensor* u = fb.find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    const std::vector<float> x = floats(t), y = floats(*u);
    ASSERT_EQ(x.size(), y.size()) << t.name;
    for (size_t i = 0; i < x.size(); ++i) {
      max_p = std::max(max_p, std::abs(double{x[i]}));
      max_diff = std::max(max_diff, std::abs(double{x[i]} - double{y[i]}));
    }
    ++compared;
  }
  EXPECT_GT(compared, 0);
  const double steps = std::stod(fa.metadata.at("ae.step"));
  const double bound = 2 * steps * std::ldexp(1.0, -24) * max_p;
  EXPECT_LE(max_diff, bound);
  models::test::measured(cat(a.parent_path().filename().string(), " vs ", b.parent_path().filename().string(),
                             ": max |p_2 - p_1| = ", max_diff, " after ", steps, " steps (bound ", bound, ")"));
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(CliMpi, MnistOnTwoRanksIsTheOneRankRunAndRankZeroAloneWrites) {
  AE_SKIP_WITHOUT_MNIST();
  // 1,080 training digits in batches of 64: the last batch has 56 rows.
  const std::string args = std::string("--model dae --data ") + AE_MNIST_DIR +
                           " --limit 1200 --hidden 64 --code 16 --epochs 2 --batch-size 64"
                           " --optimizer sgd --lr 0.1 --no-pictures --out ";
  one_rank("train " + args + "one -q");
  const Result two = train_on_two(args + "two");
  expect_within_rounding(path("one/latest.safetensors"), path("two/latest.safetensors"));
  // One report, from rank 0: each epoch's line once, and the split said.
  EXPECT_EQ(count(two.out, "epoch 1/2"), 1u) << two.out;
  EXPECT_EQ(count(two.out, "run folder: "), 1u) << two.out;
  EXPECT_NE(two.out.find("data-parallel over 2 ranks (mpi): each trains on about 32 rows of every "
                         "batch of 64"), std::string::npos) << two.out;
  // The same files, written once.
  std::vector<std::string> a, b;
  for (const auto& e : fs::directory_iterator(path("one"))) a.push_back(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(path("two"))) b.push_back(e.path().filename().string());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  EXPECT_EQ(count_lines(read_text(path("two/metrics.csv"))), 3u);
  const nlohmann::json config = nlohmann::json::parse(read_text(path("two/config.json")));
  EXPECT_EQ(config["resolved"]["ranks"], 2);
  // The validation losses, summed over the ranks, are the one-rank ones.
  const nlohmann::json m1 = nlohmann::json::parse(read_text(path("one/metrics.json")));
  const nlohmann::json m2 = nlohmann::json::parse(read_text(path("two/metrics.json")));
  for (int e = 0; e < 2; ++e) {
    const double v1 = m1["epochs"][e]["val"]["total"], v2 = m2["epochs"][e]["val"]["total"];
    EXPECT_NEAR(v2, v1, 1e-5 * v1) << e;
  }
}

TEST_F(CliMpi, ResumesExactlyOnTheSameRanksAndWithinRoundingOnOthers) {
  const std::string small = " --model vae --optimizer sgd --lr 0.02 --shapes-samples 601"
                            " --batch-size 32 --no-pictures -q";
  // Two ranks throughout, and two ranks resuming their own run: the same bits.
  train_on_two("--epochs 4 --out straight2" + small);
  train_on_two("--epochs 2 --out split2" + small);
  train_on_two("--resume split2 --epochs 4 -q --no-pictures");
  const io::SafeTensorsFile a = io::read_safetensors(path("straight2/latest.safetensors").string());
  const io::SafeTensorsFile b = io::read_safetensors(path("split2/latest.safetensors").string());
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const io::SafeTensor& t : a.tensors) EXPECT_TRUE(t.bytes == b.find(t.name)->bytes) << t.name;
  EXPECT_EQ(a.metadata.at("ae.rng_offset"), b.metadata.at("ae.rng_offset"));
  // One rank's run resumed on two: it says so and stays within rounding of one rank throughout.
  one_rank("train --epochs 4 --out straight1" + small);
  one_rank("train --epochs 2 --out split1" + small);
  const Result resumed = mpirun("\"$AE\" train --resume split1 --epochs 4 --no-pictures");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("the run was trained on 1 rank so far and continues as it would have "
                             "there, up to the float rounding of the gradient sums"),
            std::string::npos) << resumed.out;
  expect_within_rounding(path("straight1/latest.safetensors"), path("split1/latest.safetensors"));
  // A two-rank run resumed by one process: it says so, and that this process takes every row
  // of each batch (not "data-parallel over 1 rank").
  const Result alone = one_rank("train --resume split2 --epochs 5 --no-pictures");
  EXPECT_NE(alone.out.find("the run was trained on 2 ranks so far and continues as it would have "
                           "there, up to the float rounding of the gradient sums; this one process "
                           "trains on every row of each batch of 32"),
            std::string::npos) << alone.out;
  EXPECT_EQ(alone.out.find("data-parallel"), std::string::npos) << alone.out;
}

// --stream: each rank reads only the rows of its shards from the file, block by block.
TEST_F(CliMpi, StreamedDataOnTwoRanksIsTheOneRankRun) {
  // 3,001 rows of 24 features in (0, 1): the last batch of each epoch is partial.
  Generator g(9);
  const std::vector<double> v = g.rand(Shape{3001, 24}, DType::f64, Device::cpu()).to_vector();
  const std::vector<float> x(v.begin(), v.end());
  io::write_npy(path("rows.npy").string(), {3001, 24}, x.data());
  const std::string args = " --data rows.npy --stream --model dae --hidden 16 --code 4"
                           " --optimizer sgd --lr 0.05 --epochs 2 --batch-size 64 --no-pictures -q --out ";
  one_rank("train" + args + "one");
  train_on_two(args + "two");
  expect_within_rounding(path("one/latest.safetensors"), path("two/latest.safetensors"));
}

TEST_F(CliMpi, ASparseAutoencoderOnTwoRanksIsTheOneRankRun) {
  // TopK selects per row, so each rank's shard gets the latents the whole batch would give it;
  // no latent goes dead in so short a run (--dead-after), so AuxK's per-rank masks stay empty.
  Generator g(10);
  const std::vector<double> v = g.randn(Shape{1500, 32}, DType::f64, Device::cpu()).to_vector();
  const std::vector<float> x(v.begin(), v.end());
  io::write_npy(path("acts.npy").string(), {1500, 32}, x.data());
  const std::string args = " --data acts.npy --model topk --latents 96 --k 4 --epochs 2"
                           " --batch-size 64 --dead-after 1000000 --lr-warmup 10 --no-pictures -q"
                           " --out ";
  one_rank("train" + args + "one");
  train_on_two(args + "two");
  expect_within_rounding(path("one/latest.safetensors"), path("two/latest.safetensors"));
}

TEST_F(CliMpi, AFailingRankEndsEveryRankWithItsError) {
  const auto started = std::chrono::steady_clock::now();
  // Rank 0 trains on the built-in shapes, rank 1 is given a folder that does not exist.
  const Result r = mpirun("sh -c 'data=; [ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && data=\"--data missing-folder\"; "
                          "exec \"$AE\" train --model ae $data --epochs 100000 --no-pictures -q --out run'");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("ae: rank 1 of 2: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing-folder"), std::string::npos) << r.err;
  EXPECT_LT(seconds, 30);
  models::test::measured(cat("a failing rank ended the 2-rank job in ", seconds, " s"));
}

// Ranks that disagree on their data or settings: every rank ends with exit code 2 before writing
// anything, and the rank that differs names what and both values, once. `rank1` is the shell text
// rank 1 adds to (or puts in place of) rank 0's arguments; each rank's exit code is written to
// rc.<rank> (the shell itself exits 0, so that mpirun ends neither before it has), and a bound of
// 60 s per rank turns a hang into exit code 124.
class CliMpiDisagree : public CliMpi {
 protected:
  void SetUp() override {
    CliMpi::SetUp();
    write_rows("a.csv", 1000, 12);
    write_rows("b.csv", 1200, 12);
    write_rows("c.csv", 1000, 11);
  }
  void write_rows(const std::string& name, int rows, int features) const {
    Generator g(static_cast<uint64_t>(rows + features));
    const std::vector<double> v = g.rand(Shape{rows, features}, DType::f64, Device::cpu()).to_vector();
    std::string text;
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < features; ++j) text += cat(v[static_cast<size_t>(i * features + j)], j + 1 < features ? "," : "\n");
    write_text(path(name), text);
  }
  // `rank0` and `rank1`: each rank's arguments after `ae train`.
  void expect_refused(const std::string& rank0, const std::string& rank1,
                      const std::string& line) const {
    const Result r = mpirun("sh -c 'args=\"" + rank0 + "\"; [ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && args=\"" +
                            rank1 + "\"; timeout -k 5 60 \"$AE\" train $args --no-pictures -q --out run; "
                            "echo $? > rc.$OMPI_COMM_WORLD_RANK'");
    for (const char* rank : {"0", "1"})
      EXPECT_EQ(read_text(path(std::string("rc.") + rank)), "2\n") << "rank " << rank << "\n" << r.err;
    EXPECT_EQ(count(r.err, "ae: "), 1u) << r.err;
    EXPECT_NE(r.err.find("ae: rank 1 of 2: " + line + " (every rank of a data-parallel run trains "
                         "on the same data with the same settings; only --device may differ)\n"),
              std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(fs::exists(path("run"))) << "a run folder was written";
  }
};

TEST_F(CliMpiDisagree, RowsDiffer) {
  expect_refused("--data a.csv --model ae --epochs 2", "--data b.csv --model ae --epochs 2",
                 "the data's number of rows differs: 1200 here, 1000 on rank 0");
}

TEST_F(CliMpiDisagree, FeaturesDiffer) {
  expect_refused("--data a.csv --model ae --epochs 2", "--data c.csv --model ae --epochs 2",
                 "the data's number of features differs: 11 here, 12 on rank 0");
}

TEST_F(CliMpiDisagree, EpochsDiffer) {
  expect_refused("--data a.csv --model ae --epochs 2", "--data a.csv --model ae --epochs 4",
                 "--epochs (train.epochs) differs: 4 here, 2 on rank 0");
}

TEST_F(CliMpiDisagree, SeedDiffers) {
  expect_refused("--data a.csv --model ae --epochs 2 --seed 1", "--data a.csv --model ae --epochs 2 --seed 2",
                 "--seed (seed) differs: 2 here, 1 on rank 0");
}

// Only the device may differ: each rank may take its own.
TEST_F(CliMpiDisagree, TheDeviceMayDiffer) {
  const Result r = mpirun("sh -c 'd=cpu; [ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && d=auto; "
                          "exec \"$AE\" train --data a.csv --model ae --epochs 1 --device $d "
                          "--no-pictures -q --out run'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(path("run/latest.safetensors")));
}

// A flag CLI11 refuses is found before any communicator exists: rank 0 alone prints it, and every
// rank exits with code 2.
TEST_F(CliMpi, AFlagErrorIsPrintedOnce) {
  const Result r = mpirun("sh -c 'timeout -k 5 60 \"$AE\" train --no-such-flag 3; "
                          "echo $? > rc.$OMPI_COMM_WORLD_RANK'");
  for (const char* rank : {"0", "1"})
    EXPECT_EQ(read_text(path(std::string("rc.") + rank)), "2\n") << "rank " << rank << "\n" << r.err;
  EXPECT_EQ(count(r.err, "ae: "), 1u) << r.err;
  EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
}

#if AE_HAVE_NCCL
// NCCL bootstrapped over MPI: rank 0 cannot make the NCCL id (here: no NCCL library where AE_NCCL
// points) while rank 1 waits for it in the broadcast. Rank 0 ends the job with its error, rather
// than unwinding into MPI_Finalize while rank 1 waits forever (each rank is bounded at 60 s).
TEST_F(CliMpi, RankZeroFailingToMakeTheNcclIdEndsEveryRank) {
  const auto started = std::chrono::steady_clock::now();
  const Result r = mpirun("env AE_COMM=nccl AE_NCCL=/nonexistent/libnccl.so.2 timeout -k 5 60 "
                          "\"$AE\" train --model ae --epochs 1 --no-pictures -q --out run");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("ae: rank 0 of 2: NCCL: AE_NCCL=/nonexistent/libnccl.so.2"), std::string::npos)
      << r.err;
  EXPECT_LT(seconds, 30);
  EXPECT_FALSE(fs::exists(path("run")));
  models::test::measured(cat("rank 0 failing before the NCCL id ended the 2-rank job in ", seconds, " s"));
}
#endif

TEST_F(CliMpi, AKilledRankEndsTheJobWithinSeconds) {
  // Rank 1 is killed (SIGKILL) a second into a run that would take hours.
  const auto started = std::chrono::steady_clock::now();
  const Result r = mpirun("sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (sleep 1; kill -9 $$) & "
                          "fi; exec \"$AE\" train --model ae --epochs 1000000 --shapes-samples 600 "
                          "--batch-size 32 --no-pictures -q --out run'");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("rank 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("signal 9"), std::string::npos) << r.err;
  EXPECT_LT(seconds, 30);
  models::test::measured(cat("a killed rank ended the 2-rank job in ", seconds, " s (1 s of it before the kill)"));
}

}  // namespace
}  // namespace ae::testing_cli
#endif
