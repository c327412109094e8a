#include "run/sae_formats.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "data/array.h"
#include "data/file.h"
#include "data/safetensors.h"
#include "run/config.h"
#include "run/run_folder.h"
#include "run/session.h"

namespace ae::run {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCfg = "cfg.json";
constexpr const char* kSaeLensWeights = "sae_weights.safetensors";
constexpr const char* kSparsifyWeights = "sae.safetensors";
// The SAELens version whose format the export follows (cfg.json's metadata.sae_lens_version:
// 6.0 and later read architecture, d_in, d_sae, k and the tensors as written here).
constexpr const char* kSaeLensVersion = "6.0.0";
constexpr double kSmallestThreshold = 1e-30;  // a JumpReLU threshold ≤ 0 read from a file

// An SAE's weights on the host in float64, as ae's model computes: pre = (x − b_dec) W_encᵀ + b_enc
// with W_enc and W_dec both (latents, inputs) row-major; threshold (latents) for the kinds that
// have one.
struct HostSae {
  int64_t n = 0, d = 0;
  std::vector<double> w_enc, b_enc, w_dec, b_dec, threshold;
};

// SAELens's architecture name of an ae kind (batchtopk: the JumpReLU of its inference θ).
const char* saelens_architecture(models::SaeKind kind) {
  switch (kind) {
    case models::SaeKind::topk: return "topk";
    case models::SaeKind::relu_l1: return "standard";
    default: return "jumprelu";
  }
}

HostSae host_sae(const models::ModelSpec& spec, models::Model& model) {
  HostSae s;
  s.n = spec.sae.latents;
  s.d = spec.sae.inputs;
  for (const models::Parameter& p : model.parameters()) {
    if (p.name == "encoder.weight") s.w_enc = p.value.to_vector();
    else if (p.name == "encoder.bias") s.b_enc = p.value.to_vector();
    else if (p.name == "decoder.weight") s.w_dec = p.value.to_vector();
    else if (p.name == "decoder.bias") s.b_dec = p.value.to_vector();
    else if (p.name == "log_threshold") {
      s.threshold = p.value.to_vector();
      for (double& t : s.threshold) t = std::exp(t);
    }
  }
  if (spec.sae.kind == models::SaeKind::batch_topk)
    for (const models::Parameter& b : model.buffers())
      if (b.name == "threshold") s.threshold.assign(static_cast<size_t>(s.n), b.value.to_vector().at(0));
  return s;
}

// The normaliser folded into the weights (the formula of sae_formats.h).
void fold(HostSae& s, const models::Normalizer& norm, const std::string& what) {
  AE_CHECK(norm.features() == s.d, what, ": its normaliser has ", norm.features(),
           " features, the model ", s.d);
  for (int64_t j = 0; j < s.d; ++j) {
    const double c = norm.scale[static_cast<size_t>(j)];
    AE_CHECK(std::isfinite(c) && c != 0, what, ": normaliser scale of feature ", j, " is ", c,
             ", which cannot be folded into the weights");
    for (int64_t i = 0; i < s.n; ++i) {
      s.w_enc[static_cast<size_t>(i * s.d + j)] *= c;
      s.w_dec[static_cast<size_t>(i * s.d + j)] /= c;
    }
    double& b = s.b_dec[static_cast<size_t>(j)];
    b = b / c + norm.shift[static_cast<size_t>(j)];
  }
}

io::SafeTensor f32_tensor(const std::string& name, std::vector<int64_t> shape,
                          const std::vector<double>& v) {
  const std::vector<float> f(v.begin(), v.end());
  return io::safetensor_f32(name, std::move(shape), f.data());
}

std::vector<double> transposed(const std::vector<double>& m, int64_t rows, int64_t cols) {
  std::vector<double> t(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[static_cast<size_t>(c * rows + r)] = m[static_cast<size_t>(r * cols + c)];
  return t;
}

bool rows_unit_norm(const std::vector<double>& w, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    double sq = 0;
    for (int64_t c = 0; c < cols; ++c) sq += w[static_cast<size_t>(r * cols + c)] * w[static_cast<size_t>(r * cols + c)];
    if (std::abs(std::sqrt(sq) - 1) > 1e-4) return false;
  }
  return true;
}

// --- reading ----------------------------------------------------------------------------------

json read_cfg(const std::string& path) {
  const json j = read_json_file(path);
  AE_CHECK(j.is_object(), path, ": expected a JSON object");
  return j;
}

template <class T>
T field(const json& cfg, const std::string& path, const char* key) {
  AE_CHECK(cfg.contains(key), path, ": no field '", key, "'");
  try {
    return cfg.at(key).get<T>();
  } catch (const json::exception&) {
    fail(cat(path, ": field '", key, "' has the wrong type: ", cfg.at(key).dump()));
  }
}

template <class T>
T field_or(const json& cfg, const std::string& path, const char* key, T fallback) {
  return cfg.contains(key) && !cfg.at(key).is_null() ? field<T>(cfg, path, key) : fallback;
}

// An integer field: a JSON integer (not 16.7, not 1e20), in [lo, 2^31].
int64_t int_field(const json& cfg, const std::string& path, const char* key, int64_t lo = 1) {
  AE_CHECK(cfg.contains(key), path, ": no field '", key, "'");
  const json& v = cfg.at(key);
  const bool integer = v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= (uint64_t{1} << 31));
  AE_CHECK(integer && v.get<int64_t>() >= lo && v.get<int64_t>() <= (int64_t{1} << 31), path,
           ": field '", key, "' must be an integer in [", lo, ", 2^31], got ", v.dump());
  return v.get<int64_t>();
}

