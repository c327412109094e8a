// The step entries of the CUDA table against the CPU twins, and the training step on the GPU:
// a captured-and-replayed CUDA graph (and an emulated one, which replays without capturing)
// follows the fused step, and the fused step the CPU, with Adam, AdamW and SGD with momentum;
// replays draw fresh noise and keep memory flat; TF32 GEMMs stay within their bound.
#include <cuda_runtime.h>

#include <cmath>
#include <memory>

#include "core/autograd.h"
#include "core/ops.h"
#include "data/dataset.h"
#include "train/trainer.h"
#include "models/vae.h"
#include "tests/common/step_models.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

using models::StepMode;

// --- the entries --------------------------------------------------------------------------------

template <class T>
void check_indirect_updates(int64_t n, int64_t pad) {
  SCOPED_TRACE(::testing::Message() << dtype_name(dtype_of<T>()) << " n=" << n << " pad=" << pad);
  const uint64_t seed = case_seed();
  const std::vector<T> p0 = uniform<T>(n, seed, -1, 1), g = uniform<T>(n, seed + 1, -1, 1),
                       m0 = uniform<T>(n, seed + 2, -0.1, 0.1),
                       v0 = uniform<T>(n, seed + 3, 0, 0.01);
  const double lr = 0.02;
  const uint64_t step = 9;
  AdamParams a;
  a.weight_decay = 0.05;
  a.decoupled = true;
  std::vector<T> p = p0, m = m0, v = v0;
  cpu().adam_update_indirect(dtype_of<T>(), p.data(), g.data(), m.data(), v.data(), n, a, &lr,
                             &step, nullptr);
  DeviceArray<T> dp(p0, pad), dg(g, pad), dm(m0, pad), dv(v0, pad);
  DeviceArray<double> dlr(std::vector<double>{lr});
  DeviceArray<uint64_t> dstep(std::vector<uint64_t>{step});
  gpu().adam_update_indirect(dtype_of<T>(), dp.data(), dg.data(), dm.data(), dv.data(), n, a,
                             dlr.data(), dstep.data(), gpu_stream());
  expect_close(dp.download(), p, elementwise_tol<T>(), "adam p");
  expect_close(dm.download(), m, elementwise_tol<T>(), "adam m");
  expect_close(dv.download(), v, elementwise_tol<T>(), "adam v");

  SgdParams s{999, 0.9, 0.01, true};  // lr comes from memory
  std::vector<T> sp = p0, sm = m0;
  cpu().sgd_update_indirect(dtype_of<T>(), sp.data(), g.data(), sm.data(), n, s, &lr, nullptr);
  DeviceArray<T> dsp(p0, pad), dsm(m0, pad);
  gpu().sgd_update_indirect(dtype_of<T>(), dsp.data(), dg.data(), dsm.data(), n, s, dlr.data(),
                            gpu_stream());
  expect_close(dsp.download(), sp, elementwise_tol<T>(), "sgd p");
  expect_close(dsm.download(), sm, elementwise_tol<T>(), "sgd velocity");

  // Plain SGD keeps no velocity: a null pointer, never read or written.
  SgdParams plain{999, 0, 0.01, false};
  std::vector<T> pp = p0;
  cpu().sgd_update_indirect(dtype_of<T>(), pp.data(), g.data(), nullptr, n, plain, &lr, nullptr);
  DeviceArray<T> dpp(p0, pad);
  gpu().sgd_update_indirect(dtype_of<T>(), dpp.data(), dg.data(), nullptr, n, plain, dlr.data(),
                            gpu_stream());
  expect_close(dpp.download(), pp, elementwise_tol<T>(), "sgd p, no velocity");
}

TEST(GpuStepBackend, IndirectOptimizerUpdates) {
  for (int64_t n : {1, 7, 4096, 100003})
    for (int64_t pad : {0, 1}) {
      check_indirect_updates<float>(n, pad);
      check_indirect_updates<double>(n, pad);
    }
}

TEST(GpuStepBackend, CounterAddMatchesTheCpu) {
  const uint64_t start = 5, adds[] = {11, uint64_t{1} << 40, 0, (uint64_t{1} << 63) - 1};
  uint64_t host = start;
  DeviceArray<uint64_t> counter(std::vector<uint64_t>{start});
  for (uint64_t a : adds) {
    cpu().counter_add(&host, a, nullptr);
    gpu().counter_add(counter.data(), a, gpu_stream());
    EXPECT_EQ(counter.download()[0], host) << "after adding " << a;
  }
  EXPECT_EQ(host, start + 11 + (uint64_t{1} << 40) + (uint64_t{1} << 63) - 1);
}

