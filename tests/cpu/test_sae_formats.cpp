// A sparse autoencoder to SAELens's and sparsify's formats and back (run/sae_formats.h): the
// exported SAE computes ae's codes and reconstructions on the unnormalised data, every kind in
// every format that has it, and what ae cannot compute is refused in one line. The packages
// themselves read these files in tests/python/test_sae_interop.py.
#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "data/normalize.h"
#include "data/safetensors.h"
#include "models/sae.h"
#include "run/sae_formats.h"
#include "tests/common/io_testing.h"
#include "tests/common/testing.h"
#include "train/checkpoint.h"

namespace ae::run {
namespace {

using io::test::TempDir;
using models::SaeKind;

constexpr int64_t kD = 7, kN = 23, kK = 3, kRows = 40;

// A sparse autoencoder with random weights everywhere (b_dec and the thresholds included), so
// that a term dropped or a transpose missed shows.
std::unique_ptr<models::Model> random_sae(SaeKind kind, models::ModelSpec& spec) {
  spec.kind = models::ModelKind::sae;
  spec.sae.kind = kind;
  spec.sae.inputs = kD;
  spec.sae.latents = kN;
  spec.sae.k = kK;
  spec.seed = 5;
  auto model = models::build_model(spec, Device::cpu());
  NoGradGuard no_grad;
  uint64_t seed = 70;
  for (models::Parameter& p : model->parameters()) {
    std::function<double(double)> map;
    if (p.name == "log_threshold") map = [](double v) { return 0.3 * v - 1.0; };  // θ around e^-1
    if (p.name == "encoder.bias" || p.name == "decoder.bias") map = [](double v) { return 0.5 * v; };
    p.value.copy_(testing::leaf(p.value.shape(), seed++, map, false).to(p.value.dtype()));
  }
  if (kind == SaeKind::batch_topk) model->set_buffer("threshold", Tensor::full({}, 0.4, DType::f32));
  return model;
}

// Rows in data space and a normaliser with a shift and a scale per feature.
models::Normalizer normaliser() {
  models::Normalizer n;
  n.kind = models::NormKind::standardize;
  for (int64_t j = 0; j < kD; ++j) {
    n.shift.push_back(0.5 * j - 1);
    n.scale.push_back(0.25 + 0.3 * j);
  }
  return n;
}

Tensor rows() {
  return testing::leaf({kRows, kD}, 11, [](double v) { return 3 * v; }, false).to(DType::f32);
}

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// got within float32 rounding of want: |got − want| ≤ 1e-5 · max |want| (a few float32 ulps of
// sums over at most kN terms).
void expect_close(const Tensor& got, const Tensor& want, const char* what) {
  const std::vector<double> g = got.to_vector(), w = want.to_vector();
  ASSERT_EQ(g.size(), w.size()) << what;
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], 1e-5 * scale) << what << " at " << i;
}

void expect_same_function(SaeKind kind, SaeFormat format) {
  SCOPED_TRACE(cat(models::sae_kind_name(kind), " as ", sae_format_name(format)));
  models::ModelSpec spec;
  auto model = random_sae(kind, spec);
  const models::Normalizer norm = normaliser();
  TempDir dir;
  export_sae(spec, *model, norm, format, dir.path("sae"));
  ASSERT_TRUE(is_sae_folder(dir.path("sae")));
  const models::Checkpoint c = read_sae_folder(dir.path("sae"));
  // batchtopk comes back as the JumpReLU of its inference threshold: the same function.
  EXPECT_EQ(c.spec.sae.kind, kind == SaeKind::batch_topk ? SaeKind::jumprelu : kind);
  EXPECT_EQ(c.spec.sae.latents, kN);
  EXPECT_EQ(c.spec.sae.inputs, kD);
  auto back = models::load_model(c, Device::cpu());

  NoGradGuard no_grad;
  const Tensor x = rows();
  const Tensor y = norm.apply(x);
  expect_close(back->code(x), model->code(y), "codes");
  expect_close(back->reconstruct(x), norm.invert(model->reconstruct(y)), "reconstructions");
}

TEST(SaeFormats, TheExportComputesAesCodesAndReconstructionsOnTheRawData) {
  for (SaeKind kind : {SaeKind::topk, SaeKind::batch_topk, SaeKind::jumprelu, SaeKind::relu_l1})
    expect_same_function(kind, SaeFormat::saelens);
  expect_same_function(SaeKind::topk, SaeFormat::sparsify);
}