// The tensor `name` of `file` (at `path`) with `shape`, in float64.
std::vector<double> weights(const io::SafeTensorsFile& file, const std::string& path,
                            const std::string& name, const std::vector<int64_t>& shape) {
  const io::SafeTensor* t = file.find(name);
  AE_CHECK(t != nullptr, path, ": no tensor '", name, "' ", io::shape_string(shape));
  AE_CHECK(t->shape == shape, path, ": tensor '", name, "' has shape ", io::shape_string(t->shape),
           ", cfg.json's sizes give ", io::shape_string(shape));
  AE_CHECK(t->dtype == "F32" || t->dtype == "F64" || t->dtype == "F16" || t->dtype == "BF16", path,
           ": tensor '", name, "' is ", t->dtype, "; ae reads F32, F64, F16 and BF16 weights");
  std::vector<double> v = io::safetensor_to_f64(*t);
  for (size_t i = 0; i < v.size(); ++i)
    AE_CHECK(std::isfinite(v[i]), path, ": tensor '", name, "' holds ", v[i], " at flat index ", i);
  return v;
}

void only_tensors(const io::SafeTensorsFile& file, const std::string& path,
                  const std::set<std::string>& known, const char* architecture) {
  for (const io::SafeTensor& t : file.tensors)
    AE_CHECK(known.count(t.name), path, ": tensor '", t.name, "' ", io::shape_string(t.shape),
             " is not part of ", architecture, " (ae would compute another function)");
}

struct ReadSae {
  models::SaeKind kind = models::SaeKind::topk;
  int64_t k = 0;
  HostSae w;
};

// The architecture of a SAELens cfg.json, and its k for a TopK. Before SAELens 6 a TopK was
// "standard" (or had no architecture) with activation_fn_str "topk" and activation_fn_kwargs.k;
// SAELens 6 reads those as TopK, and so does ae.
std::pair<models::SaeKind, int64_t> saelens_kind(const json& cfg, const std::string& cfg_path) {
  std::string arch = field_or<std::string>(cfg, cfg_path, "architecture", "standard");
  const char* fn_key = cfg.contains("activation_fn_str") ? "activation_fn_str" : "activation_fn";
  const std::string fn = field_or<std::string>(cfg, cfg_path, fn_key, "relu");
  if (arch == "standard" && fn == "topk") {
    AE_CHECK(cfg.contains("activation_fn_kwargs") && cfg.at("activation_fn_kwargs").is_object(),
             cfg_path, ": field '", fn_key, "' is 'topk' without activation_fn_kwargs.k");
    return {models::SaeKind::topk, int_field(cfg.at("activation_fn_kwargs"), cfg_path + " activation_fn_kwargs", "k")};
  }
  AE_CHECK(arch != "standard" || fn == "relu", cfg_path, ": field '", fn_key, "' is '", fn,
           "'; ae reads standard SAEs with relu (or topk)");
  if (arch == "topk") return {models::SaeKind::topk, int_field(cfg, cfg_path, "k")};
  if (arch == "jumprelu") return {models::SaeKind::jumprelu, 0};
  if (arch == "standard") return {models::SaeKind::relu_l1, 0};
  fail(cat(cfg_path, ": field 'architecture' is '", arch,
           "'; ae reads topk, jumprelu and standard SAEs"));
}

