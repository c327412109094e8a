// The flat optimizer layout against the per-parameter one (bit-identical on the CPU), the in-place
// gradient accumulation it relies on, and the CPU twins of the step entries of the Backend
// (indirect optimizer updates, counters, loss accumulators, the Philox offset counter).
#include <cmath>
#include <cstring>

#include "core/autograd.h"
#include "core/ops.h"
#include "kernels/cpu/random.h"
#include "models/autoencoder.h"
#include "data/dataset.h"
#include "train/optim.h"
#include "tests/common/step_models.h"
#include "tests/common/testing.h"

namespace ae::models {
namespace {

const Device kCpu = Device::cpu();

using ae::testing::shapes_rows;

AutoencoderConfig small_ae(bool tied) {
  AutoencoderConfig c;
  c.widths = {64, 24, 8};
  c.tied = tied;  // tied: one weight feeds two layers, so its gradient is a sum
  c.penalty = CodePenalty::kl_sparsity;
  c.penalty_weight = 0.3;
  return c;
}

std::vector<std::vector<float>> values(const Autoencoder& model) {
  std::vector<std::vector<float>> out;
  for (const Parameter& p : model.parameters()) out.push_back(p.value.to_floats());
  return out;
}

// `steps` optimizer steps of a fresh model on shapes batches, in the given layout.
std::vector<std::vector<float>> train(OptimizerConfig config, bool flat, bool tied, int steps) {
  Autoencoder model(small_ae(tied), 7, kCpu);
  std::vector<Tensor> params;
  for (const Parameter& p : model.parameters()) params.push_back(p.value);
  config.flat = flat;
  Optimizer opt(params, config);
  for (int s = 0; s < steps; ++s) {
    Losses l = model.loss(shapes_rows(32, 100 + s), LossContext{true, opt.steps()});
    opt.zero_grad();
    l.total.backward();
    opt.step();
    if (s == steps / 2) opt.set_lr(config.lr * 0.5);  // a learning-rate change on the way
  }
  return values(model);
}

OptimizerConfig optimizer(OptimizerKind kind, double momentum = 0, bool nesterov = false) {
  OptimizerConfig c;
  c.kind = kind;
  c.lr = 0.01;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = 0.01;
  return c;
}

TEST(StepFlatOptimizer, BitIdenticalToPerParameter) {
  const struct {
    const char* name;
    OptimizerConfig config;
  } cases[] = {{"adam", optimizer(OptimizerKind::adam)},
               {"adamw", optimizer(OptimizerKind::adamw)},
               {"sgd", optimizer(OptimizerKind::sgd)},
               {"sgd momentum", optimizer(OptimizerKind::sgd, 0.9)},
               {"sgd nesterov", optimizer(OptimizerKind::sgd, 0.9, true)}};
  for (const auto& c : cases) {
    for (bool tied : {false, true}) {
      SCOPED_TRACE(::testing::Message() << c.name << (tied ? ", tied" : ", untied"));
      std::vector<std::vector<float>> per_parameter = train(c.config, false, tied, 6);
      std::vector<std::vector<float>> flat = train(c.config, true, tied, 6);
      std::vector<std::vector<float>> start = values(Autoencoder(small_ae(tied), 7, kCpu));
      ASSERT_EQ(per_parameter.size(), flat.size());
      for (size_t i = 0; i < flat.size(); ++i) {
        EXPECT_EQ(flat[i], per_parameter[i]) << "parameter " << i;
        EXPECT_NE(flat[i], start[i]) << "parameter " << i << " never moved";
      }
    }
  }
}

TEST(StepFlatOptimizer, ParametersAndGradientsAreViewsOfTheBuffers) {
  Autoencoder model(small_ae(false), 3, kCpu);
  std::vector<Tensor> params;
  for (const Parameter& p : model.parameters()) params.push_back(p.value);
  const std::vector<std::vector<float>> before = values(model);
  OptimizerConfig c = optimizer(OptimizerKind::adam);
  c.flat = true;
  {
    Optimizer opt(params, c);
    EXPECT_EQ(values(model), before);  // moving into the buffer keeps every value
    const char* base = static_cast<const char*>(opt.flat_values().data());
    const char* gbase = static_cast<const char*>(opt.flat_grads().data());
    const size_t total = opt.flat_values().nbytes();
    for (const Tensor& p : params) {
      const char* at = static_cast<const char*>(p.data());
      EXPECT_TRUE(at >= base && at + p.nbytes() <= base + total) << p.str();
      EXPECT_EQ((at - base) % 256, 0) << "slots start on 256-byte boundaries of the buffer";
      // The gradient is a view at the same place of the gradient buffer, zero until backward.
      ASSERT_TRUE(p.grad().defined());
      EXPECT_EQ(static_cast<const char*>(p.grad().data()) - gbase, at - base);
    }
    Losses l = model.loss(shapes_rows(16, 1), LossContext{true, 0});
    l.total.backward();
    // backward() added into the buffer: the gradients are still its views, and not all zero.
    double sum_sq = 0;
    for (const Tensor& p : params) {
      EXPECT_EQ(static_cast<const char*>(p.grad().data()) - gbase,
                static_cast<const char*>(p.data()) - base);
      for (double g : p.grad().to_vector()) sum_sq += g * g;
    }
    EXPECT_GT(sum_sq, 0);
    EXPECT_NEAR(sum_sq, sum(square(opt.flat_grads())).item(), 1e-6 * sum_sq);
    opt.zero_grad();
    for (double g : opt.flat_grads().to_vector()) ASSERT_EQ(g, 0);
  }
  // Without the optimizer the parameters have no gradient again, and backward() rebinds it.
  for (const Tensor& p : params) EXPECT_FALSE(p.grad().defined());
  Losses l = model.loss(shapes_rows(16, 1), LossContext{true, 0});
  l.total.backward();
  for (const Tensor& p : params) EXPECT_TRUE(p.grad().defined());
}

TEST(StepFlatOptimizer, ReboundStateAndGradientsAreCopiedIn) {
  // A checkpoint restore assigns new moment tensors; clip_grad_norm rebinds gradients. The flat
  // step copies them into the buffers and computes what the per-parameter step computes.
  auto run = [](bool flat) {
    Autoencoder model(small_ae(false), 5, kCpu);
    std::vector<Tensor> params;
    for (const Parameter& p : model.parameters()) params.push_back(p.value);
    OptimizerConfig c = optimizer(OptimizerKind::adam);
    c.flat = flat;
    Optimizer opt(params, c);
    for (size_t i = 0; i < params.size(); ++i) {
      const Shape& s = params[i].shape();
      opt.state()[i].m = Tensor::full(s, 0.01 * static_cast<double>(i + 1), DType::f32, kCpu);
      opt.state()[i].v = Tensor::full(s, 0.002, DType::f32, kCpu);
    }
    opt.set_steps(4);
    Losses l = model.loss(shapes_rows(32, 2), LossContext{true, opt.steps()});
    opt.zero_grad();
    l.total.backward();
    clip_grad_norm(params, 0.05);
    opt.step();
    return values(model);
  };
  EXPECT_EQ(run(true), run(false));
}

TEST(StepFlatOptimizer, DeviceClippingMatchesTheHostFormula) {
  auto grads_after_clip = [](bool flat, double max_norm, double* norm) {
    Autoencoder model(small_ae(true), 9, kCpu);
    std::vector<Tensor> params;
    for (const Parameter& p : model.parameters()) params.push_back(p.value);
    OptimizerConfig c = optimizer(OptimizerKind::adam);
    c.flat = flat;
    Optimizer opt(params, c);
    model.loss(shapes_rows(32, 3), LossContext{true, 0}).total.backward();
    *norm = flat ? opt.clip_grad_norm_on_device(max_norm).item() : clip_grad_norm(params, max_norm);
    std::vector<double> all;
    for (const Tensor& p : params) {
      std::vector<double> g = p.grad().to_vector();
      all.insert(all.end(), g.begin(), g.end());
    }
    return all;
  };
  for (double max_norm : {1e-3, 1e3}) {  // clipped, and left alone
    double host_norm = 0, device_norm = 0;
    std::vector<double> host = grads_after_clip(false, max_norm, &host_norm);
    std::vector<double> device = grads_after_clip(true, max_norm, &device_norm);
    EXPECT_NEAR(device_norm, host_norm, 1e-6 * host_norm);
    ASSERT_EQ(host.size(), device.size());
    for (size_t i = 0; i < host.size(); ++i)
      ASSERT_NEAR(device[i], host[i], 1e-6 * std::fabs(host[i]) + 1e-12) << "element " << i;
  }
}

TEST(StepFlatOptimizer, RejectsMixedParameters) {
  Tensor a = Tensor::zeros(Shape{3}, DType::f32, kCpu).requires_grad_();
  Tensor b = Tensor::zeros(Shape{3}, DType::f64, kCpu).requires_grad_();
  OptimizerConfig c;
  c.flat = true;
  EXPECT_NE(ae::testing::error_of([&] { Optimizer({a, b}, c); }).find("one dtype"),
            std::string::npos);
  EXPECT_NE(ae::testing::error_of([&] { Optimizer({a, a}, c); }).find("listed twice"),
            std::string::npos);
}

// --- autograd: in-place accumulation into registered storage ---------------------------------

TEST(StepAutograd, RegisteredGradientStorageAccumulatesInPlace) {
  Tensor buffer = Tensor::zeros(Shape{2}, DType::f64, kCpu);
  Tensor w = Tensor::from_host(std::vector<double>{1, 2}, Shape{2}, kCpu).requires_grad_();
  w.impl()->grad = buffer.impl_ptr();
  register_grad_storage(buffer.impl()->storage.get());
  Tensor c = Tensor::from_host(std::vector<double>{3, 4}, Shape{2}, kCpu);
  sum(w * c).backward();
  sum(w * w).backward();  // adds 2w
  EXPECT_EQ(w.grad().impl(), buffer.impl());  // still the buffer
  EXPECT_EQ(buffer.to_vector(), (std::vector<double>{3 + 2, 4 + 4}));
  unregister_grad_storage(buffer.impl()->storage.get());
  // Unregistered, a second backward rebinds .grad instead of writing into the buffer.
  sum(w * c).backward();
  EXPECT_NE(w.grad().impl(), buffer.impl());
  EXPECT_EQ(buffer.to_vector(), (std::vector<double>{5, 8}));
  EXPECT_EQ(w.grad().to_vector(), (std::vector<double>{8, 12}));
}

// A linear layer's weight gradient lands in a registered buffer by the GEMM itself (beta = 1):
// added to what the buffer held, equal to the gradient the usual path computes; a weight used
// twice (tied: the encoder's W and, transposed, the decoder's) goes the usual way, its two
// gradients summed first, and ends with the same sum.
TEST(StepAutograd, LinearAddsItsWeightGradientIntoTheRegisteredBuffer) {
  const Shape ws{3, 5};
  Tensor x = Tensor::randn(Shape{4, 5}, 1, 0, DType::f64, kCpu);
  Tensor w = Tensor::randn(ws, 2, 0, DType::f64, kCpu).requires_grad_();
  Tensor b = Tensor::randn(Shape{3}, 3, 0, DType::f64, kCpu).requires_grad_();
  auto loss = [&](bool tied) {
    Tensor h = linear(x, w, b, UnaryOp::sigmoid, {}, true);
    return tied ? sum(square(linear(h, w, Tensor(), UnaryOp::identity, {}, false)))
                : sum(square(h));
  };
  for (bool tied : {false, true}) {
    w.impl()->grad = nullptr;
    loss(tied).backward();  // the usual path: .grad is a new tensor
    const std::vector<double> usual = w.grad().to_vector();
    Tensor buffer = Tensor::full(ws, 0.25, DType::f64, kCpu);
    w.impl()->grad = buffer.impl_ptr();
    register_grad_storage(buffer.impl()->storage.get());
    loss(tied).backward();
    unregister_grad_storage(buffer.impl()->storage.get());
    EXPECT_EQ(w.grad().impl(), buffer.impl());
    const std::vector<double> got = buffer.to_vector();
    ASSERT_EQ(got.size(), usual.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], 0.25 + usual[i], 1e-12) << (tied ? "tied " : "") << "element " << i;
  }
  w.impl()->grad = nullptr;
}

// --- the CPU twins of the step entries ---------------------------------------------------------

TEST(StepBackend, IndirectUpdatesEqualTheByValueOnes) {
  const Backend& be = cpu_backend();
  const int64_t n = 37;
  std::vector<double> p0(n), g(n), m0(n), v0(n);
  for (int64_t i = 0; i < n; ++i) {
    p0[i] = std::sin(1.0 + i);
    g[i] = std::cos(2.0 * i);
    m0[i] = 0.1 * std::sin(3.0 * i);
    v0[i] = 0.01 * (1 + std::cos(i));
  }
  const double lr = 0.03;
  for (bool decoupled : {false, true}) {
    const uint64_t step = 7;
    AdamParams by_value;
    by_value.lr = lr;
    by_value.weight_decay = 0.1;
    by_value.decoupled = decoupled;
    by_value.bias_correction1 = 1 - std::pow(by_value.beta1, 7.0);
    by_value.bias_correction2 = 1 - std::pow(by_value.beta2, 7.0);
    AdamParams ignored = by_value;  // lr and bias corrections come from memory
    ignored.lr = 123;
    ignored.bias_correction1 = ignored.bias_correction2 = 0.5;
    std::vector<double> p1 = p0, m1 = m0, v1 = v0, p2 = p0, m2 = m0, v2 = v0;
    be.adam_update(DType::f64, p1.data(), g.data(), m1.data(), v1.data(), n, by_value, nullptr);
    be.adam_update_indirect(DType::f64, p2.data(), g.data(), m2.data(), v2.data(), n, ignored, &lr,
                            &step, nullptr);
    EXPECT_EQ(p1, p2);
    EXPECT_EQ(m1, m2);
    EXPECT_EQ(v1, v2);
  }
  SgdParams sgd{123, 0.9, 0.01, true};
  SgdParams sgd_value = sgd;
  sgd_value.lr = lr;
  std::vector<double> p1 = p0, m1 = m0, p2 = p0, m2 = m0;
  be.sgd_update(DType::f64, p1.data(), g.data(), m1.data(), n, sgd_value, nullptr);
  be.sgd_update_indirect(DType::f64, p2.data(), g.data(), m2.data(), n, sgd, &lr, nullptr);
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(m1, m2);
}

TEST(StepBackend, CountersAndAccumulators) {
  const Backend& be = cpu_backend();
  uint64_t counter = 5;
  be.counter_add(&counter, 11, nullptr);
  EXPECT_EQ(counter, 16u);
  const float a = 1.5f, b = -2.0f, c = 0.25f;
  const void* terms[3] = {&a, &b, &c};
  double acc[3] = {1, 2, 3};
  be.accumulate_scalars(DType::f32, terms, 3, 4.0, acc, nullptr);
  EXPECT_EQ(acc[0], 1 + 6.0);
  EXPECT_EQ(acc[1], 2 - 8.0);
  EXPECT_EQ(acc[2], 3 + 1.0);
  EXPECT_NE(ae::testing::error_of([&] { be.accumulate_scalars(DType::f32, terms, 9, 1, acc, nullptr); })
                .find("at most 8"),
            std::string::npos);
  EXPECT_FALSE(be.graph_begin(nullptr));  // the CPU does not capture
  be.set_tf32(0, true);                   // and always computes float32: accepted, no effect
  be.set_tf32(0, false);
}

// Restores the CPU's Philox counter at the end of a test, whatever happens in it.
struct CounterReset {
  ~CounterReset() { cpu_backend().set_rand_offset_counter(0, nullptr); }
};

TEST(StepBackend, RandOffsetCounterMovesEveryDraw) {
  const Backend& be = cpu_backend();
  CounterReset reset;
  const int64_t n = 1001;  // odd: the normals' last pair is split
  const uint64_t seed = 42, offset = 8;
  for (uint64_t moved : {uint64_t{0}, uint64_t{4}, uint64_t{1000}}) {
    SCOPED_TRACE(::testing::Message() << "counter " << moved);
    uint64_t counter = moved;
    std::vector<float> plain_u(n), plain_z(n), counted_u(n), counted_z(n);
    be.rand_uniform(DType::f32, plain_u.data(), n, seed, offset + moved, nullptr);
    be.rand_normal(DType::f32, plain_z.data(), n, seed, offset + moved, nullptr);
    be.set_rand_offset_counter(0, &counter);
    be.rand_uniform(DType::f32, counted_u.data(), n, seed, offset, nullptr);
    be.rand_normal(DType::f32, counted_z.data(), n, seed, offset, nullptr);
    be.set_rand_offset_counter(0, nullptr);
    EXPECT_EQ(counted_u, plain_u);
    EXPECT_EQ(counted_z, plain_z);
  }
  // The reparameterization draws its eps through the same stream, forward and backward.
  const int64_t rows = 3, cols = 5;
  std::vector<float> mu(rows * cols, 0.5f), logvar(rows * cols, -0.3f), dz(rows * cols, 1.0f);
  std::vector<float> z_plain(rows * cols), z_counted(rows * cols), dlv_plain(rows * cols),
      dlv_counted(rows * cols);
  float kl = 0;
  uint64_t counter = 12;
  be.reparameterize_forward(DType::f32, mu.data(), logvar.data(), z_plain.data(), &kl, rows, cols,
                            seed, 20 + 12, nullptr);
  be.reparameterize_backward(DType::f32, mu.data(), logvar.data(), dz.data(), nullptr, rows, cols,
                             seed, 20 + 12, nullptr, dlv_plain.data(), nullptr);
  be.set_rand_offset_counter(0, &counter);
  be.reparameterize_forward(DType::f32, mu.data(), logvar.data(), z_counted.data(), &kl, rows,
                            cols, seed, 20, nullptr);
  be.reparameterize_backward(DType::f32, mu.data(), logvar.data(), dz.data(), nullptr, rows, cols,
                             seed, 20, nullptr, dlv_counted.data(), nullptr);
  be.set_rand_offset_counter(0, nullptr);
  EXPECT_EQ(z_counted, z_plain);
  EXPECT_EQ(dlv_counted, dlv_plain);
  // Cleared, the plain offsets are back.
  std::vector<float> again(n), plain(n);
  be.rand_uniform(DType::f32, again.data(), n, seed, offset, nullptr);
  cpu::rand_uniform(DType::f32, plain.data(), n, seed, offset, nullptr);
  EXPECT_EQ(again, plain);
}

}  // namespace
}  // namespace ae::models