TEST(SaeFormats, TheFilesHoldWhatThePackagesRead) {
  models::ModelSpec spec;
  auto model = random_sae(SaeKind::jumprelu, spec);
  TempDir dir;
  export_sae(spec, *model, std::nullopt, SaeFormat::saelens, dir.path("sl"));
  const nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir.path("sl/cfg.json")));
  EXPECT_EQ(cfg["architecture"], "jumprelu");
  EXPECT_EQ(cfg["d_in"], kD);
  EXPECT_EQ(cfg["d_sae"], kN);
  EXPECT_EQ(cfg["normalize_activations"], "none");
  EXPECT_EQ(cfg["apply_b_dec_to_input"], true);
  EXPECT_EQ(cfg["metadata"]["sae_lens_version"], "6.0.0");
  const io::SafeTensorsFile w = io::read_safetensors(dir.path("sl/sae_weights.safetensors"));
  ASSERT_NE(w.find("W_enc"), nullptr);
  EXPECT_EQ(w.find("W_enc")->shape, (std::vector<int64_t>{kD, kN}));
  EXPECT_EQ(w.find("W_dec")->shape, (std::vector<int64_t>{kN, kD}));
  EXPECT_EQ(w.find("threshold")->shape, (std::vector<int64_t>{kN}));
  // θ = exp(log θ), as the model's own.
  const std::vector<float> theta = io::safetensor_to_f32(*w.find("threshold"));
  const std::vector<double> log_theta = model->parameters()[4].value.to_vector();
  for (int64_t i = 0; i < kN; ++i) EXPECT_NEAR(theta[i], std::exp(log_theta[i]), 1e-6 * theta[i]);

  models::ModelSpec topk_spec;
  auto topk = random_sae(SaeKind::topk, topk_spec);
  export_sae(topk_spec, *topk, std::nullopt, SaeFormat::sparsify, dir.path("sp"));
  const nlohmann::json sp = nlohmann::json::parse(std::ifstream(dir.path("sp/cfg.json")));
  EXPECT_EQ(sp["num_latents"], kN);
  EXPECT_EQ(sp["k"], kK);
  EXPECT_EQ(sp["d_in"], kD);
  EXPECT_EQ(sp["activation"], "topk");
  EXPECT_EQ(sp["normalize_decoder"], false);  // random rows, not of unit norm
  auto fresh = models::build_model(topk_spec, Device::cpu());  // rows on the unit sphere
  export_sae(topk_spec, *fresh, std::nullopt, SaeFormat::sparsify, dir.path("unit"));
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir.path("unit/cfg.json")))["normalize_decoder"], true);
  const io::SafeTensorsFile s = io::read_safetensors(dir.path("sp/sae.safetensors"));
  EXPECT_EQ(s.find("encoder.weight")->shape, (std::vector<int64_t>{kN, kD}));
  EXPECT_EQ(s.find("W_dec")->shape, (std::vector<int64_t>{kN, kD}));
}

TEST(SaeFormats, WhatAFormatCannotHoldIsRefusedAndNothingIsOverwritten) {
  models::ModelSpec spec;
  auto jump = random_sae(SaeKind::jumprelu, spec);
  TempDir dir;
  EXPECT_EQ(testing::error_of([&] { export_sae(spec, *jump, std::nullopt, SaeFormat::sparsify, dir.path("x")); }),
            "export --format sparsify: sparsify's SAEs are TopK, this one is jumprelu (--format "
            "saelens holds every kind)");
  EXPECT_FALSE(std::filesystem::exists(dir.path("x")));
  export_sae(spec, *jump, std::nullopt, SaeFormat::saelens, dir.path("x"));
  const std::string before = text_of(dir.path("x/cfg.json"));
  EXPECT_EQ(testing::error_of([&] { export_sae(spec, *jump, std::nullopt, SaeFormat::saelens, dir.path("x")); }),
            "export to " + dir.path("x") + ": " + dir.path("x/cfg.json") +
                " exists already (choose a new folder, or remove it)");
  EXPECT_EQ(text_of(dir.path("x/cfg.json")), before);
  models::Normalizer zero = normaliser();
  zero.scale[2] = 0;
  EXPECT_EQ(testing::error_of([&] { export_sae(spec, *jump, zero, SaeFormat::saelens, dir.path("y")); }),
            "export to " + dir.path("y") + ": normaliser scale of feature 2 is 0, which cannot be "
            "folded into the weights");
  EXPECT_EQ(testing::error_of([] { parse_sae_format("onnx"); }),
            "--format: unknown value 'onnx' (saelens, sparsify)");
}