ReadSae read_saelens(const std::string& dir) {
  const std::string cfg_path = join_path(dir, kCfg), path = join_path(dir, kSaeLensWeights);
  const json cfg = read_cfg(cfg_path);
  ReadSae r;
  std::tie(r.kind, r.k) = saelens_kind(cfg, cfg_path);
  // Before SAELens 6, normalize_activations could be a bool: false is "none".
  const std::string norm = cfg.contains("normalize_activations") && cfg.at("normalize_activations").is_boolean()
                               ? (cfg.at("normalize_activations").get<bool>() ? "true" : "none")
                               : field_or<std::string>(cfg, cfg_path, "normalize_activations", "none");
  AE_CHECK(norm == "none", cfg_path, ": field 'normalize_activations' is '", norm,
           "'; ae reads SAEs that take the activations as they are ('none')");
  const std::string reshape = field_or<std::string>(cfg, cfg_path, "reshape_activations", "none");
  AE_CHECK(reshape == "none", cfg_path, ": field 'reshape_activations' is '", reshape,
           "'; ae reads SAEs over flat activation vectors ('none')");
  HostSae& s = r.w;
  s.d = int_field(cfg, cfg_path, "d_in");
  s.n = int_field(cfg, cfg_path, "d_sae");
  if (r.kind == models::SaeKind::topk)
    AE_CHECK(r.k <= s.n, cfg_path, ": field 'k' is ", r.k, ", outside [1, d_sae = ", s.n, "]");
  const io::SafeTensorsFile file = io::read_safetensors(path);
  std::set<std::string> known{"W_enc", "b_enc", "W_dec", "b_dec"};
  if (r.kind == models::SaeKind::jumprelu) known.insert("threshold");
  only_tensors(file, path, known, cat("a SAELens ", saelens_architecture(r.kind), " SAE").c_str());
  s.w_enc = transposed(weights(file, path, "W_enc", {s.d, s.n}), s.d, s.n);
  s.b_enc = weights(file, path, "b_enc", {s.n});
  s.w_dec = weights(file, path, "W_dec", {s.n, s.d});
  s.b_dec = weights(file, path, "b_dec", {s.d});
  if (r.kind == models::SaeKind::jumprelu) {
    s.threshold = weights(file, path, "threshold", {s.n});
    for (double& t : s.threshold) t = std::max(t, kSmallestThreshold);
  }
  // apply_b_dec_to_input false: pre = x W_enc + b_enc, which is ae's form with
  // b_enc + W_enc b_dec in place of b_enc.
  if (!field_or<bool>(cfg, cfg_path, "apply_b_dec_to_input", true))
    for (int64_t i = 0; i < s.n; ++i)
      for (int64_t j = 0; j < s.d; ++j)
        s.b_enc[static_cast<size_t>(i)] += s.w_enc[static_cast<size_t>(i * s.d + j)] * s.b_dec[static_cast<size_t>(j)];
  // A TopK over pre · ‖W_dec,i‖ decoded through W_dec,i / ‖W_dec,i‖: the norms folded in.
  if (r.kind == models::SaeKind::topk && field_or<bool>(cfg, cfg_path, "rescale_acts_by_decoder_norm", false))
    for (int64_t i = 0; i < s.n; ++i) {
      double sq = 0;
      for (int64_t j = 0; j < s.d; ++j) sq += s.w_dec[static_cast<size_t>(i * s.d + j)] * s.w_dec[static_cast<size_t>(i * s.d + j)];
      const double norm = std::sqrt(sq);
      AE_CHECK(norm > 0, path, ": row ", i, " of 'W_dec' is zero, and cfg.json's "
               "rescale_acts_by_decoder_norm divides by its norm");
      s.b_enc[static_cast<size_t>(i)] *= norm;
      for (int64_t j = 0; j < s.d; ++j) {
        s.w_enc[static_cast<size_t>(i * s.d + j)] *= norm;
        s.w_dec[static_cast<size_t>(i * s.d + j)] /= norm;
      }
    }
  return r;
}

