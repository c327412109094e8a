// The NCCL communicator on one GPU (one rank: what a single-GPU machine can check). A sum over one
// rank is the identity, so every bit must come back unchanged, for device buffers of odd sizes
// and for host buffers (staged through the device). Two or more ranks need two or more GPUs.
#if AE_HAVE_NCCL
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/comm.h"
#include "core/device.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/common/step_models.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

// The one-rank communicator the tests share, made on first use and destroyed by the environment's
// TearDown, at the end of RUN_ALL_TESTS: before main's cudaDeviceReset, while NCCL and the CUDA
// runtime are up (a function-local static would be destroyed after both).
std::unique_ptr<Communicator> g_nccl;

class NcclEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { g_nccl.reset(); }
};
[[maybe_unused]] ::testing::Environment* const g_nccl_environment =
    ::testing::AddGlobalTestEnvironment(new NcclEnvironment);

Communicator& nccl_one_rank() {
  if (!g_nccl) g_nccl = make_communicator(CommKind::nccl);
  return *g_nccl;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return ha.nbytes() == hb.nbytes() && std::memcmp(ha.data(), hb.data(), ha.nbytes()) == 0;
}

TEST(CommNcclGpu, OneRankSumLeavesDeviceBuffersUnchanged) {
  Communicator& c = nccl_one_rank();
  ASSERT_EQ(c.kind(), CommKind::nccl);
  ASSERT_EQ(c.size(), 1);
  for (DType dt : {DType::f32, DType::f64}) {
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1001}, (int64_t{1} << 20) + 3}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " n=" << n);
      const Tensor x = Tensor::randn({n}, case_seed(), 0, dt, Device::cuda(0));
      const Tensor before = x.clone();
      c.all_reduce_sum(x.data(), n, dt, Device::cuda(0));
      synchronize(Device::cuda(0));
      EXPECT_TRUE(same_bits(x, before));
    }
  }
}

TEST(CommNcclGpu, HostBuffersAndBroadcastAndBarrier) {
  Communicator& c = nccl_one_rank();
  std::vector<double> host{1.25, -3.5, 7.0};
  c.all_reduce_sum(host.data(), 3, DType::f64, Device::cpu());
  EXPECT_EQ(host, (std::vector<double>{1.25, -3.5, 7.0}));
  const Tensor bytes = Tensor::randn({257}, case_seed(), 0, DType::f32, Device::cuda(0));
  const Tensor before = bytes.clone();
  c.broadcast(bytes.data(), static_cast<int64_t>(bytes.nbytes()), 0, Device::cuda(0));
  synchronize(Device::cuda(0));
  EXPECT_TRUE(same_bits(bytes, before));
  c.barrier();
  // A buffer on another device than the communicator's is refused, not summed.
  if (cuda_device_count() > 1)
    EXPECT_THROW(c.all_reduce_sum(host.data(), 3, DType::f64, Device::cuda(1)), Error);
}

// A rank bootstrapped through an id file removes it once every rank (here: itself) has joined,
// so that a later job never reads it.
TEST(CommNcclGpu, IdFileIsRemovedOnceEveryRankHasJoined) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("ae_nccl_gpu_test_" + std::to_string(getpid()) + ".id");
  setenv("AE_NCCL_ID_FILE", file.c_str(), 1);
  setenv("AE_RANK", "0", 1);
  setenv("AE_WORLD_SIZE", "1", 1);
  std::unique_ptr<Communicator> c = make_communicator(CommKind::nccl);
  for (const char* v : {"AE_NCCL_ID_FILE", "AE_RANK", "AE_WORLD_SIZE"}) unsetenv(v);
  EXPECT_TRUE(std::filesystem::exists(file));
  double x = 2.5;
  c->all_reduce_sum(&x, 1, DType::f64, Device::cpu());
  EXPECT_EQ(x, 2.5);
  EXPECT_FALSE(std::filesystem::exists(file));
  c.reset();
  std::filesystem::remove(file);
}

// A host buffer's sum runs on the device the communicator is bound to, whichever device the
// rank's local rank would pick (two GPUs: bound to cuda:1 by its first collective, local rank 0).
TEST(CommNcclGpu, HostBuffersUseTheBoundDevice) {
  if (cuda_device_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
  std::unique_ptr<Communicator> c = make_communicator(CommKind::nccl);
  const Tensor x = Tensor::randn({33}, case_seed(), 0, DType::f32, Device::cuda(1));
  c->all_reduce_sum(x.data(), 33, DType::f32, Device::cuda(1));
  std::vector<double> host{1.5, -2.0};
  c->all_reduce_sum(host.data(), 2, DType::f64, Device::cpu());
  EXPECT_EQ(host, (std::vector<double>{1.5, -2.0}));
  EXPECT_THROW(c->all_reduce_sum(x.data(), 33, DType::f32, Device::cuda(0)), Error);
}

// A one-rank NCCL run takes the data-parallel path (the gradient sum through ncclAllReduce) and
// must give the plain GPU run's bits, for every model kind.
TEST(CommNcclGpu, OneRankRunEqualsThePlainGpuRun) {
  for (testing::StepKind kind : testing::kStepKinds) {
    SCOPED_TRACE(testing::step_kind_name(kind));
    const std::vector<float> plain = testing::train_step_model(kind, Device::cuda(0), nullptr);
    const std::vector<float> nccl = testing::train_step_model(kind, Device::cuda(0), &nccl_one_rank());
    EXPECT_EQ(plain, nccl);
  }
}

}  // namespace
}  // namespace ae::gputest
#endif
