// Streaming rows to a GPU (data/stream.h): the rows gathered into the two page-locked host
// buffers and copied asynchronously are the CPU source's rows bit for bit, normalised the same
// way, and a batch already handed out is never overwritten by the gathers of later reads.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/device.h"
#include "data/npy.h"
#include "data/stream.h"
#include "tests/common/io_testing.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

TEST(GpuStream, PageLockedAsyncCopiesGiveTheCpuRows) {
  io::test::TempDir dir;
  const int64_t n = 1003, f = 37;
  std::vector<float> v(static_cast<size_t>(n * f));
  const std::vector<float> noise =
      Tensor::randn({n, f}, case_seed(), 0, DType::f32, Device::cpu()).to_floats();
  for (size_t i = 0; i < v.size(); ++i) v[i] = 3.0f + 2.0f * noise[i];
  io::write_npy(dir.path("d.npy"), {n, f}, v.data());
  auto files = std::make_shared<models::RowFiles>(dir.path("d.npy"));

  models::StreamOptions o;
  o.block_bytes = 8 * f * 4;        // blocks of 8 rows
  o.buffer_bytes = 2 * 5 * 8 * f * 4;  // windows of 5 blocks
  o.seed = 4;
  {
    models::StreamOptions in_order = o;
    in_order.shuffle = false;
    models::StreamedRows pass(files, in_order);
    o.normalizer = models::normalizer_from(models::stream_moments(pass), models::NormKind::standardize);
  }
  models::StreamOptions on_gpu = o;
  on_gpu.device = Device::cuda(0);
  models::StreamedRows cpu(files, o), gpu(files, on_gpu);
  for (int64_t epoch : {0, 1}) {
    cpu.seek_epoch(epoch);
    gpu.seek_epoch(epoch);
    std::vector<Tensor> kept;  // every batch stays alive: later gathers must not reach them
    std::vector<std::vector<float>> expected;
    for (int64_t lo = 0; lo < n; lo += 37) {
      const int64_t hi = std::min(n, lo + 37);
      kept.push_back(gpu.read(lo, hi));
      ASSERT_TRUE(kept.back().device().is_cuda());
      expected.push_back(cpu.read(lo, hi).to_floats());
    }
    for (size_t b = 0; b < kept.size(); ++b)
      ASSERT_EQ(kept[b].to(Device::cpu()).to_floats(), expected[b]) << "epoch " << epoch << ", batch " << b;
  }
}

TEST(GpuStream, HostBuffersAndEventsOfTheBackend) {
  const Backend& be = backend(Device::cuda(0));
  const Stream s = stream(Device::cuda(0));
  const size_t bytes = 3 * 1000 * sizeof(float) + 4;
  void* host = be.host_alloc(bytes);
  void* back = be.host_alloc(bytes);
  std::memset(host, 0x5a, bytes);
  std::memset(back, 0, bytes);
  void* event = be.event_create(s);
  const Tensor device =
      Tensor::empty({static_cast<int64_t>((bytes + 7) / 8)}, DType::f64, Device::cuda(0));
  be.copy(device.data(), host, bytes, CopyKind::host_to_device, s);
  be.copy(back, device.data(), bytes, CopyKind::device_to_host, s);
  be.event_record(event, s);
  be.event_synchronize(event);
  EXPECT_EQ(std::memcmp(host, back, bytes), 0);
  be.event_destroy(event);
  be.host_free(host);
  be.host_free(back);
}

// An event is made on its stream's device, whichever device is current: recording it on a stream
// of another device would fail (two GPUs: cuda:0 current, the stream and event on cuda:1).
TEST(GpuStream, EventsAreMadeOnTheirStreamsDevice) {
  if (cuda_device_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
  const Backend& be = backend(Device::cuda(1));
  const Stream s1 = stream(Device::cuda(1));
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  void* event = be.event_create(s1);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  be.event_record(event, s1);
  be.event_synchronize(event);
  be.event_destroy(event);
}

}  // namespace
}  // namespace ae::gputest
