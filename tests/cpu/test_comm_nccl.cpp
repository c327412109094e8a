// The NCCL communicator where no GPU is. Its decisions apart from NCCL and CUDA
// (core/nccl_bootstrap.h), in every build: which bootstrap, and the refusals where ranks would
// train alone; the id file (stale files from earlier jobs refused); the device of a collective;
// the wait for collectives (NCCL's asynchronous error, the timeout naming the rank). Then, with
// NCCL built: its bootstrap through a shared id file and one-line errors (never a crash or a hang)
// when a collective finds no device. Its collectives on a GPU are tested in
// tests/gpu/test_comm_nccl.cpp.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/comm.h"
#include "core/device.h"
#include "core/error.h"
#include "core/nccl_bootstrap.h"
#include "tests/common/io_testing.h"

namespace ae {
namespace {

namespace fs = std::filesystem;
using io::test::TempDir;
using namespace std::chrono_literals;

// When the test binary's statics were made: after the process started, moments after.
const fs::file_time_type g_statics_made = fs::file_time_type::clock::now();

// Sets environment variables for one scope (a value of nullopt unsets one) and restores them.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, std::optional<std::string>>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      if (value) setenv(name, value->c_str(), 1);
      else unsetenv(name);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// No launcher, no bootstrap variables: what each test starts from.
ScopedEnv clean_env() {
  return ScopedEnv{{"OMPI_COMM_WORLD_SIZE", std::nullopt}, {"PMI_SIZE", std::nullopt},
                   {"PMIX_SIZE", std::nullopt},            {"PMIX_RANK", std::nullopt},
                   {"AE_NCCL_ID_FILE", std::nullopt},      {"AE_RANK", std::nullopt},
                   {"AE_WORLD_SIZE", std::nullopt},        {"AE_NCCL_TIMEOUT", std::nullopt}};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

NcclIdBytes id_of(char c) {
  NcclIdBytes id;
  id.fill(c);
  return id;
}

// --- which bootstrap ------------------------------------------------------------------------

TEST(NcclBootstrap, SeveralRanksThatCannotMeetAreRefused) {
  ScopedEnv env = clean_env();
  EXPECT_EQ(nccl_bootstrap(false).kind, NcclBootstrap::Kind::alone);
  {  // mpirun -np 2 in a build without MPI, no id file: each would train alone on cuda:0.
    ScopedEnv launched{{"OMPI_COMM_WORLD_SIZE", "2"}};
    const std::string msg = error_of([] { nccl_bootstrap(false); });
    EXPECT_TRUE(has(msg, "AE_COMM=nccl: started as one of 2 ranks (by mpirun or srun), but this ae "
                         "was built without MPI")) << msg;
    EXPECT_TRUE(has(msg, "AE_NCCL_ID_FILE")) << msg;
    EXPECT_FALSE(has(msg, "\n")) << msg;
    EXPECT_EQ(nccl_bootstrap(true).kind, NcclBootstrap::Kind::mpi);  // with MPI they meet there
  }
  {  // PMIx that does not say how many: refused as well.
    ScopedEnv launched{{"PMIX_RANK", "0"}};
    EXPECT_TRUE(has(error_of([] { nccl_bootstrap(false); }), "started as one of several ranks"));
  }
  {  // One rank by the launcher's word: alone is right.
    ScopedEnv launched{{"OMPI_COMM_WORLD_SIZE", "1"}};
    EXPECT_EQ(nccl_bootstrap(false).kind, NcclBootstrap::Kind::alone);
  }
  {
    ScopedEnv world{{"AE_WORLD_SIZE", "4"}};
    EXPECT_EQ(error_of([] { nccl_bootstrap(false); }),
              "AE_COMM=nccl: AE_WORLD_SIZE=4 but AE_NCCL_ID_FILE is not set; the ranks cannot meet "
              "and each would train alone (set AE_NCCL_ID_FILE to a file every rank sees, or launch "
              "with mpirun)");
  }
  {
    ScopedEnv world{{"AE_WORLD_SIZE", "1"}};
    EXPECT_EQ(nccl_bootstrap(false).kind, NcclBootstrap::Kind::alone);
  }
}

TEST(NcclBootstrap, IdFileTakesItsRankAndSize) {
  ScopedEnv env = clean_env();
  ScopedEnv file{{"AE_NCCL_ID_FILE", "/shared/nccl.id"}, {"AE_RANK", "2"}, {"AE_WORLD_SIZE", "3"}};
  const NcclBootstrap b = nccl_bootstrap(false);
  EXPECT_EQ(b.kind, NcclBootstrap::Kind::file);
  EXPECT_EQ(b.rank, 2);
  EXPECT_EQ(b.size, 3);
  EXPECT_EQ(b.file, "/shared/nccl.id");
  {
    ScopedEnv launched{{"OMPI_COMM_WORLD_SIZE", "4"}};
    EXPECT_EQ(error_of([] { nccl_bootstrap(false); }),
              "nccl bootstrap: the launcher started 4 ranks, but AE_WORLD_SIZE=3");
  }
  ScopedEnv bad{{"AE_RANK", "3"}};
  EXPECT_TRUE(has(error_of([] { nccl_bootstrap(false); }), "AE_RANK=3 AE_WORLD_SIZE=3")) ;
  ScopedEnv unset{{"AE_RANK", std::nullopt}};
  EXPECT_TRUE(has(error_of([] { nccl_bootstrap(false); }), "AE_RANK=(unset) AE_WORLD_SIZE=3"));
}

TEST(NcclBootstrap, TimeoutComesFromTheEnvironment) {
  ScopedEnv env = clean_env();
  EXPECT_EQ(nccl_timeout_seconds(), 600);
  ScopedEnv five{{"AE_NCCL_TIMEOUT", "5"}};
  EXPECT_EQ(nccl_timeout_seconds(), 5);
  ScopedEnv zero{{"AE_NCCL_TIMEOUT", "0"}};
  EXPECT_EQ(error_of([] { nccl_timeout_seconds(); }), "AE_NCCL_TIMEOUT=0 is not a positive integer");
  ScopedEnv word{{"AE_NCCL_TIMEOUT", "10s"}};
  EXPECT_EQ(error_of([] { nccl_timeout_seconds(); }), "AE_NCCL_TIMEOUT=10s is not a positive integer");
}

// --- the id file ----------------------------------------------------------------------------

TEST(NcclIdFile, PublishedAtomicallyAndRead) {
  TempDir dir;
  const std::string file = dir.path("nccl.id");
  publish_nccl_id(file, id_of('a'));
  EXPECT_EQ(fs::file_size(file), 128u);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"nccl.id"});  // no temporary left beside it
  EXPECT_EQ(read_nccl_id(file, 1, 1s, process_start_time()), id_of('a'));
  EXPECT_TRUE(has(error_of([] { publish_nccl_id("/nonexistent-folder/nccl.id", id_of('a')); }),
                  "nccl bootstrap: cannot write /nonexistent-folder/nccl.id.tmp"));
}

// A file from an earlier job is never read: a rank waits past it for its own rank 0's id, which
// replaces it; with none coming, the timeout's error says what it saw.
TEST(NcclIdFile, AFileOlderThanTheJobIsNotRead) {
  TempDir dir;
  const std::string file = dir.path("nccl.id");
  publish_nccl_id(file, id_of('o'));
  fs::last_write_time(file, fs::file_time_type::clock::now() - 1h);
  const auto started = std::chrono::steady_clock::now();
  const std::string msg = error_of([&] { read_nccl_id(file, 3, 300ms, process_start_time()); });
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_TRUE(has(msg, "nccl bootstrap: rank 3 waited 0.3 s for rank 0's id in AE_NCCL_ID_FILE=" + file))
      << msg;
  EXPECT_TRUE(has(msg, "the file there was written 36")) << msg;  // 3600 s, give or take one
  EXPECT_TRUE(has(msg, "before this rank started: left by an earlier job, it is not read")) << msg;

  // Rank 0 replaces it while rank 3 waits: rank 3 reads the new id.
  std::thread rank0([&] {
    std::this_thread::sleep_for(200ms);
    publish_nccl_id(file, id_of('n'));
  });
  const NcclIdBytes got = read_nccl_id(file, 3, 10s, process_start_time());
  rank0.join();
  EXPECT_EQ(got, id_of('n'));
}

TEST(NcclIdFile, MissingFileIsAnErrorAfterTheTimeout) {
  TempDir dir;
  const std::string msg = error_of([&] { read_nccl_id(dir.path("never.id"), 1, 100ms, process_start_time()); });
  EXPECT_TRUE(has(msg, "rank 1 waited 0.1 s for rank 0's id in AE_NCCL_ID_FILE=")) << msg;
  EXPECT_FALSE(has(msg, "earlier job")) << msg;
  EXPECT_FALSE(has(msg, "\n")) << msg;
}

TEST(NcclIdFile, ProcessStartTimeIsThisProcesss) {
  const fs::file_time_type start = process_start_time(0s);
  // From /proc: the start in clock ticks (10 ms at USER_HZ 100) and the uptime in hundredths of
  // a second, so the estimate may land up to two ticks after the true start.
  EXPECT_LE(start, g_statics_made + 20ms);
  EXPECT_GE(start, g_statics_made - 5s);  // a process makes its statics within moments
  EXPECT_LE(process_start_time(), start - 29s);  // less the default slack of 30 s
  EXPECT_GE(process_start_time(), start - 31s);
}

// --- the device of a collective -------------------------------------------------------------

TEST(NcclCollectiveDevice, HostBuffersUseTheBoundDevice) {
  // Bound to cuda:1 (--device cuda:1) on local rank 0 of two GPUs: a host sum stays on cuda:1.
  EXPECT_EQ(nccl_collective_device(Device::cpu(), Device::cuda(1), 0, 0, 2), Device::cuda(1));
  // Before any collective: local rank modulo the devices.
  EXPECT_EQ(nccl_collective_device(Device::cpu(), std::nullopt, 0, 3, 2), Device::cuda(1));
  EXPECT_EQ(nccl_collective_device(Device::cuda(1), std::nullopt, 0, 0, 2), Device::cuda(1));
  EXPECT_EQ(nccl_collective_device(Device::cuda(1), Device::cuda(1), 0, 0, 2), Device::cuda(1));
  EXPECT_EQ(error_of([] { nccl_collective_device(Device::cuda(0), Device::cuda(1), 2, 0, 2); }),
            "nccl: a collective on cuda:0, but rank 2's communicator is on cuda:1 (one device per rank)");
  EXPECT_EQ(error_of([] { nccl_collective_device(Device::cpu(), std::nullopt, 2, 0, 0); }),
            "nccl: rank 2 sees no CUDA device");
}

// --- the wait for collectives ---------------------------------------------------------------

TEST(NcclWait, ReturnsOnceDoneAndPollsTheAsyncErrorMeanwhile) {
  int queries = 0, polls = 0;
  wait_for_ranks([&] { return ++queries == 5; }, [&] { ++polls; return std::string(); }, 10s, 0, 2,
                 "all_reduce_sum");
  EXPECT_EQ(queries, 5);
  EXPECT_EQ(polls, 4);
}

TEST(NcclWait, AnAsynchronousErrorEndsTheWaitNamingTheRank) {
  int polls = 0;
  const std::string msg = error_of([&] {
    wait_for_ranks([] { return false; },
                   [&] { return ++polls < 3 ? std::string() : std::string("NCCL reports remote process exited"); },
                   10s, 1, 2, "all_reduce_sum (5 f64 on cuda:0)");
  });
  EXPECT_EQ(msg, "all_reduce_sum (5 f64 on cuda:0): rank 1 of 2: NCCL reports remote process exited");
  EXPECT_EQ(polls, 3);
}

TEST(NcclWait, TimesOutNamingTheRankAndTheVariable) {
  std::atomic<int> polls{0};
  const auto started = std::chrono::steady_clock::now();
  const std::string msg = error_of([&] {
    wait_for_ranks([] { return false; }, [&] { ++polls; return std::string(); }, 50ms, 3, 4,
                   "broadcast (8 bytes on cuda:3)");
  });
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(msg, "broadcast (8 bytes on cuda:3): rank 3 of 4 waited 0.05 s for the other ranks "
                 "(AE_NCCL_TIMEOUT=0.05; did a rank stop or fall behind?)");
  EXPECT_GE(took, 50ms);
  EXPECT_LT(took, 2s);
  EXPECT_GT(polls.load(), 3);
}

#if AE_HAVE_NCCL
// --- the communicator (NCCL built) ------------------------------------------------------------

// Sets the bootstrap variables for one scope.
struct Bootstrap {
  Bootstrap(const std::string& file, int rank, int size)
      : env{{"AE_NCCL_ID_FILE", file},
            {"AE_RANK", std::to_string(rank)},
            {"AE_WORLD_SIZE", std::to_string(size)},
            {"AE_NCCL_TIMEOUT", "1"},
            {"OMPI_COMM_WORLD_SIZE", std::nullopt},
            {"PMIX_RANK", std::nullopt}} {}
  ScopedEnv env;
};

// Rank 0 publishes its id; the others read it while rank 0's communicator lives; rank 0's
// communicator, ended before any rank joined it, takes the file with it.
TEST(CommNccl, RankZeroPublishesItsIdAndTheOthersReadIt) {
  TempDir dir;
  const std::string file = dir.path("nccl.id");
  std::unique_ptr<Communicator> rank0;
  {
    Bootstrap env(file, 0, 2);
    rank0 = make_communicator(CommKind::nccl);
    EXPECT_EQ(rank0->kind(), CommKind::nccl);
    EXPECT_EQ(rank0->rank(), 0);
    EXPECT_EQ(rank0->size(), 2);
  }
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::file_size(file), 128u);  // sizeof(ncclUniqueId)
  EXPECT_EQ(dir.list(), std::vector<std::string>{"nccl.id"});  // no temporary left beside it
  {
    Bootstrap env(file, 1, 2);
    std::unique_ptr<Communicator> c = make_communicator(CommKind::nccl);
    EXPECT_EQ(c->rank(), 1);
    EXPECT_EQ(c->size(), 2);
  }
  EXPECT_TRUE(fs::exists(file));  // only rank 0 removes it
  rank0.reset();
  EXPECT_FALSE(fs::exists(file));
}