template <class T>
void check_accumulate(int n) {
  SCOPED_TRACE(::testing::Message() << dtype_name(dtype_of<T>()) << " n=" << n);
  const uint64_t seed = case_seed();
  const std::vector<T> terms = uniform<T>(kMaxAccumulated, seed, -3, 3);
  const std::vector<double> acc0 = uniform<double>(kMaxAccumulated, seed + 1, -1, 1);
  DeviceArray<T> d_terms(terms);
  // The terms in another order than their storage, as a step's loss terms come.
  const void* host_ptrs[kMaxAccumulated];
  const void* dev_ptrs[kMaxAccumulated];
  for (int i = 0; i < n; ++i) {
    const int at = (i * 5 + 3) % kMaxAccumulated;
    host_ptrs[i] = terms.data() + at;
    dev_ptrs[i] = d_terms.data() + at;
  }
  std::vector<double> want = acc0;
  cpu().accumulate_scalars(dtype_of<T>(), host_ptrs, n, 0.375, want.data(), nullptr);
  DeviceArray<double> acc(acc0);
  gpu().accumulate_scalars(dtype_of<T>(), dev_ptrs, n, 0.375, acc.data(), gpu_stream());
  // One product and one sum per element in float64; nvcc contracts them into one fma, the CPU
  // rounds twice: they differ by at most the product's rounding, 2^-53 |weight * term|.
  const std::vector<double> got = acc.download();
  for (int i = 0; i < kMaxAccumulated; ++i) {
    const int at = (i * 5 + 3) % kMaxAccumulated;
    const double bound = i < n ? std::ldexp(std::fabs(0.375 * double(terms[at])), -53) : 0.0;
    EXPECT_LE(std::fabs(got[i] - want[i]), bound) << "acc[" << i << "]";
  }
  if (n == 0) EXPECT_EQ(got, acc0);  // nothing added, nothing written
}

TEST(GpuStepBackend, AccumulateScalarsMatchesTheCpu) {
  for (int n : {0, 1, 4, kMaxAccumulated}) {
    check_accumulate<float>(n);
    check_accumulate<double>(n);
  }
  // And a hand-computed case.
  DeviceArray<float> terms(std::vector<float>{1.5f, -2.0f, 0.25f, 3.0f});
  const void* values[4] = {terms.data() + 3, terms.data(), terms.data() + 1, terms.data() + 2};
  DeviceArray<double> acc(std::vector<double>{1, 2, 3, 4});
  gpu().accumulate_scalars(DType::f32, values, 4, 4.0, acc.data(), gpu_stream());
  EXPECT_EQ(acc.download(), (std::vector<double>{1 + 12.0, 2 + 6.0, 3 - 8.0, 4 + 1.0}));
}

TEST(GpuStepBackend, RandOffsetCounterMovesEveryDraw) {
  const int64_t n = 100001;
  const uint64_t seed = case_seed(), offset = 12, moved = 4 * 1234567;
  DeviceArray<uint64_t> counter(std::vector<uint64_t>{moved});
  DeviceArray<float> plain_u(n), plain_z(n), counted_u(n), counted_z(n);
  gpu().rand_uniform(DType::f32, plain_u.data(), n, seed, offset + moved, gpu_stream());
  gpu().rand_normal(DType::f32, plain_z.data(), n, seed, offset + moved, gpu_stream());
  gpu().set_rand_offset_counter(0, counter.data());
  gpu().rand_uniform(DType::f32, counted_u.data(), n, seed, offset, gpu_stream());
  gpu().rand_normal(DType::f32, counted_z.data(), n, seed, offset, gpu_stream());
  gpu().set_rand_offset_counter(0, nullptr);
  EXPECT_EQ(counted_u.download(), plain_u.download());  // the same kernel, the same bits
  EXPECT_EQ(counted_z.download(), plain_z.download());
  // And the CPU twin with its own counter draws the same uniforms.
  uint64_t host_counter = moved;
  std::vector<float> cpu_u(n);
  cpu().set_rand_offset_counter(0, &host_counter);
  cpu().rand_uniform(DType::f32, cpu_u.data(), n, seed, offset, nullptr);
  cpu().set_rand_offset_counter(0, nullptr);
  EXPECT_EQ(counted_u.download(), cpu_u);
}

