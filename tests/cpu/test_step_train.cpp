// The training step's modes on the CPU: the fused step (flat optimizer, device-side totals, no
// synchronisation) gives the parameters of the eager reference step bit for bit; graph mode,
// which the CPU cannot capture, falls back to fused with a note; and an emulated graph (each
// replay re-runs the captured step with the host-side values frozen, the device counters moving)
// gives the fused step's parameters and noise bit for bit, for the models that draw noise too.
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "data/dataset.h"
#include "train/trainer.h"
#include "models/vae.h"
#include "tests/common/step_models.h"
#include "tests/common/testing.h"

namespace ae::models {
namespace {

const Device kCpu = Device::cpu();

using ae::testing::shapes_rows;

using Kind = testing::StepKind;
using testing::kStepKinds;
constexpr auto& kKinds = kStepKinds;
inline const char* kind_name(Kind k) { return testing::step_kind_name(k); }

std::unique_ptr<Model> make_model(Kind kind, uint64_t seed = 11) {
  return testing::make_step_model(kind, {{64, 24, 8}, {64, 32}, 4}, seed, kCpu);
}

std::vector<float> all_values(const Model& model) { return testing::all_parameter_values(model); }

struct StepRun {
  std::vector<float> params;
  StepTotals first, second;  // totals of the first and the last steps
  uint64_t generator_offset = 0;
  int64_t steps = 0;
  std::string note;
  bool captured = false;
};

// Steps over batches of 32, 32, 32, 20 (a partial batch), 32, 32, with a learning-rate change
// after the partial batch, totals read twice.
StepRun run_steps(Kind kind, StepOptions options, double clip = 0) {
  std::unique_ptr<Model> model = make_model(kind);
  OptimizerConfig oc;
  oc.lr = 0.01;
  options.clip_norm = clip;
  TrainStep step(*model, oc, options);
  Tensor data = shapes_rows(180, 3);
  const int64_t sizes[] = {32, 32, 32, 20, 32, 32};
  StepRun r;
  int64_t at = 0;
  for (int i = 0; i < 6; ++i) {
    step.run(slice(data, at, at + sizes[i]));
    at += sizes[i];
    if (i == 3) {
      step.set_lr(0.004);
      r.first = step.take_totals();
    }
  }
  r.second = step.take_totals();
  r.params = all_values(*model);
  r.generator_offset = model->generator().offset();
  r.steps = step.optimizer().steps();
  r.note = step.note();
  r.captured = step.graph_captured();
  return r;
}

void expect_same_totals(const StepTotals& a, const StepTotals& b, double rel) {
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.steps, b.steps);
  auto near = [rel](double x, double y, const char* what) {
    EXPECT_NEAR(x, y, rel * std::fabs(y) + 1e-12) << what;
  };
  near(a.mean.total, b.mean.total, "total");
  near(a.mean.reconstruction, b.mean.reconstruction, "reconstruction");
  near(a.mean.penalty, b.mean.penalty, "penalty");
  near(a.mean.kl, b.mean.kl, "kl");
  near(a.grad_norm, b.grad_norm, "grad_norm");
}

TEST(StepTrain, FusedStepGivesTheEagerParameters) {
  for (Kind kind : kKinds) {
    SCOPED_TRACE(kind_name(kind));
    StepRun eager = run_steps(kind, {StepMode::eager});
    StepRun fused = run_steps(kind, {StepMode::fused});
    EXPECT_EQ(fused.params, eager.params);  // bit for bit
    EXPECT_EQ(fused.generator_offset, eager.generator_offset);
    EXPECT_EQ(fused.steps, 6);
    // The totals: the same terms, summed in float64 on the device instead of float32 tensors.
    expect_same_totals(fused.first, eager.first, 1e-6);
    expect_same_totals(fused.second, eager.second, 1e-6);
    EXPECT_EQ(fused.first.samples, 32 * 3 + 20);
    EXPECT_GT(fused.first.mean.total, 0);
    if (kind == Kind::vae) EXPECT_GT(fused.first.mean.kl, 0);
    if (kind == Kind::sparse || kind == Kind::contractive) EXPECT_GT(fused.first.mean.penalty, 0);
  }
}

TEST(StepTrain, FusedClippingFollowsTheEagerStep) {
  // Clipped steps: the global norm is summed in another order, so the parameters agree to
  // float32 rounding rather than bit for bit.
  StepRun eager = run_steps(Kind::denoising, {StepMode::eager}, 0.05);
  StepRun fused = run_steps(Kind::denoising, {StepMode::fused}, 0.05);
  ASSERT_EQ(eager.params.size(), fused.params.size());
  for (size_t i = 0; i < eager.params.size(); ++i)
    ASSERT_NEAR(fused.params[i], eager.params[i], 1e-5 * (1 + std::fabs(eager.params[i]))) << i;
  EXPECT_GT(fused.first.grad_norm, 0.05);  // the bound was binding
  expect_same_totals(fused.first, eager.first, 1e-5);
  expect_same_totals(fused.second, eager.second, 1e-5);
}

TEST(StepTrain, GraphModeOnTheCpuFallsBackToFused) {
  StepRun fused = run_steps(Kind::denoising, {StepMode::fused});
  StepRun graph = run_steps(Kind::denoising, {StepMode::graph});
  EXPECT_FALSE(graph.captured);
  EXPECT_NE(graph.note.find("cpu backend cannot capture graphs"), std::string::npos) << graph.note;
  EXPECT_EQ(graph.note.find('\n'), std::string::npos);  // one line
  EXPECT_EQ(graph.params, fused.params);
  EXPECT_EQ(graph.generator_offset, fused.generator_offset);
}

TEST(StepTrain, EmulatedGraphReplaysGiveTheFusedSteps) {
  // The partial batch runs uncaptured between replays, and the learning rate changes after it:
  // the replays must draw the noise the fused steps draw (the Philox counter) and use the
  // optimizer's current step count and learning rate (the device counters).
  for (Kind kind : kKinds) {
    SCOPED_TRACE(kind_name(kind));
    StepRun fused = run_steps(kind, {StepMode::fused});
    StepRun emulated = run_steps(kind, {StepMode::graph, 0, /*emulate_graph=*/true});
    EXPECT_TRUE(emulated.captured);
    EXPECT_EQ(emulated.note, "");
    EXPECT_EQ(emulated.params, fused.params);
    EXPECT_EQ(emulated.generator_offset, fused.generator_offset);
    EXPECT_EQ(emulated.steps, fused.steps);
    expect_same_totals(emulated.first, fused.first, 0);
    expect_same_totals(emulated.second, fused.second, 0);
  }
}

TEST(StepTrain, NoiseIsNotFrozenIntoTheReplays) {
  // Without the counter a replay would corrupt every batch with the captured step's mask. Feed
  // the same batch repeatedly: the denoising model's reconstruction loss must then differ
  // between replays only through its parameters, and the generator must advance each step.
  std::unique_ptr<Model> model = make_model(Kind::denoising);
  OptimizerConfig oc;
  oc.lr = 0;  // parameters fixed: only the noise changes the loss
  TrainStep step(*model, oc, {StepMode::graph, 0, true});
  const uint64_t start = model->generator().offset();  // past the initial weights' draws
  Tensor x = shapes_rows(32, 5);
  std::vector<double> losses;
  for (int i = 0; i < 5; ++i) {
    step.run(x);
    losses.push_back(step.take_totals().mean.total);
  }
  ASSERT_TRUE(step.graph_captured());
  for (int i = 1; i < 5; ++i)
    for (int j = 0; j < i; ++j) EXPECT_NE(losses[i], losses[j]) << "steps " << j << " and " << i;
  EXPECT_EQ(model->generator().offset() - start, 5u * 32 * 64);  // one mask of 32x64 draws per step
}

TEST(StepTrain, StepDependentBetaKeepsGraphsOff) {
  VaeConfig c;
  c.widths = {64, 32};
  c.latent = 4;
  c.beta = {BetaScheduleKind::warmup, 1.0, 100};
  Vae vae(c, 1, kCpu);
  TrainStep step(vae, OptimizerConfig{}, {StepMode::graph, 0, true});
  EXPECT_EQ(step.mode(), StepMode::fused);
  EXPECT_NE(step.note().find("beta schedule (warmup)"), std::string::npos) << step.note();
}

TEST(StepTrain, TrainerModesAgree) {
  // `note` receives what on_note is called with; it is left alone when there is no note.
  auto fit = [](StepMode mode, std::string* note) {
    std::unique_ptr<Model> model = make_model(Kind::denoising, 2);
    TrainerConfig t;
    t.epochs = 2;
    t.batch_size = 64;
    t.optimizer.lr = 3e-3;
    t.step_mode = mode;
    t.on_note = [note](const std::string& n) { *note = n; };
    TrainResult r = Trainer(t).fit(*model, shapes_rows(300, 4), shapes_rows(100, 5));
    EXPECT_EQ(r.note.empty() ? "none" : r.note, *note);
    EXPECT_EQ(r.history.back().steps, 10);  // 300 samples in batches of 64, twice
    for (const Parameter& p : model->parameters()) EXPECT_FALSE(p.value.grad().defined());
    return std::make_pair(all_values(*model), r.history.back());
  };
  std::string eager_note = "none", fused_note = "none", graph_note = "none";
  auto [eager, eager_report] = fit(StepMode::eager, &eager_note);
  auto [fused, fused_report] = fit(StepMode::fused, &fused_note);
  auto [graph, graph_report] = fit(StepMode::graph, &graph_note);
  EXPECT_EQ(fused, eager);
  EXPECT_EQ(graph, eager);
  EXPECT_EQ(eager_note, "none");  // no note, no call
  EXPECT_NE(graph_note.find("running fused"), std::string::npos) << graph_note;
  EXPECT_NEAR(fused_report.train.total, eager_report.train.total, 1e-6 * eager_report.train.total);
  EXPECT_EQ(fused_report.val.total, eager_report.val.total);
  EXPECT_EQ(parse_step_mode("graph"), StepMode::graph);
  EXPECT_NE(ae::testing::error_of([] { parse_step_mode("lazy"); }).find("eager, fused, graph"),
            std::string::npos);
}

TEST(StepTrain, RejectsBatchesOffTheModel) {
  std::unique_ptr<Model> model = make_model(Kind::plain);
  TrainStep step(*model, OptimizerConfig{}, {});
  EXPECT_NE(ae::testing::error_of([&] { step.run(Tensor::zeros(Shape{4, 64}, DType::f64, kCpu)); })
                .find("float32"),
            std::string::npos);
  EXPECT_NE(ae::testing::error_of([&] { step.run(Tensor::zeros(Shape{64}, DType::f32, kCpu)); })
                .find("(batch, features)"),
            std::string::npos);
}

}  // namespace
}  // namespace ae::models