// A SAELens folder written by hand: cfg.json with `edit` applied, the weights of a TopK SAE.
std::string saelens_folder(const TempDir& dir, const std::string& name,
                           const std::function<void(nlohmann::json&)>& edit,
                           const std::vector<io::SafeTensor>& extra = {}) {
  models::ModelSpec spec;
  auto topk = random_sae(SaeKind::topk, spec);
  const std::string path = dir.path(name);
  export_sae(spec, *topk, std::nullopt, SaeFormat::saelens, path);
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(path + "/cfg.json"));
  edit(cfg);
  std::ofstream(path + "/cfg.json") << cfg.dump();
  if (!extra.empty()) {
    io::SafeTensorsFile w = io::read_safetensors(path + "/sae_weights.safetensors");
    for (const io::SafeTensor& t : extra) {
      bool replaced = false;
      for (io::SafeTensor& have : w.tensors)
        if (have.name == t.name) have = t, replaced = true;
      if (!replaced) w.tensors.push_back(t);
    }
    io::write_safetensors(path + "/sae_weights.safetensors", w.tensors);
  }
  return path;
}

TEST(SaeFormats, AFolderAeCannotComputeIsRefusedInOneLine) {
  TempDir dir;
  auto error = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit,
                   const std::vector<io::SafeTensor>& extra = {}) {
    const std::string path = saelens_folder(dir, name, edit, extra);
    return testing::error_of([&] { read_sae_folder(path); });
  };
  const std::string cfg = [&](const std::string& n) { return dir.path(n) + "/cfg.json"; }("a");
  EXPECT_EQ(error("a", [](nlohmann::json& c) { c["architecture"] = "gated"; }),
            cfg + ": field 'architecture' is 'gated'; ae reads topk, jumprelu and standard SAEs");
  EXPECT_EQ(error("b", [](nlohmann::json& c) { c["normalize_activations"] = "layer_norm"; }),
            dir.path("b") + "/cfg.json: field 'normalize_activations' is 'layer_norm'; ae reads "
            "SAEs that take the activations as they are ('none')");
  EXPECT_EQ(error("c", [](nlohmann::json& c) { c.erase("d_sae"); }),
            dir.path("c") + "/cfg.json: no field 'd_sae'");
  EXPECT_EQ(error("d", [](nlohmann::json& c) { c["k"] = 0; }),
            dir.path("d") + "/cfg.json: field 'k' must be an integer in [1, 2^31], got 0");
  EXPECT_EQ(error("d2", [](nlohmann::json& c) { c["k"] = 30; }),
            dir.path("d2") + "/cfg.json: field 'k' is 30, outside [1, d_sae = 23]");
  EXPECT_EQ(error("d3", [](nlohmann::json& c) { c["d_in"] = 7.5; }),
            dir.path("d3") + "/cfg.json: field 'd_in' must be an integer in [1, 2^31], got 7.5");
  EXPECT_EQ(error("d4", [](nlohmann::json& c) { c["d_sae"] = 1e20; }),
            dir.path("d4") + "/cfg.json: field 'd_sae' must be an integer in [1, 2^31], got 1e+20");
  EXPECT_EQ(error("e", [](nlohmann::json& c) { c["d_in"] = "seven"; }),
            dir.path("e") + "/cfg.json: field 'd_in' must be an integer in [1, 2^31], got \"seven\"");
  const float w[3] = {1, 2, 3};
  EXPECT_EQ(error("f", [](nlohmann::json&) {}, {io::safetensor_f32("b_dec", {3}, w)}),
            dir.path("f") + "/sae_weights.safetensors: tensor 'b_dec' has shape (3,), cfg.json's "
            "sizes give (7,)");
  EXPECT_EQ(error("g", [](nlohmann::json&) {}, {io::safetensor_f32("W_skip", {3}, w)}),
            dir.path("g") + "/sae_weights.safetensors: tensor 'W_skip' (3,) is not part of a SAELens "
            "topk SAE (ae would compute another function)");
  // Before SAELens 6 a TopK was "standard" with activation_fn_str "topk": read as the TopK it is.
  const std::string old_topk = saelens_folder(dir, "pre6", [](nlohmann::json& c) {
    c.erase("architecture");
    c.erase("k");
    c["activation_fn_str"] = "topk";
    c["activation_fn_kwargs"] = {{"k", 4}};
    c["normalize_activations"] = false;
    c["metadata"]["sae_lens_version"] = "4.0.0";
  });
  EXPECT_EQ(read_sae_folder(old_topk).spec.sae.kind, SaeKind::topk);
  EXPECT_EQ(read_sae_folder(old_topk).spec.sae.k, 4);
  EXPECT_EQ(sae_folder_kind(old_topk), SaeKind::topk);
  EXPECT_EQ(error("i", [](nlohmann::json& c) { c["architecture"] = "standard"; c["activation_fn_str"] = "tanh-relu"; }),
            dir.path("i") + "/cfg.json: field 'activation_fn_str' is 'tanh-relu'; ae reads standard "
            "SAEs with relu (or topk)");
  io::SafeTensor int_b_dec{"b_dec", "I32", {kD}, std::vector<uint8_t>(4 * kD)};
  EXPECT_EQ(error("h", [](nlohmann::json&) {}, {int_b_dec}),
            dir.path("h") + "/sae_weights.safetensors: tensor 'b_dec' is I32; ae reads F32, F64, "
            "F16 and BF16 weights");
  EXPECT_EQ(testing::error_of([&] { read_sae_folder(dir.path("none")); }),
            dir.path("none") + ": not a SAELens or sparsify folder (cfg.json beside "
            "sae_weights.safetensors or sae.safetensors)");
}

