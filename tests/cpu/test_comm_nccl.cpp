// The NCCL communicator where no GPU is: its bootstrap through a shared id file, and one-line
// errors (never a crash or a hang) when a collective finds no device. Its collectives on a GPU are
// tested in tests/gpu/test_comm_nccl.cpp.
#if AE_HAVE_NCCL
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/comm.h"
#include "core/device.h"
#include "core/error.h"
#include "tests/common/io_testing.h"

namespace ae {
namespace {

namespace fs = std::filesystem;
using io::test::TempDir;

// Sets the bootstrap variables for one scope.
struct Bootstrap {
  Bootstrap(const std::string& file, int rank, int size) {
    setenv("AE_NCCL_ID_FILE", file.c_str(), 1);
    setenv("AE_RANK", std::to_string(rank).c_str(), 1);
    setenv("AE_WORLD_SIZE", std::to_string(size).c_str(), 1);
    setenv("AE_NCCL_TIMEOUT", "1", 1);
  }
  ~Bootstrap() {
    for (const char* v : {"AE_NCCL_ID_FILE", "AE_RANK", "AE_WORLD_SIZE", "AE_NCCL_TIMEOUT"}) unsetenv(v);
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CommNccl, RankZeroPublishesItsIdAndTheOthersReadIt) {
  TempDir dir;
  const std::string file = dir.path("nccl.id");
  {
    Bootstrap env(file, 0, 2);
    std::unique_ptr<Communicator> c = make_communicator(CommKind::nccl);
    EXPECT_EQ(c->kind(), CommKind::nccl);
    EXPECT_EQ(c->rank(), 0);
    EXPECT_EQ(c->size(), 2);
  }
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::file_size(file), 128u);  // sizeof(ncclUniqueId)
  EXPECT_EQ(dir.list(), std::vector<std::string>{"nccl.id"});  // no temporary left beside it
  Bootstrap env(file, 1, 2);
  std::unique_ptr<Communicator> c = make_communicator(CommKind::nccl);
  EXPECT_EQ(c->rank(), 1);
  EXPECT_EQ(c->size(), 2);
}

TEST(CommNccl, MissingIdIsAnErrorAfterTheTimeout) {
  TempDir dir;
  Bootstrap env(dir.path("never.id"), 1, 2);
  const std::string msg = error_of([] { make_communicator(CommKind::nccl); });
  EXPECT_NE(msg.find("rank 1 waited 1 s for rank 0's id in AE_NCCL_ID_FILE="), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
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

}  // namespace
}  // namespace ae
#endif