// The draws of reparameterize_forward / _backward move with the counter too: with the counter at
// `moved`, offset o gives what offset o + moved gives without it.
TEST(GpuStepBackend, RandOffsetCounterMovesReparameterize) {
  const int64_t rows = 33, cols = 17, n = rows * cols;
  const uint64_t seed = case_seed(), offset = 6, moved = 4 * 1001 + 2;
  const std::vector<float> mu = uniform<float>(n, seed, -2, 2), lv = uniform<float>(n, seed + 1, -3, 1),
                           dz = uniform<float>(n, seed + 2, -1, 1);
  DeviceArray<float> d_mu(mu), d_lv(lv), d_dz(dz);
  auto run = [&](uint64_t at, const uint64_t* counter) {
    DeviceArray<float> z(n), kl(1), dmu(n), dlv(n);
    gpu().set_rand_offset_counter(0, counter);
    gpu().reparameterize_forward(DType::f32, d_mu.data(), d_lv.data(), z.data(), kl.data(), rows,
                                 cols, seed, at, gpu_stream());
    gpu().reparameterize_backward(DType::f32, d_mu.data(), d_lv.data(), d_dz.data(), nullptr,
                                  rows, cols, seed, at, dmu.data(), dlv.data(), gpu_stream());
    gpu().set_rand_offset_counter(0, nullptr);
    return std::make_pair(z.download(), dlv.download());
  };
  DeviceArray<uint64_t> counter(std::vector<uint64_t>{moved});
  const auto [counted_z, counted_dlv] = run(offset, counter.data());
  const auto [plain_z, plain_dlv] = run(offset + moved, nullptr);
  EXPECT_EQ(counted_z, plain_z);  // the same kernel, the same bits
  EXPECT_EQ(counted_dlv, plain_dlv);
  const auto [unmoved_z, unmoved_dlv] = run(offset, nullptr);
  EXPECT_NE(counted_z, unmoved_z);  // the counter did move the draws
  // And the CPU twin with its own counter.
  uint64_t host_counter = moved;
  std::vector<float> z(n), kl(1);
  cpu().set_rand_offset_counter(0, &host_counter);
  cpu().reparameterize_forward(DType::f32, mu.data(), lv.data(), z.data(), kl.data(), rows, cols,
                               seed, offset, nullptr);
  cpu().set_rand_offset_counter(0, nullptr);
  expect_close(counted_z, z, 1e-5, "reparameterize z with the counter, gpu vs cpu");
}

TEST(GpuStepBackend, Tf32GemmStaysWithinItsBound) {
  const int64_t m = 256, n = 384, k = 512;
  const uint64_t seed = case_seed();
  const std::vector<float> a = uniform<float>(m * k, seed, -1, 1), b = uniform<float>(k * n, seed + 1, -1, 1);
  std::vector<float> want(m * n);
  cpu().gemm(DType::f32, false, false, m, n, k, 1, a.data(), b.data(), 0, want.data(), nullptr);
  DeviceArray<float> da(a), db(b), dc(m * n);
  set_matmul_precision(Device::cuda(0), MatmulPrecision::tf32);
  gpu().gemm(DType::f32, false, false, m, n, k, 1, da.data(), db.data(), 0, dc.data(), gpu_stream());
  const std::vector<float> tf32 = dc.download();
  set_matmul_precision(Device::cuda(0), MatmulPrecision::float32);
  gpu().gemm(DType::f32, false, false, m, n, k, 1, da.data(), db.data(), 0, dc.data(), gpu_stream());
  const std::vector<float> fp32 = dc.download();
  expect_close(tf32, want, 5e-3, "tf32 gemm");
  expect_close(fp32, want, gemm_tol<float>(), "float32 gemm");
  // TF32 really was on: 10-bit mantissas leave errors far above float32's.
  EXPECT_FALSE(ae::testing::relative_error_within(std::span<const float>(tf32),
                                                  std::span<const float>(want), 1e-5));
}

// --- the training step ----------------------------------------------------------------------------

using Kind = ae::testing::StepKind;
constexpr auto& kKinds = ae::testing::kStepKinds;
inline const char* kind_name(Kind k) { return ae::testing::step_kind_name(k); }

std::unique_ptr<models::Model> make_model(Kind kind, Device d) {
  return ae::testing::make_step_model(kind, {{64, 40, 12}, {64, 48}, 6}, 21, d);
}

std::vector<float> all_values(const models::Model& model) {
  return ae::testing::all_parameter_values(model);
}

struct StepRun {
  std::vector<float> params;
  std::vector<double> totals;  // the mean total loss at each read
  uint64_t offset = 0;
  int64_t steps = 0;
  bool captured = false;
  std::string note;
};