TEST(SaeFormats, HalfPrecisionWeightsAndSaeLensOptionsReadAsTheSameFunction) {
  TempDir dir;
  // apply_b_dec_to_input false: pre = x W_enc + b_enc. Read into ae's form, b_enc absorbs W_enc b_dec.
  const std::string path = saelens_folder(dir, "nob", [](nlohmann::json& c) { c["apply_b_dec_to_input"] = false; });
  const io::SafeTensorsFile w = io::read_safetensors(path + "/sae_weights.safetensors");
  auto back = models::load_model(read_sae_folder(path), Device::cpu());
  NoGradGuard no_grad;
  const Tensor x = rows();
  // The function by hand: TopK(ReLU(x W_enc + b_enc)) W_dec + b_dec.
  const auto values = [&](const char* n) { return io::safetensor_to_f64(*w.find(n)); };
  const std::vector<double> we = values("W_enc"), be = values("b_enc"), wd = values("W_dec"), bd = values("b_dec");
  const std::vector<double> xv = x.to_vector(), got = back->reconstruct(x).to_vector();
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<std::pair<double, int64_t>> pre;
    for (int64_t i = 0; i < kN; ++i) {
      double s = be[i];
      for (int64_t j = 0; j < kD; ++j) s += xv[r * kD + j] * we[j * kN + i];
      pre.push_back({s, i});
    }
    std::sort(pre.begin(), pre.end(), std::greater<>());
    for (int64_t j = 0; j < kD; ++j) {
      double want = bd[j];
      for (int64_t t = 0; t < kK; ++t) want += std::max(pre[t].first, 0.0) * wd[pre[t].second * kD + j];
      ASSERT_NEAR(got[r * kD + j], want, 1e-4) << "row " << r << " input " << j;
    }
  }
  // bfloat16 weights (as SAELens saves with dtype bfloat16) are widened exactly.
  std::vector<io::SafeTensor> halves;
  for (const io::SafeTensor& t : w.tensors) {
    io::SafeTensor h{t.name, "BF16", t.shape, {}};
    for (float v : io::safetensor_to_f32(t)) {
      const uint32_t bits = std::bit_cast<uint32_t>(v);
      h.bytes.push_back(static_cast<uint8_t>(bits >> 16));
      h.bytes.push_back(static_cast<uint8_t>(bits >> 24));
    }
    halves.push_back(h);
  }
  const std::string bf = saelens_folder(dir, "bf16", [](nlohmann::json& c) { c["dtype"] = "bfloat16"; }, halves);
  const models::Checkpoint c = read_sae_folder(bf);
  for (const io::SafeTensor& t : c.file.tensors) EXPECT_EQ(t.dtype, "F32") << t.name;
  const std::vector<float> b_dec = io::safetensor_to_f32(*c.file.find("decoder.bias"));
  const std::vector<float> orig = io::safetensor_to_f32(*w.find("b_dec"));
  for (int64_t j = 0; j < kD; ++j)
    EXPECT_EQ(b_dec[j], std::bit_cast<float>(std::bit_cast<uint32_t>(orig[j]) & 0xFFFF0000u));
}

}  // namespace
}  // namespace ae::run
