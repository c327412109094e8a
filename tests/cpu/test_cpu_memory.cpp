// The CPU tensor allocator caches freed blocks: a training step after the first takes nothing
// from the system, counted by the allocator's own counter of aligned_alloc calls.
#include <gtest/gtest.h>

#include "core/ops.h"
#include "kernels/cpu/cpu.h"
#include "train/trainer.h"
#include "tests/common/step_models.h"

namespace ae {
namespace {

const Device kCpu = Device::cpu();

TEST(CpuMemory, AFreedBlockServesTheNextRequestOfItsSize) {
  const int64_t before = cpu::memory_stats().system_allocs;
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1000, 3}, DType::f32, kCpu);
    first = t.data();
  }
  Tensor again = Tensor::empty({3000}, DType::f32, kCpu);  // the same bytes, another shape
  EXPECT_EQ(again.data(), first);
  EXPECT_LE(cpu::memory_stats().system_allocs, before + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again.data()) % 64, 0u);
}

TEST(CpuMemory, BlocksOverTheCacheLimitGoBackToTheSystem) {
  const cpu::MemoryStats before = cpu::memory_stats();
  { Tensor big = Tensor::empty({(int64_t(80) << 20) / 4}, DType::f32, kCpu); }  // 80 MiB
  const cpu::MemoryStats after = cpu::memory_stats();
  EXPECT_EQ(after.system_allocs, before.system_allocs + 1);
  EXPECT_EQ(after.system_frees, before.system_frees + 1);
  EXPECT_EQ(after.cached_bytes, before.cached_bytes);
}

TEST(CpuMemory, ReleaseGivesTheCacheBack) {
  { Tensor t = Tensor::empty({12345}, DType::f64, kCpu); }
  EXPECT_GT(cpu::memory_stats().cached_bytes, 0u);
  cpu::release_cached_memory();
  EXPECT_EQ(cpu::memory_stats().cached_bytes, 0u);
  Tensor t = Tensor::full({5}, 2.5, DType::f64, kCpu);  // still allocates and works after it
  EXPECT_EQ(t.to_vector(), std::vector<double>(5, 2.5));
}

TEST(CpuMemory, TrainingStepsAfterTheFirstAllocateNothingFromTheSystem) {
  using testing::StepKind;
  for (StepKind kind : testing::kStepKinds)
    for (models::StepMode mode : {models::StepMode::fused, models::StepMode::eager}) {
      std::unique_ptr<models::Model> model =
          testing::make_step_model(kind, {{64, 24, 8}, {64, 32}, 4}, 3, kCpu);
      models::OptimizerConfig oc;
      oc.lr = 0.01;
      models::StepOptions options;
      options.mode = mode;
      models::TrainStep step(*model, oc, options);
      Tensor data = testing::shapes_rows(32 * 6, 5);
      // The eager reference step's running sums reach their steady size on the second step.
      const int warmup = mode == models::StepMode::fused ? 1 : 2;
      for (int i = 0; i < warmup; ++i) step.run(slice(data, 32 * i, 32 * (i + 1)));
      step.take_totals();
      const int64_t after_warmup = cpu::memory_stats().system_allocs;
      for (int i = warmup; i < 6; ++i) step.run(slice(data, 32 * i, 32 * (i + 1)));
      step.take_totals();
      EXPECT_EQ(cpu::memory_stats().system_allocs, after_warmup)
          << testing::step_kind_name(kind) << (mode == models::StepMode::fused ? " fused" : " eager");
    }
}

}  // namespace
}  // namespace ae