// 12 steps of batches of 64, with two partial batches (40, then 24) among them, a learning-rate
// change, gradient clipping, and the totals read every 4 steps.
StepRun run_steps(Kind kind, Device d, models::StepOptions options,
                  models::OptimizerKind optimizer = models::OptimizerKind::adam) {
  std::unique_ptr<models::Model> model = make_model(kind, d);
  models::OptimizerConfig oc;
  oc.kind = optimizer;
  oc.lr = optimizer == models::OptimizerKind::sgd ? 0.05 : 0.01;
  oc.momentum = optimizer == models::OptimizerKind::sgd ? 0.9 : 0;
  oc.weight_decay = optimizer == models::OptimizerKind::adamw ? 0.01 : 0;
  options.clip_norm = 0.5;
  models::TrainStep step(*model, oc, options);
  models::ShapesOptions so;
  so.samples = 64 * 12;
  so.seed = 8;
  Tensor data = models::make_shapes(so).x.to(d);
  const int64_t sizes[] = {64, 64, 64, 40, 64, 64, 64, 64, 24, 64, 64, 64};
  StepRun r;
  int64_t at = 0;
  for (int i = 0; i < 12; ++i) {
    step.run(slice(data, at, at + sizes[i]));
    at += sizes[i];
    if (i == 5) step.set_lr(oc.lr * 0.3);
    if (i % 4 == 3) r.totals.push_back(step.take_totals().mean.total);
  }
  r.params = all_values(*model);
  r.offset = model->generator().offset();
  r.steps = step.optimizer().steps();
  r.captured = step.graph_captured();
  r.note = step.note();
  return r;
}

// What is compared, and why. The GPU and the CPU (and a graph replay, where cuBLAS may pick
// another GEMM algorithm under capture) differ by rounding in every gradient. SGD's update is
// linear in the gradient, so parameters stay within rounding-sized bounds of each other. Adam's
// (and AdamW's) is not: its first step moves each parameter by about ±lr by the sign of the
// gradient, and a component within rounding of zero can take opposite signs on the two sides
// (one flip here is 0.02, far above any rounding bound). Under Adam and AdamW the losses, which
// such a flip moves by rounding-sized amounts, are compared instead; their parameters are
// compared only where the kernels and their order are the same (a graph replay of the fused step).
void check_graph_step(Kind kind, models::OptimizerKind optimizer) {
  SCOPED_TRACE(::testing::Message() << kind_name(kind) << ", " << models::optimizer_name(optimizer));
  const Device cuda = Device::cuda(0), cpu_dev = Device::cpu();
  const bool linear = optimizer == models::OptimizerKind::sgd;
  StepRun cpu_fused = run_steps(kind, cpu_dev, {StepMode::fused}, optimizer);
  StepRun fused = run_steps(kind, cuda, {StepMode::fused}, optimizer);
  StepRun graph = run_steps(kind, cuda, {StepMode::graph}, optimizer);
  StepRun emulated = run_steps(kind, cuda, {StepMode::graph, 0, /*emulate_graph=*/true}, optimizer);
  ASSERT_TRUE(graph.captured) << graph.note;
  EXPECT_EQ(graph.note, "");
  EXPECT_EQ(graph.offset, fused.offset);
  EXPECT_EQ(graph.steps, 12);
  EXPECT_EQ(emulated.offset, fused.offset);
  EXPECT_EQ(emulated.steps, 12);
  EXPECT_TRUE(emulated.captured);
  EXPECT_EQ(emulated.note, "");
  // The emulation runs the step's kernels in the fused step's order without capturing, reading
  // the learning rate, step count and noise offsets from the device counters as a replay does.
  expect_close(emulated.totals, fused.totals, 1e-5, "emulated graph vs fused losses");
  if (linear) expect_close(emulated.params, fused.params, 1e-5, "emulated graph vs fused parameters");
  // A replay runs the fused step's kernels in the fused step's order (the bound leaves room
  // for cuBLAS choosing another algorithm under capture; frozen noise would be far above it).
  expect_close(graph.totals, fused.totals, 1e-5, "graph vs fused losses");
  if (linear) expect_close(graph.params, fused.params, 1e-5, "graph vs fused parameters");
  // The GPU against the CPU reference, 12 steps on: GEMM accumulation order and the normals'
  // last bits (kernels/cpu/random.h) apart, the same trajectory.
  expect_close(fused.totals, cpu_fused.totals, 1e-4, "gpu vs cpu losses");
  if (linear) expect_close(fused.params, cpu_fused.params, 1e-4, "gpu vs cpu parameters");
}