TEST(CommNccl, MissingIdIsAnErrorAfterTheTimeout) {
  TempDir dir;
  Bootstrap env(dir.path("never.id"), 1, 2);
  const std::string msg = error_of([] { make_communicator(CommKind::nccl); });
  EXPECT_NE(msg.find("rank 1 waited 1 s for rank 0's id in AE_NCCL_ID_FILE="), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// Refused before NCCL is loaded: a world of several ranks with no way to meet.
TEST(CommNccl, SeveralRanksWithoutABootstrapAreRefused) {
  ScopedEnv env = clean_env();
  ScopedEnv world{{"AE_WORLD_SIZE", "2"}, {"AE_NCCL", "/nonexistent/libnccl.so.2"}};
  const std::string msg = error_of([] { make_communicator(CommKind::nccl); });
  EXPECT_TRUE(has(msg, "AE_COMM=nccl: AE_WORLD_SIZE=2 but AE_NCCL_ID_FILE is not set")) << msg;
}

TEST(CommNccl, BadRankIsNamed) {
  Bootstrap env("/tmp/unused.id", 2, 2);
  const std::string msg = error_of([] { make_communicator(CommKind::nccl); });
  EXPECT_NE(msg.find("AE_RANK=2 AE_WORLD_SIZE=2"), std::string::npos) << msg;
  setenv("AE_RANK", "one", 1);
  const std::string text = error_of([] { make_communicator(CommKind::nccl); });
  EXPECT_EQ(text, "AE_RANK=one is not a non-negative integer");
}

TEST(CommNccl, CollectiveWithoutADeviceIsAnError) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present (tests/gpu covers it)";
  std::unique_ptr<Communicator> c = make_communicator(CommKind::nccl);
  EXPECT_EQ(c->size(), 1);
  double x = 2;
  const std::string msg = error_of([&] { c->all_reduce_sum(&x, 1, DType::f64, Device::cpu()); });
  EXPECT_NE(msg.find("nccl: rank 0"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(x, 2);
}

TEST(CommNccl, LocalRankComesFromTheLauncher) {
  EXPECT_EQ(local_rank(), 0);
  setenv("AE_RANK", "3", 1);
  EXPECT_EQ(local_rank(), 3);
  setenv("AE_LOCAL_RANK", "1", 1);
  EXPECT_EQ(local_rank(), 1);
  setenv("AE_LOCAL_RANK", "x", 1);
  EXPECT_THROW(local_rank(), Error);
  unsetenv("AE_LOCAL_RANK");
  unsetenv("AE_RANK");
}

#endif  // AE_HAVE_NCCL

}  // namespace
}  // namespace ae
