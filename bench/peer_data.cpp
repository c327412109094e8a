#include "bench/peer_data.h"

#include <cstring>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/ops.h"
#include "data/safetensors.h"
#include "train/trainer.h"
#include "models/vae.h"

namespace ae::bench {

namespace {

constexpr int64_t kFeatures = 784;
constexpr uint64_t kDataSeed = 2024;
const std::vector<int64_t> kAeWidths{784, 512, 256, 32};
constexpr int64_t kVaeHidden = 512, kVaeLatent = 20;
constexpr double kSparsityWeight = 0.1, kSparsityTarget = 0.05, kContractiveWeight = 0.01;

struct Layer {
  int64_t in, out;
};

// The model's linear layers in forward order; the first reads the data, which needs no gradient.
std::vector<Layer> layers(BenchModel m) {
  if (m == BenchModel::vae)
    return {{kFeatures, kVaeHidden}, {kVaeHidden, kVaeLatent}, {kVaeHidden, kVaeLatent},
            {kVaeLatent, kVaeHidden}, {kVaeHidden, kFeatures}};
  std::vector<Layer> out;
  for (size_t i = 0; i + 1 < kAeWidths.size(); ++i) out.push_back({kAeWidths[i], kAeWidths[i + 1]});
  for (size_t i = kAeWidths.size() - 1; i > 0; --i) out.push_back({kAeWidths[i], kAeWidths[i - 1]});
  return out;
}

std::string join(const std::vector<int64_t>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

std::string number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

const char* bench_model_name(BenchModel m) {
  switch (m) {
    case BenchModel::ae: return "ae";
    case BenchModel::dae: return "dae";
    case BenchModel::sparse: return "sparse";
    case BenchModel::contractive: return "contractive";
    case BenchModel::vae: return "vae";
  }
  fail(cat("bench_model_name: unknown model ", static_cast<int>(m)));
}

BenchModel parse_bench_model(const std::string& name) {
  for (BenchModel m : kBenchModels)
    if (name == bench_model_name(m)) return m;
  fail(cat("bench: unknown model '", name, "' (ae, dae, sparse, contractive, vae)"));
}

std::unique_ptr<models::Model> make_bench_model(BenchModel m, Device device) {
  using namespace models;
  if (m == BenchModel::vae) {
    VaeConfig c;
    c.widths = {kFeatures, kVaeHidden};
    c.latent = kVaeLatent;
    c.hidden = Activation::relu;
    c.data = DataKind::binary;
    return std::make_unique<Vae>(c, kModelSeed, device);
  }
  AutoencoderConfig c;
  c.widths = kAeWidths;
  c.hidden = Activation::sigmoid;
  c.code = Activation::sigmoid;
  c.data = DataKind::binary;
  if (m == BenchModel::dae) c.noise = {NoiseKind::masking, kMaskingLevel};
  if (m == BenchModel::sparse) {
    c.penalty = CodePenalty::kl_sparsity;
    c.penalty_weight = kSparsityWeight;
    c.sparsity_target = kSparsityTarget;
  }
  if (m == BenchModel::contractive) {
    c.penalty = CodePenalty::contractive;
    c.penalty_weight = kContractiveWeight;
  }
  return std::make_unique<Autoencoder>(c, kModelSeed, device);
}

std::vector<Gemm> step_gemms(BenchModel m, int64_t batch) {
  const std::vector<Layer> ls = layers(m);
  std::vector<Gemm> out;
  // Forward: y (batch, out) = x (batch, in) Wᵀ, W stored (out, in).
  for (const Layer& l : ls) out.push_back({batch, l.out, l.in, false, true});
  // Backward, last layer first: dx (batch, in) = dz (batch, out) W, then dW (out, in) = dzᵀ x.
  for (size_t i = ls.size(); i-- > 0;) {
    if (i > 0) out.push_back({batch, ls[i].in, ls[i].out, false, false});
    out.push_back({ls[i].out, ls[i].in, batch, true, false});
  }
  return out;
}

double gemm_flops(const std::vector<Gemm>& gemms) {
  double f = 0;
  for (const Gemm& g : gemms) f += 2.0 * double(g.m) * double(g.n) * double(g.k);
  return f;
}

Tensor bench_data(int64_t rows) {
  Tensor u = Tensor::rand(Shape{rows, kFeatures}, kDataSeed, 0, DType::f32, Device::cpu());
  float* p = u.data_as<float>();
  for (int64_t i = 0; i < u.numel(); ++i) p[i] = p[i] <= 0.7f ? 0.0f : (p[i] - 0.7f) / 0.3f;
  return u;
}

std::vector<double> write_peer_file(BenchModel m, const Tensor& data, int64_t batch, int64_t steps,
                                    Device device, const std::string& path) {
  AE_CHECK(batch > 0 && steps > 0 && batch * steps <= data.size(0), "write_peer_file: ", steps,
           " steps of ", batch, " rows need more than the ", data.size(0), " rows of data");
  std::unique_ptr<models::Model> model = make_bench_model(m, device);
  std::vector<io::SafeTensor> tensors;
  for (const models::Parameter& p : model->parameters()) {
    const std::vector<float> v = p.value.to_floats();
    tensors.push_back(io::safetensor_f32(p.name, p.value.shape().dims(), v.data()));
  }
  {
    const Tensor host = data.to(Device::cpu()).to(DType::f32);
    tensors.push_back(io::safetensor_f32("data", host.shape().dims(), host.data_as<float>()));
  }

  models::OptimizerConfig oc;
  oc.kind = models::OptimizerKind::adam;
  oc.lr = kLearningRate;
  models::TrainStep step(*model, oc, {models::StepMode::fused});
  const Tensor on_device = data.to(device).to(DType::f32);
  Generator& gen = model->generator();
  std::vector<double> losses;
  for (int64_t i = 0; i < steps; ++i) {
    const Tensor x = slice(on_device, i * batch, (i + 1) * batch);
    // The noise this step will draw: the model's one window of its generator, starting here
    // (models/noise.cpp: masking keeps u > level; models/vae.cpp: eps of the latent's size).
    const uint64_t offset = gen.offset();
    uint64_t expected_draws = 0;
    if (m == BenchModel::dae) {
      const std::vector<float> u =
          Tensor::rand(Shape{batch, kFeatures}, gen.seed(), offset, DType::f32, device).to_floats();
      io::SafeTensor keep{cat("noise.", i), "U8", {batch, kFeatures}, {}};
      keep.bytes.resize(u.size());
      for (size_t j = 0; j < u.size(); ++j) keep.bytes[j] = u[j] > float(kMaskingLevel) ? 1 : 0;
      tensors.push_back(std::move(keep));
      expected_draws = static_cast<uint64_t>(batch * kFeatures);
    } else if (m == BenchModel::vae) {
      const std::vector<float> eps =
          Tensor::randn(Shape{batch, kVaeLatent}, gen.seed(), offset, DType::f32, device)
              .to_floats();
      tensors.push_back(io::safetensor_f32(cat("noise.", i), {batch, kVaeLatent}, eps.data()));
      expected_draws = static_cast<uint64_t>(batch * kVaeLatent);
    }
    step.run(x);
    losses.push_back(step.take_totals().mean.total);
    AE_CHECK(gen.offset() - offset == (expected_draws + 3) / 4 * 4, "write_peer_file: ",
             bench_model_name(m), " drew ", gen.offset() - offset, " numbers at step ", i,
             ", expected ", expected_draws, ": the recorded noise would not be the noise used");
  }
  std::vector<float> loss_values(losses.begin(), losses.end());
  tensors.push_back(io::safetensor_f32("ae.losses", {steps}, loss_values.data()));

  const bool vae = m == BenchModel::vae;
  std::map<std::string, std::string> meta{
      {"model", bench_model_name(m)},
      {"widths", vae ? join({kFeatures, kVaeHidden}) : join(kAeWidths)},
      {"latent", vae ? std::to_string(kVaeLatent) : "0"},
      {"hidden", vae ? "relu" : "sigmoid"},
      {"code", vae ? "gaussian" : "sigmoid"},
      {"noise_level", m == BenchModel::dae ? number(kMaskingLevel) : "0"},
      {"penalty_weight", m == BenchModel::sparse        ? number(kSparsityWeight)
                         : m == BenchModel::contractive ? number(kContractiveWeight)
                                                        : "0"},
      {"sparsity_target", number(kSparsityTarget)},
      {"rho_eps", number(kRhoEps)},
      {"logvar_min", number(models::kLogvarMin)},
      {"logvar_max", number(models::kLogvarMax)},
      {"logvar_margin", number(models::kLogvarMargin)},
      {"lr", number(kLearningRate)},
      {"batch", std::to_string(batch)},
      {"steps", std::to_string(steps)},
      {"device", device.str()}};
  io::write_safetensors(path, tensors, meta);
  return losses;
}

}  // namespace ae::bench