TEST(GpuStepTrain, GraphReplaysGiveTheFusedStepsAndTheCpu) {
  for (Kind kind : kKinds) check_graph_step(kind, models::OptimizerKind::adam);
}

TEST(GpuStepTrain, GraphStepWithSgdMomentumFollowsTheCpuParameters) {
  for (Kind kind : kKinds) check_graph_step(kind, models::OptimizerKind::sgd);
}

TEST(GpuStepTrain, GraphStepWithAdamW) {
  for (Kind kind : kKinds) check_graph_step(kind, models::OptimizerKind::adamw);
}

TEST(GpuStepTrain, ReplaysDrawFreshNoiseAndKeepMemoryFlat) {
  const Device cuda = Device::cuda(0);
  std::unique_ptr<models::Model> model = make_model(Kind::denoising, cuda);
  models::OptimizerConfig oc;
  oc.lr = 0;  // parameters fixed: only the noise moves the loss
  models::TrainStep step(*model, oc, {StepMode::graph});
  models::ShapesOptions so;
  so.samples = 64;
  Tensor x = models::make_shapes(so).x.to(cuda);
  cudaMemPool_t pool = nullptr;
  ASSERT_EQ(cudaDeviceGetDefaultMemPool(&pool, 0), cudaSuccess);
  std::vector<double> losses;
  uint64_t used_after_first = 0, graph_used_after_first = 0;
  for (int i = 0; i < 200; ++i) {
    step.run(x);
    if (i < 6) losses.push_back(step.take_totals().mean.total);
    if (i == 5) {
      synchronize(cuda);
      ASSERT_EQ(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used_after_first),
                cudaSuccess);
      ASSERT_EQ(cudaDeviceGetGraphMemAttribute(0, cudaGraphMemAttrUsedMemCurrent,
                                               &graph_used_after_first),
                cudaSuccess);
    }
  }
  ASSERT_TRUE(step.graph_captured()) << step.note();
  for (size_t i = 1; i < losses.size(); ++i)
    for (size_t j = 0; j < i; ++j) EXPECT_NE(losses[i], losses[j]) << "steps " << j << ", " << i;
  synchronize(cuda);
  uint64_t used = 0, graph_used = 0;
  ASSERT_EQ(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetGraphMemAttribute(0, cudaGraphMemAttrUsedMemCurrent, &graph_used),
            cudaSuccess);
  EXPECT_EQ(used, used_after_first);
  EXPECT_EQ(graph_used, graph_used_after_first);
}

TEST(GpuStepTrain, TrainerInGraphModeFollowsFused) {
  // Whole epochs: shuffled batches with a partial last one, validation between epochs, a
  // learning-rate schedule and the best epoch's parameters restored at the end.
  auto fit = [](StepMode mode, std::string* note) {
    std::unique_ptr<models::Model> model = make_model(Kind::denoising, Device::cuda(0));
    models::TrainerConfig t;
    t.epochs = 3;
    t.batch_size = 64;
    t.optimizer.lr = 3e-3;
    t.lr_schedule = {models::LrScheduleKind::step, 1, 0.5};
    t.step_mode = mode;
    models::ShapesOptions train, val;
    train.samples = 600;
    train.seed = 1;
    val.samples = 200;
    val.seed = 2;
    models::TrainResult r =
        models::Trainer(t).fit(*model, models::make_shapes(train).x, models::make_shapes(val).x);
    *note = r.note;
    std::vector<double> val_losses;
    for (const models::EpochReport& e : r.history) val_losses.push_back(e.val.total);
    return std::make_pair(all_values(*model), val_losses);
  };
  std::string fused_note, graph_note;
  auto [fused, fused_val] = fit(StepMode::fused, &fused_note);
  auto [graph, graph_val] = fit(StepMode::graph, &graph_note);
  EXPECT_EQ(graph_note, "");
  expect_close(graph, fused, 1e-5, "parameters after 3 epochs");
  expect_close(graph_val, fused_val, 1e-5, "validation losses");
}

TEST(GpuStepTrain, AnomalyDetectionKeepsGraphsOff) {
  set_anomaly_detection(true);
  std::unique_ptr<models::Model> model = make_model(Kind::plain, Device::cuda(0));
  models::TrainStep step(*model, models::OptimizerConfig{}, {StepMode::graph});
  set_anomaly_detection(false);
  EXPECT_EQ(step.mode(), StepMode::fused);
  EXPECT_NE(step.note().find("anomaly detection"), std::string::npos) << step.note();
}

}  // namespace
}  // namespace ae::gputest