ReadSae read_sparsify(const std::string& dir) {
  const std::string cfg_path = join_path(dir, kCfg), path = join_path(dir, kSparsifyWeights);
  const json cfg = read_cfg(cfg_path);
  ReadSae r;
  const std::string activation = field_or<std::string>(cfg, cfg_path, "activation", "topk");
  AE_CHECK(activation == "topk", cfg_path, ": field 'activation' is '", activation,
           "'; ae reads sparsify's topk SAEs");
  AE_CHECK(!field_or<bool>(cfg, cfg_path, "transcode", false), cfg_path,
           ": field 'transcode' is true: a transcoder predicts another module's output, ae reads "
           "autoencoders");
  AE_CHECK(!field_or<bool>(cfg, cfg_path, "skip_connection", false), cfg_path,
           ": field 'skip_connection' is true: ae's SAEs have no linear skip connection");
  HostSae& s = r.w;
  s.d = int_field(cfg, cfg_path, "d_in");
  const int64_t latents = cfg.contains("num_latents") ? int_field(cfg, cfg_path, "num_latents", 0) : 0;
  if (latents != 0) {
    s.n = latents;
  } else {
    const int64_t factor = int_field(cfg, cfg_path, "expansion_factor");
    AE_CHECK(factor <= ((int64_t{1} << 31) / s.d), cfg_path, ": d_in ", s.d, " × expansion_factor ",
             factor, " latents exceed 2^31");
    s.n = s.d * factor;
  }
  r.k = int_field(cfg, cfg_path, "k");
  AE_CHECK(r.k <= s.n, cfg_path, ": field 'k' is ", r.k, ", outside [1, num_latents = ", s.n, "]");
  const io::SafeTensorsFile file = io::read_safetensors(path);
  only_tensors(file, path, {"encoder.weight", "encoder.bias", "W_dec", "b_dec"}, "a sparsify TopK SAE");
  s.w_enc = weights(file, path, "encoder.weight", {s.n, s.d});
  s.b_enc = weights(file, path, "encoder.bias", {s.n});
  s.w_dec = weights(file, path, "W_dec", {s.n, s.d});
  s.b_dec = weights(file, path, "b_dec", {s.d});
  return r;
}

}  // namespace

const char* sae_format_name(SaeFormat f) { return f == SaeFormat::saelens ? "saelens" : "sparsify"; }

SaeFormat parse_sae_format(const std::string& name) {
  if (name == "saelens") return SaeFormat::saelens;
  if (name == "sparsify") return SaeFormat::sparsify;
  fail(cat("--format: unknown value '", name, "' (saelens, sparsify)"), ErrorKind::argument);
}

void export_sae(const models::ModelSpec& spec, models::Model& model,
                const std::optional<models::Normalizer>& norm, SaeFormat format,
                const std::string& dir) {
  AE_CHECK(spec.kind == models::ModelKind::sae, "export: the model is an ", model_kind_name(spec.kind),
           " model, not a sparse autoencoder (the ", sae_format_name(format),
           " format holds SAEs: ae train --model topk, batchtopk, jumprelu or relu-l1)");
  const models::SaeConfig& c = spec.sae;
  AE_CHECK(format == SaeFormat::saelens || c.kind == models::SaeKind::topk, "export --format sparsify: ",
           "sparsify's SAEs are TopK, this one is ", models::sae_kind_name(c.kind),
           " (--format saelens holds every kind)");
  const std::string cfg_path = join_path(dir, kCfg);
  const std::string weights_path =
      join_path(dir, format == SaeFormat::saelens ? kSaeLensWeights : kSparsifyWeights);
  std::error_code ec;
  for (const std::string& p : {cfg_path, join_path(dir, kSaeLensWeights), join_path(dir, kSparsifyWeights)})
    if (fs::exists(p, ec))
      fail(cat("export to ", dir, ": ", p, " exists already (choose a new folder, or remove it)"),
           ErrorKind::file, EEXIST);
  HostSae s = host_sae(spec, model);
  if (norm) fold(s, *norm, cat("export to ", dir));
  fs::create_directories(dir, ec);
  AE_CHECK_KIND(file, !ec, "--out ", dir, ": cannot create the folder: ", ec.message());

  json cfg;
  if (format == SaeFormat::saelens) {
    std::vector<io::SafeTensor> t{f32_tensor("W_enc", {s.d, s.n}, transposed(s.w_enc, s.n, s.d)),
                                  f32_tensor("b_enc", {s.n}, s.b_enc),
                                  f32_tensor("W_dec", {s.n, s.d}, s.w_dec),
                                  f32_tensor("b_dec", {s.d}, s.b_dec)};
    const bool thresholded = c.kind == models::SaeKind::jumprelu || c.kind == models::SaeKind::batch_topk;
    if (thresholded) t.push_back(f32_tensor("threshold", {s.n}, s.threshold));
    io::write_safetensors(weights_path, t);
    cfg = {{"architecture", saelens_architecture(c.kind)},
           {"d_in", s.d},
           {"d_sae", s.n},
           {"dtype", "float32"},
           {"device", "cpu"},
           {"apply_b_dec_to_input", true},
           {"normalize_activations", "none"},
           {"reshape_activations", "none"},
           {"metadata",
            {{"sae_lens_version", kSaeLensVersion},
             {"sae_lens_training_version", kSaeLensVersion},
             {"trained_with", cat("ae ", models::sae_kind_name(c.kind))}}}};
    if (c.kind == models::SaeKind::topk) {
      cfg["k"] = c.k;
      cfg["rescale_acts_by_decoder_norm"] = false;
    }
  } else {
    io::write_safetensors(weights_path, {f32_tensor("encoder.weight", {s.n, s.d}, s.w_enc),
                                         f32_tensor("encoder.bias", {s.n}, s.b_enc),
                                         f32_tensor("W_dec", {s.n, s.d}, s.w_dec),
                                         f32_tensor("b_dec", {s.d}, s.b_dec)});
    cfg = {{"activation", "topk"},
           {"expansion_factor", std::max<int64_t>(1, s.n / s.d)},
           {"normalize_decoder", rows_unit_norm(s.w_dec, s.n, s.d)},
           {"num_latents", s.n},
           {"k", c.k},
           {"multi_topk", false},
           {"skip_connection", false},
           {"transcode", false},
           {"d_in", s.d}};
  }
  try {
    write_text(cfg_path, cfg.dump(2) + "\n");
  } catch (...) {
    fs::remove(weights_path, ec);  // no weights without their cfg.json
    throw;
  }
}

models::SaeKind sae_folder_kind(const std::string& dir) {
  AE_CHECK_KIND(file, is_sae_folder(dir), dir, ": not a SAELens or sparsify folder (cfg.json beside ",
                kSaeLensWeights, " or ", kSparsifyWeights, ")");
  std::error_code ec;
  if (!fs::exists(join_path(dir, kSaeLensWeights), ec)) return models::SaeKind::topk;
  return saelens_kind(read_cfg(join_path(dir, kCfg)), join_path(dir, kCfg)).first;
}

bool is_sae_folder(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::exists(join_path(dir, kCfg), ec) &&
         (fs::exists(join_path(dir, kSaeLensWeights), ec) || fs::exists(join_path(dir, kSparsifyWeights), ec));
}

models::Checkpoint read_sae_folder(const std::string& dir) {
  if (!is_sae_folder(dir))
    fail(cat(dir, ": not a SAELens or sparsify folder (cfg.json beside ", kSaeLensWeights, " or ",
             kSparsifyWeights, ")"),
         ErrorKind::file, ENOENT);
  std::error_code ec;
  const bool saelens = fs::exists(join_path(dir, kSaeLensWeights), ec);
  const ReadSae r = saelens ? read_saelens(dir) : read_sparsify(dir);
  const HostSae& s = r.w;

  models::Checkpoint c;
  c.path = join_path(dir, saelens ? kSaeLensWeights : kSparsifyWeights);
  c.spec.kind = models::ModelKind::sae;
  models::SaeConfig& sc = c.spec.sae;
  sc.kind = r.kind;
  sc.inputs = s.d;
  sc.latents = s.n;
  if (r.k > 0) sc.k = r.k;
  sc.unit_norm_decoder = rows_unit_norm(s.w_dec, s.n, s.d);
  c.spec.seed = 0;
  c.rng_seed = 0;
  c.file.tensors = {f32_tensor("encoder.weight", {s.n, s.d}, s.w_enc),
                    f32_tensor("encoder.bias", {s.n}, s.b_enc),
                    f32_tensor("decoder.weight", {s.n, s.d}, s.w_dec),
                    f32_tensor("decoder.bias", {s.d}, s.b_dec)};
  if (r.kind == models::SaeKind::jumprelu) {
    std::vector<double> log_theta(s.threshold);
    for (double& t : log_theta) t = std::log(t);
    c.file.tensors.push_back(f32_tensor("log_threshold", {s.n}, log_theta));
  }
  // The run metadata of an ae checkpoint: the model's settings, a table of d_in features, no
  // normaliser.
  RunConfig config = preset(models::sae_kind_name(r.kind));
  config.model.kind = models::sae_kind_name(r.kind);
  config.model.latents = s.n;
  config.model.k = sc.k;
  config.model.unit_norm_decoder = sc.unit_norm_decoder ? "on" : "off";
  config.data.normalize = "none";
  c.file.metadata = run_extras(config, std::nullopt, PictureShape{}, cat(saelens ? "SAELens" : "sparsify",
                                                                        " SAE ", dir)).metadata;
  return c;
}

}  // namespace ae::run
