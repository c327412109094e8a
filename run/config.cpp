#include "run/config.h"

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "models/activation.h"
#include "models/autoencoder.h"
#include "models/noise.h"
#include "models/sae.h"
#include "train/optim.h"
#include "models/beta_schedule.h"
#include "train/schedule.h"
#include "train/trainer.h"
#include "data/file.h"

namespace ae::run {
namespace {

// --- values from flag text and from JSON, one overload per setting type ------------------------

void from_text(const std::string& text, std::string& out, const std::string&) { out = text; }

void from_text(const std::string& text, double& out, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  AE_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(v),
           flag, ": '", text, "' is not a finite number");
  out = v;
}

void from_text(const std::string& text, int64_t& out, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  AE_CHECK(!text.empty() && end == text.c_str() + text.size(), flag, ": '", text,
           "' is not an integer");
  AE_CHECK(errno == 0, flag, ": ", text, " is out of range (an integer from ",
           std::numeric_limits<int64_t>::min(), " to ", std::numeric_limits<int64_t>::max(), ")");
  out = v;
}

void from_text(const std::string& text, uint64_t& out, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  AE_CHECK(!text.empty() && text[0] != '-' && end == text.c_str() + text.size(), flag, ": '", text,
           "' is not a non-negative integer");
  AE_CHECK(errno == 0, flag, ": ", text, " is out of range (at most ",
           std::numeric_limits<uint64_t>::max(), ")");
  out = v;
}

// "256,64" -> {256, 64}; "" or "none" -> {} (no hidden layer).
void from_text(const std::string& text, std::vector<int64_t>& out, const std::string& flag) {
  out.clear();
  if (text.empty() || text == "none") return;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    int64_t v = 0;
    from_text(item, v, flag);
    AE_CHECK(v > 0, flag, ": widths must be positive, got ", v, " in '", text, "'");
    out.push_back(v);
  }
}

// "7" or "3,8" -> {7} or {3, 8}; "" -> {}.
void from_text(const std::string& text, LabelList& out, const std::string& flag) {
  out.values.clear();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    int64_t v = 0;
    from_text(item, v, flag);
    out.values.push_back(v);
  }
}

std::string where_field(const std::string& where, const std::string& key) {
  return cat(where, ": field '", key, "'");
}

void from_json(const json& v, std::string& out, const std::string& w) {
  AE_CHECK(v.is_string(), w, " must be a string, got ", v.dump());
  out = v.get<std::string>();
}
void from_json(const json& v, double& out, const std::string& w) {
  AE_CHECK(v.is_number(), w, " must be a number, got ", v.dump());
  out = v.get<double>();
}
void from_json(const json& v, int64_t& out, const std::string& w) {
  AE_CHECK(v.is_number_integer(), w, " must be an integer, got ", v.dump());
  out = v.get<int64_t>();
}
void from_json(const json& v, uint64_t& out, const std::string& w) {
  AE_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), w,
           " must be a non-negative integer, got ", v.dump());
  out = v.get<uint64_t>();
}
void from_json(const json& v, bool& out, const std::string& w) {
  AE_CHECK(v.is_boolean(), w, " must be true or false, got ", v.dump());
  out = v.get<bool>();
}
void from_json(const json& v, std::vector<int64_t>& out, const std::string& w) {
  AE_CHECK(v.is_array(), w, " must be an array of positive integers, got ", v.dump());
  out.clear();
  for (const json& e : v) {
    AE_CHECK(e.is_number_integer() && e.get<int64_t>() > 0, w,
             " must hold positive integers, got ", e.dump());
    out.push_back(e.get<int64_t>());
  }
}

void from_json(const json& v, LabelList& out, const std::string& w) {
  AE_CHECK(v.is_array(), w, " must be an array of integer labels, got ", v.dump());
  out.values.clear();
  for (const json& e : v) {
    AE_CHECK(e.is_number_integer(), w, " must hold integer labels, got ", e.dump());
    out.values.push_back(e.get<int64_t>());
  }
}

json to_json_value(const LabelList& v) { return json(v.values); }
template <class T>
json to_json_value(const T& v) {
  return json(v);
}

std::string default_text(const LabelList& v) {
  std::string out;
  for (size_t i = 0; i < v.values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(v.values[i]);
  }
  return out.empty() ? "none" : out;
}
std::string default_text(const std::string& v) { return v.empty() ? "\"\"" : v; }
std::string default_text(bool v) { return v ? "true" : "false"; }
std::string default_text(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(v[i]);
  }
  return out.empty() ? "none" : out;
}
template <class T>
std::string default_text(const T& v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// --- the settings table --------------------------------------------------------------------------

struct Field {
  std::string key;    // "train.lr"
  std::string flag;   // "--lr"
  std::string group;  // the --help section
  std::string help;
  Scope scope;
  bool is_bool;
  std::string type;   // shown in --help: INT, FLOAT, LIST, TEXT
  std::function<json(const RunConfig&)> get;
  std::function<void(RunConfig&, const json&, const std::string& where)> set_json;
  std::function<void(RunConfig&, const std::string& text, const std::string& flag)> set_text;
  std::function<std::string(const RunConfig&)> shown_default;
};

template <class Access>
Field make_field(std::string key, std::string flag, std::string group, std::string help,
                 Access access, Scope scope = Scope::all) {
  using T = std::decay_t<decltype(access(std::declval<RunConfig&>()))>;
  Field f;
  f.key = std::move(key);
  f.flag = std::move(flag);
  f.group = std::move(group);
  f.help = std::move(help);
  f.scope = scope;
  f.is_bool = std::is_same_v<T, bool>;
  if constexpr (std::is_same_v<T, double>)
    f.type = "FLOAT";
  else if constexpr (std::is_integral_v<T>)
    f.type = "INT";
  else if constexpr (std::is_same_v<T, std::string>)
    f.type = "TEXT";
  else
    f.type = "LIST";
  f.get = [access](const RunConfig& c) { return to_json_value(access(const_cast<RunConfig&>(c))); };
  f.set_json = [access](RunConfig& c, const json& v, const std::string& w) { from_json(v, access(c), w); };
  f.set_text = [access](RunConfig& c, const std::string& t, const std::string& flag) {
    if constexpr (std::is_same_v<T, bool>) {
      access(c) = t == "true";
    } else {
      from_text(t, access(c), flag);
    }
  };
  f.shown_default = [access](const RunConfig& c) { return default_text(access(const_cast<RunConfig&>(c))); };
  return f;
}

#define AE_FIELD(path, flag, group, help, ...) \
  make_field(#path, flag, group, help, [](RunConfig& c) -> auto& { return c.path; } __VA_OPT__(, ) __VA_ARGS__)

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      // model
      AE_FIELD(model.kind, "--model", "Model", "auto (a VAE for pictures, the anomaly-detection autoencoder for a table), ae, dae (denoising), sparse, contractive or vae; or a sparse autoencoder for a model's activations: topk, batchtopk, jumprelu or relu-l1 (docs/sae.md)"),
      AE_FIELD(model.hidden, "--hidden", "Model",
               "hidden layer widths from the input towards the code, e.g. 256,64 (none: no hidden layer)"),
      AE_FIELD(model.code, "--code", "Model", "code width (the VAE's latent size)"),
      AE_FIELD(model.activation, "--activation", "Model",
               "hidden activation: identity, sigmoid, tanh, relu, leaky_relu, softplus"),
      AE_FIELD(model.code_activation, "--code-activation", "Model",
               "activation of the code layer (not the VAE)"),
      AE_FIELD(model.data_kind, "--data-kind", "Model",
               "auto, binary (sigmoid output, cross-entropy) or real (linear output, squared error); "
               "auto: binary when the data lies in [0, 1]"),
      AE_FIELD(model.tied, "--tied", "Model", "decoder weights are the encoder's, transposed"),
      AE_FIELD(model.l2, "--l2", "Model", "L2 weight penalty λ‖W‖²"),
      AE_FIELD(model.l1, "--l1", "Model", "L1 weight penalty λ‖W‖₁"),
      AE_FIELD(model.penalty, "--penalty", "Model", "code penalty: none, l1, kl_sparsity, contractive"),
      AE_FIELD(model.penalty_weight, "--penalty-weight", "Model",
               "the code penalty's weight; relu-l1 and jumprelu: the sparsity coefficient λ (5 and "
               "1 by default)"),
      AE_FIELD(model.sparsity_target, "--sparsity", "Model", "kl_sparsity: target mean activation ρ"),
      AE_FIELD(model.noise, "--noise", "Model",
               "input corruption in training: none, gaussian, salt_and_pepper, masking, dropout"),
      AE_FIELD(model.noise_level, "--noise-level", "Model",
               "σ for gaussian, the corrupted fraction for the others"),
      AE_FIELD(model.beta, "--beta", "Model", "VAE: weight β of the KL term"),
      AE_FIELD(model.beta_schedule, "--beta-schedule", "Model", "VAE: constant, warmup or cyclical"),
      AE_FIELD(model.beta_warmup, "--beta-warmup", "Model", "VAE: warm-up steps of β"),
      AE_FIELD(model.beta_period, "--beta-period", "Model", "VAE: steps per cycle of β"),
      AE_FIELD(model.beta_ratio, "--beta-ratio", "Model", "VAE: rising fraction of a β cycle"),
      AE_FIELD(model.dtype, "--dtype", "Model", "float32 or float64"),
      // the sparse autoencoders (models/sae.h, docs/sae.md)
      AE_FIELD(model.latents, "--latents", "Sparse autoencoder",
               "latents n (0: 16 × the input width)"),
      AE_FIELD(model.k, "--k", "Sparse autoencoder",
               "topk: active latents per row; batchtopk: their mean over a batch (jumprelu and "
               "relu-l1 ignore it: --penalty-weight sets their sparsity)"),
      AE_FIELD(model.auxk_alpha, "--auxk-alpha", "Sparse autoencoder",
               "topk, batchtopk: weight α of the AuxK loss on dead latents (Gao et al. 2024)"),
      AE_FIELD(model.auxk_k, "--auxk-k", "Sparse autoencoder",
               "topk, batchtopk: dead latents in the AuxK code (0: inputs / 2)"),
      AE_FIELD(model.dead_after, "--dead-after", "Sparse autoencoder",
               "a latent is dead after this many training samples without firing (0: "
               "min(10,000,000, the training rows))"),
      AE_FIELD(model.bandwidth, "--bandwidth", "Sparse autoencoder",
               "jumprelu: bandwidth ε of the straight-through estimators"),
      AE_FIELD(model.initial_threshold, "--initial-threshold", "Sparse autoencoder",
               "jumprelu: every latent's threshold θ at the start"),
      AE_FIELD(model.unit_norm_decoder, "--unit-norm-decoder", "Sparse autoencoder",
               "decoder rows kept at unit norm: auto (on except relu-l1), on or off"),
      AE_FIELD(model.decoder_bias_init, "--decoder-bias-init", "Sparse autoencoder",
               "b_dec at the start: median (geometric median of the first 10,000 training "
               "rows), mean or zero"),
      AE_FIELD(model.init, "--init", "Sparse autoencoder",
               "a SAELens or sparsify SAE folder whose weights start the training (ae export "
               "writes them): --model, --latents, --k and --unit-norm-decoder default to its, "
               "--normalize auto becomes none (its weights read the data as it is)"),
      // data
      AE_FIELD(data.path, "--data", "Data",
               "an MNIST-style IDX folder or file (raw or .gz), a CSV text file, a .npy or a .npz "
               "file; empty: the built-in synthetic 8x8 shapes",
               Scope::data_source),
      AE_FIELD(data.format, "--format", "Data",
               "auto (from the file's first bytes, else its name), idx, csv, npy, npz or safetensors",
               Scope::data_source),
      AE_FIELD(data.npz_key, "--npz-key", "Data",
               "NPZ and safetensors: the array to read (empty: the archive's only array; a "
               "safetensors file's tensor 'x', else its only tensor)", Scope::data_source),
      AE_FIELD(data.labels, "--labels", "Data",
               "a labels file for IDX, NPY or NPZ data (.npy, IDX, or a .npz of one array)",
               Scope::data_source),
      AE_FIELD(data.labels_key, "--labels-key", "Data",
               "NPZ: the labels' array, in the --labels .npz or else in the --data one",
               Scope::data_source),
      AE_FIELD(data.label_column, "--label-column", "Data",
               "CSV: the label column, by name or 0-based index", Scope::data_source),
      AE_FIELD(data.header, "--header", "Data", "CSV: auto, yes or no", Scope::data_source),
      AE_FIELD(data.delimiter, "--delimiter", "Data",
               "CSV: the field separator: auto (tab for *.tsv, else the first of , tab ; | and "
               "space that splits the first rows alike), one character, tab (or \\t) or space",
               Scope::data_source),
      AE_FIELD(data.decimal, "--decimal", "Data",
               "CSV: the decimal mark, . or , (\"-5,79539\", as Excel writes in much of Europe)",
               Scope::data_source),
      AE_FIELD(data.skip_rows, "--skip-rows", "Data",
               "CSV: lines to skip at the top of the file (a title, a line of counts)",
               Scope::data_source),
      AE_FIELD(data.limit, "--limit", "Data", "use only the first N samples (0: all)",
               Scope::data_source),
      AE_FIELD(data.exclude_labels, "--exclude-labels", "Data",
               "leave these classes out of training and validation, e.g. 7 or 3,8 (then `ae score "
               "--split all --anomaly-labels 7` finds them)"),
      AE_FIELD(data.image_shape, "--image-shape", "Data",
               "draw the samples as HxW (or HxWxC, channels last) pictures; default: the shape "
               "IDX or NPY files give, or a square of side 8 or more; else the data is a table"),
      AE_FIELD(data.normalize, "--normalize", "Data",
               "auto (data in [0, 1] as it is, else standardize; mean_norm for the sparse "
               "autoencoders), none, min_max (each feature to [0, 1]), standardize (each feature "
               "to mean 0, variance 1), pca (centred, 1/√m) or mean_norm (x · √d / E‖x‖, one "
               "scale, no shift), fitted on the training split"),
      AE_FIELD(data.validation, "--validation", "Data",
               "fraction of the samples held out for validation (0: none)"),
      AE_FIELD(data.seed, "--data-seed", "Data", "seed of the validation split and of the synthetic data"),
      AE_FIELD(data.stream, "--stream", "Data",
               "ae train: read a .npy file, or a folder of .npy or .safetensors shards, in blocks "
               "of 1 MiB (a 256th of smaller data) while training instead of loading it: memory bounded by "
               "--buffer-mb whatever the file's size; batches in a block-shuffled order (blocks "
               "shuffled, rows shuffled within windows of blocks); the normaliser fitted in one "
               "pass; --validation holds out every k-th block (k = round(1 / fraction)) from a "
               "first one drawn from --data-seed"),
      AE_FIELD(data.buffer_mb, "--buffer-mb", "Data",
               "--stream: MiB of rows held in memory, two windows of blocks (a batch must fit in "
               "one window)"),
      AE_FIELD(data.shapes_samples, "--shapes-samples", "Data", "synthetic data: number of samples"),
      AE_FIELD(data.shapes_noise, "--shapes-noise", "Data", "synthetic data: background noise in [0, 1]"),
      // training
      AE_FIELD(train.epochs, "--epochs", "Training", "passes over the training data"),
      AE_FIELD(train.batch_size, "--batch-size", "Training",
               "samples per optimizer step (the sparse autoencoders: 4096 unless given)"),
      AE_FIELD(train.optimizer, "--optimizer", "Training", "sgd, adam or adamw"),
      AE_FIELD(train.lr, "--lr", "Training",
               "learning rate (the sparse autoencoders: 4e-4 · √(2^14 / latents) · √(768 / inputs) unless given)"),
      AE_FIELD(train.lr_warmup, "--lr-warmup", "Training",
               "steps of a linear warm-up of the learning rate, times the --lr-schedule's "
               "(the sparse autoencoders: 1000, at most a tenth of the run's steps; others: 0)"),
      AE_FIELD(train.momentum, "--momentum", "Training", "sgd: momentum"),
      AE_FIELD(train.nesterov, "--nesterov", "Training", "sgd: Nesterov momentum"),
      AE_FIELD(train.weight_decay, "--weight-decay", "Training",
               "weight decay (L2 for sgd and adam, decoupled for adamw)"),
      AE_FIELD(train.adam_beta1, "--adam-beta1", "Training", "adam: β₁"),
      AE_FIELD(train.adam_beta2, "--adam-beta2", "Training", "adam: β₂"),
      AE_FIELD(train.adam_eps, "--adam-eps", "Training", "adam: ε"),
      AE_FIELD(train.lr_schedule, "--lr-schedule", "Training",
               "constant, step or cosine (the sparse autoencoders: cosine unless given)"),
      AE_FIELD(train.lr_step_size, "--lr-step-size", "Training", "step: epochs between decays"),
      AE_FIELD(train.lr_gamma, "--lr-gamma", "Training", "step: decay factor"),
      AE_FIELD(train.lr_min, "--lr-min", "Training", "cosine: the final learning rate"),
      AE_FIELD(train.lr_cosine_epochs, "--lr-cosine-epochs", "Training",
               "cosine: epochs to reach --lr-min (0: all of them)"),
      AE_FIELD(train.clip_norm, "--clip-norm", "Training", "clip the gradient's global norm (0: off)"),
      AE_FIELD(train.patience, "--patience", "Training",
               "stop after N epochs without a better validation loss (0: never)"),
      AE_FIELD(train.step_mode, "--step-mode", "Training",
               "fused (one optimizer launch, no host synchronisation), graph (CUDA: each step "
               "replayed as one captured graph) or eager (the reference); the same results"),
      AE_FIELD(train.tf32, "--tf32", "Training",
               "CUDA: float32 GEMMs on tensor cores in TF32 (about 1e-3 relative error)"),
      AE_FIELD(seed, "--seed", "Training", "seed of the parameters, the noise and the batch order"),
      AE_FIELD(device, "--device", "Training", "auto, cpu, cuda or cuda:N", Scope::data_source),
  };
  return table;
}

#undef AE_FIELD

// The JSON object at a dotted key's parent, created on the way.
json& parent_of(json& root, const std::string& key, std::string& leaf) {
  json* node = &root;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
    node = &(*node)[key.substr(start, dot - start)];
  leaf = key.substr(start);
  return *node;
}

bool in_scope(const Field& f, Scope scope) { return scope == Scope::all || f.scope == scope; }

// Every (dotted key, value) leaf of a JSON object.
void leaves(const json& j, const std::string& prefix, std::vector<std::pair<std::string, const json*>>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object())
      leaves(*it, key, out);
    else
      out.emplace_back(key, &*it);
  }
}

// Parses a name with one of the models' parse_* functions, naming the setting when it fails.
template <class Parse>
void check_name(const std::string& value, const char* flag, const char* key, Parse parse) {
  try {
    parse(value);
  } catch (const Error& e) {
    fail(cat(flag, " (", key, "): ", e.what()), e.kind());
  }
}

constexpr std::initializer_list<const char*> kModelKinds = {
    "auto", "ae", "dae", "sparse", "contractive", "vae", "topk", "batchtopk", "jumprelu", "relu-l1"};

void check_one_of(const std::string& value, const char* flag, const char* key,
                  std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  fail(cat(flag, " (", key, "): unknown value '", value, "' (", list, ")"));
}

}  // namespace

char delimiter_char(const std::string& setting) {
  if (setting == "auto") return 0;
  if (setting == "tab" || setting == "\\t" || setting == "\t") return '\t';
  if (setting == "space") return ' ';
  AE_CHECK(setting.size() == 1, "--delimiter (data.delimiter) must be auto, one character, tab "
           "(or \\t) or space, got '", setting, "'");
  return setting[0];
}

void check_noise_level(const std::string& noise, double level, const std::string& flag) {
  AE_CHECK(level >= 0, flag, " must be >= 0, got ", level);
  AE_CHECK(noise == "gaussian" || level <= 1, flag, " is a fraction for ", noise,
           " noise and must lie in [0, 1], got ", level);
  AE_CHECK(noise != "dropout" || level < 1, flag, " ", level, " is out of range for --noise "
           "dropout: it must lie in [0, 1), because dropout scales the inputs it keeps by "
           "1/(1 - level), which has no value at 1; --noise masking zeroes inputs without scaling");
}

bool is_sae(const std::string& model_kind) { return models::is_sae_kind(model_kind); }

RunConfig preset(const std::string& kind) {
  check_one_of(kind, "--model", "model.kind", kModelKinds);
  RunConfig c;
  c.model.kind = kind;
  if (kind == "vae" || kind == "auto") return c;
  if (is_sae(kind)) {
    // The recipe of docs/sae.md: large batches, a warm-up and a cosine decay to 0; λ as in
    // Anthropic's April 2024 update (relu-l1) and Rajamanoharan et al. 2024 (jumprelu).
    c.train.batch_size = 4096;
    c.train.lr_schedule = "cosine";
    c.train.lr_warmup = 1000;
    c.model.penalty_weight = kind == "relu-l1" ? 5 : kind == "jumprelu" ? 1 : 0;
    return c;
  }
  c.model.code = 16;
  if (kind == "dae") {
    c.model.noise = "masking";
    c.model.noise_level = 0.3;
  } else if (kind == "sparse") {
    c.model.code = 64;
    c.model.penalty = "kl_sparsity";
    c.model.penalty_weight = 0.1;
  } else if (kind == "contractive") {
    c.model.penalty = "contractive";
    c.model.penalty_weight = 0.01;
  }
  return c;
}

json to_json(const RunConfig& config) {
  json root = json::object();
  for (const Field& f : fields()) {
    std::string leaf;
    parent_of(root, f.key, leaf)[leaf] = f.get(config);
  }
  return root;
}

void apply_json(RunConfig& config, const json& j, const std::string& where) {
  AE_CHECK(j.is_object(), where, ": expected a JSON object, got ", j.type_name());
  std::vector<std::pair<std::string, const json*>> items;
  leaves(j, "", items);
  for (const auto& [key, value] : items) {
    if (key.rfind(std::string(kResolvedKey) + ".", 0) == 0) continue;
    const Field* field = nullptr;
    for (const Field& f : fields())
      if (f.key == key) field = &f;
    AE_CHECK(field != nullptr, where, ": unknown field '", key, "'");
    field->set_json(config, *value, where_field(where, key));
    config.given.insert(key);
  }
}

namespace {

std::string cut_value(const json* v) {
  if (v == nullptr) return "absent";
  const std::string text = v->dump();
  return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

Difference differs(std::string what, const json* a, const json* b) {
  return {true, std::move(what), cut_value(a), cut_value(b)};
}

}  // namespace

Difference json_difference(const json& a, const json& b, const std::string& key) {
  if (a == b) return {};
  if (a.is_object() && b.is_object()) {
    auto sub = [&](const std::string& k) { return key.empty() ? k : key + "." + k; };
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key())) return differs(sub(it.key()), &*it, nullptr);
      const Difference d = json_difference(*it, b[it.key()], sub(it.key()));
      if (d.found) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) return differs(sub(it.key()), nullptr, &*it);
  }
  return differs(key, &a, &b);
}

Difference setting_difference(const json& a, const json& b, const std::set<std::string>& skip) {
  auto find = [](const json& root, const std::string& key) -> const json* {
    const json* node = &root;
    size_t start = 0;
    for (size_t dot = 0; dot != std::string::npos; start = dot + 1) {
      dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
      if (!node->is_object() || !node->contains(part)) return nullptr;
      node = &(*node)[part];
    }
    return node;
  };
  for (const Field& f : fields()) {
    if (skip.count(f.key)) continue;
    const json *va = find(a, f.key), *vb = find(b, f.key);
    if ((va == nullptr) != (vb == nullptr) || (va != nullptr && *va != *vb))
      return differs(cat(f.flag, " (", f.key, ")"), va, vb);
  }
  return {};
}

json given_settings(const RunConfig& config) {
  json root = json::object();
  for (const Field& f : fields()) {
    if (config.given.count(f.key) == 0) continue;
    std::string leaf;
    parent_of(root, f.key, leaf)[leaf] = f.get(config);
  }
  return root;
}

json read_json_file(const std::string& path) {
  const io::Bytes bytes = io::read_file(path, uint64_t{16} << 20);
  // A config nests 2 levels; refusing deep nesting while parsing keeps every later walk
  // (leaves(), dump() in messages) shallow.
  constexpr int kMaxDepth = 8;
  const auto limit_depth = [&](int depth, json::parse_event_t, json&) {
    AE_CHECK(depth <= kMaxDepth, path, ": JSON nested deeper than ", kMaxDepth, " levels");
    return true;
  };
  try {
    return json::parse(bytes.begin(), bytes.end(), limit_depth);
  } catch (const json::exception& e) {  // parse errors, and numbers out of range such as 1e400
    // nlohmann reports "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string what = e.what();
    const size_t at = what.find("] ");
    fail(cat(path, ": not valid JSON: ", at == std::string::npos ? what : what.substr(at + 2)));
  }
}

void ConfigFlags::add_to(CLI::App& app, Scope scope, const RunConfig& defaults) {
  for (size_t i = 0; i < fields().size(); ++i) {
    const Field& f = fields()[i];
    if (!in_scope(f, scope)) continue;
    Bound b;
    b.field = i;
    bound_.push_back(b);
  }
  // Options keep pointers into bound_, which must not move from here on.
  for (Bound& b : bound_) {
    const Field& f = fields()[b.field];
    if (f.is_bool) {
      b.option = app.add_flag(f.flag, b.flag_value, f.help + " [" + f.key + "]");
    } else {
      b.option = app.add_option(f.flag, b.text, f.help + " [" + f.key + "]");
      b.option->default_str(f.shown_default(defaults))->type_name(f.type);
    }
    b.option->group(f.group);
  }
}

std::vector<std::string> ConfigFlags::given() const {
  std::vector<std::string> out;
  for (const Bound& b : bound_)
    if (b.option->count() > 0) out.push_back(fields()[b.field].flag);
  return out;
}

bool ConfigFlags::was_given(const std::string& flag) const {
  for (const Bound& b : bound_)
    if (fields()[b.field].flag == flag) return b.option->count() > 0;
  return false;
}

void ConfigFlags::apply(RunConfig& config) const {
  for (const Bound& b : bound_) {
    if (b.option->count() == 0) continue;
    const Field& f = fields()[b.field];
    f.set_text(config, f.is_bool ? (b.flag_value ? "true" : "false") : b.text, f.flag);
    config.given.insert(f.key);
  }
}

std::string requested_model_kind(const ConfigFlags& flags, const json* file) {
  RunConfig probe;
  flags.apply(probe);
  if (flags.was_given("--model")) return probe.model.kind;
  if (file != nullptr && file->is_object() && file->contains("model") && (*file)["model"].is_object() &&
      (*file)["model"].contains("kind") && (*file)["model"]["kind"].is_string())
    return (*file)["model"]["kind"].get<std::string>();
  return "auto";
}

namespace {

// The sparse autoencoders' settings: in range, and only with a sparse autoencoder; the other
// models' code settings not with one.
void check_sae(const RunConfig& c) {
  const ModelSettings& m = c.model;
  if (m.kind == "auto" && !m.init.empty()) return;  // --init names the kind (resolve_init)
  if (!is_sae(m.kind)) {
    // Compared with the defaults, not by whether they were given: a config.json of any run
    // holds every setting.
    const ModelSettings d;
    const std::pair<const char*, bool> set[] = {
        {"--latents", m.latents != d.latents},
        {"--k", m.k != d.k},
        {"--auxk-alpha", m.auxk_alpha != d.auxk_alpha},
        {"--auxk-k", m.auxk_k != d.auxk_k},
        {"--dead-after", m.dead_after != d.dead_after},
        {"--bandwidth", m.bandwidth != d.bandwidth},
        {"--initial-threshold", m.initial_threshold != d.initial_threshold},
        {"--unit-norm-decoder", m.unit_norm_decoder != d.unit_norm_decoder},
        {"--decoder-bias-init", m.decoder_bias_init != d.decoder_bias_init},
        {"--init", m.init != d.init}};
    for (const auto& [flag, differs] : set)
      AE_CHECK(!differs, flag, " is a setting of the sparse autoencoders (--model topk, "
               "batchtopk, jumprelu or relu-l1), not of --model ", m.kind);
    return;
  }
  AE_CHECK(m.penalty == "none", "--model ", m.kind, " takes no --penalty (got ", m.penalty,
           "): its sparsity is its own (docs/sae.md); --penalty-weight sets λ of relu-l1 and "
           "jumprelu");
  AE_CHECK(m.noise == "none" && !m.tied && m.l1 == 0 && m.l2 == 0, "--model ", m.kind,
           " takes no --noise, --tied, --l1 or --l2 (got noise ", m.noise, ", tied ",
           m.tied ? "true" : "false", ", l1 ", m.l1, ", l2 ", m.l2, ")");
  const bool selecting = m.kind == "topk" || m.kind == "batchtopk";
  AE_CHECK(!selecting || c.given.count("model.penalty_weight") == 0 || m.penalty_weight == 0,
           "--penalty-weight is λ of relu-l1 and jumprelu; --model ", m.kind, " sets its "
           "sparsity with --k");
  AE_CHECK(m.latents >= 0, "--latents (model.latents) must be >= 0 (0: 16 × the input width), "
           "got ", m.latents);
  AE_CHECK(m.k >= 1, "--k (model.k) must be >= 1, got ", m.k);
  AE_CHECK(!selecting || m.latents == 0 || m.k <= m.latents, "--k ", m.k, " exceeds --latents ",
           m.latents, ": at most every latent can be active");
  AE_CHECK(m.auxk_alpha >= 0, "--auxk-alpha (model.auxk_alpha) must be >= 0, got ", m.auxk_alpha);
  AE_CHECK(m.auxk_k >= 0, "--auxk-k (model.auxk_k) must be >= 0 (0: inputs / 2), got ", m.auxk_k);
  AE_CHECK(m.dead_after >= 0, "--dead-after (model.dead_after) must be >= 0 samples (0: auto), "
           "got ", m.dead_after);
  AE_CHECK(m.bandwidth > 0, "--bandwidth (model.bandwidth) must be positive, got ", m.bandwidth);
  AE_CHECK(m.initial_threshold > 0, "--initial-threshold (model.initial_threshold) must be "
           "positive, got ", m.initial_threshold);
  check_one_of(m.unit_norm_decoder, "--unit-norm-decoder", "model.unit_norm_decoder",
               {"auto", "on", "off"});
  check_one_of(m.decoder_bias_init, "--decoder-bias-init", "model.decoder_bias_init",
               {"median", "mean", "zero"});
}

}  // namespace

void validate(const RunConfig& c) {
  const ModelSettings& m = c.model;
  check_one_of(m.kind, "--model", "model.kind", kModelKinds);
  AE_CHECK(m.code > 0, "--code (model.code) must be positive, got ", m.code);
  check_name(m.activation, "--activation", "model.activation", models::parse_activation);
  check_name(m.code_activation, "--code-activation", "model.code_activation", models::parse_activation);
  check_one_of(m.data_kind, "--data-kind", "model.data_kind", {"auto", "binary", "real"});
  check_name(m.penalty, "--penalty", "model.penalty", models::parse_code_penalty);
  check_name(m.noise, "--noise", "model.noise", models::parse_noise);
  check_name(m.beta_schedule, "--beta-schedule", "model.beta_schedule", models::parse_beta_schedule);
  check_one_of(m.dtype, "--dtype", "model.dtype", {"float32", "float64"});
  AE_CHECK(m.l1 >= 0 && m.l2 >= 0 && m.penalty_weight >= 0, "--l1, --l2 and --penalty-weight must "
           "be >= 0, got ", m.l1, ", ", m.l2, " and ", m.penalty_weight);
  AE_CHECK(m.sparsity_target > 0 && m.sparsity_target < 1, "--sparsity (model.sparsity_target) "
           "must lie in (0, 1), got ", m.sparsity_target);
  check_noise_level(m.noise, m.noise_level, "--noise-level (model.noise_level)");
  AE_CHECK(m.beta >= 0, "--beta (model.beta) must be >= 0, got ", m.beta);
  AE_CHECK(m.beta_warmup > 0 && m.beta_period > 0 && m.beta_ratio > 0 && m.beta_ratio <= 1,
           "--beta-warmup and --beta-period must be positive and --beta-ratio in (0, 1], got ",
           m.beta_warmup, ", ", m.beta_period, " and ", m.beta_ratio);
  AE_CHECK(m.penalty != "kl_sparsity" || m.code_activation == "sigmoid",
           "--penalty kl_sparsity reads the code as probabilities and needs --code-activation "
           "sigmoid, got ", m.code_activation);
  AE_CHECK(m.kind != "vae" || (m.penalty == "none" && m.noise == "none" && !m.tied),
           "--model vae takes no --penalty, --noise or --tied (got penalty ", m.penalty, ", noise ",
           m.noise, ", tied ", m.tied ? "true" : "false", ")");
  check_sae(c);

  const DataSettings& d = c.data;
  check_one_of(d.format, "--format", "data.format",
               {"auto", "idx", "csv", "npy", "npz", "safetensors"});
  check_one_of(d.header, "--header", "data.header", {"auto", "yes", "no"});
  check_one_of(d.normalize, "--normalize", "data.normalize", {"auto", "none", "min_max", "standardize", "pca", "mean_norm"});
  const char delimiter = delimiter_char(d.delimiter);
  AE_CHECK(delimiter != '"' && delimiter != '#' && delimiter != '\n' && delimiter != '\r' &&
               delimiter != '.' && !(delimiter >= '0' && delimiter <= '9'),
           "--delimiter (data.delimiter): '", d.delimiter, "' cannot separate fields");
  check_one_of(d.decimal, "--decimal", "data.decimal", {".", ","});
  AE_CHECK(delimiter != d.decimal[0], "--delimiter and --decimal are both '", d.decimal,
           "'; with --decimal , the fields are separated by another character (--delimiter ';')");
  AE_CHECK(d.limit >= 0, "--limit (data.limit) must be >= 0, got ", d.limit);
  AE_CHECK(d.skip_rows >= 0, "--skip-rows (data.skip_rows) must be >= 0, got ", d.skip_rows);
  AE_CHECK(d.validation >= 0 && d.validation < 1, "--validation (data.validation) must lie in "
           "[0, 1), got ", d.validation);
  AE_CHECK(d.shapes_samples > 0, "--shapes-samples (data.shapes_samples) must be positive, got ",
           d.shapes_samples);
  AE_CHECK(d.buffer_mb >= 1 && d.buffer_mb <= (int64_t{1} << 30), "--buffer-mb (data.buffer_mb) ",
           "must lie in [1, 2^30], got ", d.buffer_mb);
  if (d.stream) {
    AE_CHECK(!d.path.empty(), "--stream reads a file or folder given by --data; the synthetic "
             "shapes are made in memory");
    AE_CHECK(d.format == "auto" || d.format == "npy" || d.format == "safetensors",
             "--stream reads .npy and .safetensors files and folders of their shards, not "
             "--format ", d.format);
    AE_CHECK(d.labels.empty() && d.labels_key.empty() && d.exclude_labels.values.empty() &&
                 d.limit == 0 && d.label_column.empty(),
             "--stream takes no --labels, --labels-key, --label-column, --exclude-labels or "
             "--limit");
  }

  const TrainSettings& t = c.train;
  AE_CHECK(t.epochs >= 1, "--epochs (train.epochs) must be >= 1, got ", t.epochs);
  AE_CHECK(t.batch_size >= 1, "--batch-size (train.batch_size) must be >= 1, got ", t.batch_size);
  check_name(t.optimizer, "--optimizer", "train.optimizer", models::parse_optimizer);
  check_name(t.lr_schedule, "--lr-schedule", "train.lr_schedule", models::parse_lr_schedule);
  AE_CHECK(t.lr > 0, "--lr (train.lr) must be positive, got ", t.lr);
  AE_CHECK(t.lr_warmup >= 0, "--lr-warmup (train.lr_warmup) must be >= 0, got ", t.lr_warmup);
  AE_CHECK(t.momentum >= 0 && t.momentum < 1, "--momentum (train.momentum) must lie in [0, 1), got ",
           t.momentum);
  AE_CHECK(!t.nesterov || t.momentum > 0, "--nesterov needs --momentum > 0");
  AE_CHECK(t.weight_decay >= 0, "--weight-decay (train.weight_decay) must be >= 0, got ", t.weight_decay);
  AE_CHECK(t.adam_beta1 >= 0 && t.adam_beta1 < 1 && t.adam_beta2 >= 0 && t.adam_beta2 < 1 &&
               t.adam_eps > 0,
           "--adam-beta1 and --adam-beta2 must lie in [0, 1) and --adam-eps be positive, got ",
           t.adam_beta1, ", ", t.adam_beta2, " and ", t.adam_eps);
  AE_CHECK(t.lr_step_size > 0 && t.lr_gamma > 0 && t.lr_min >= 0 && t.lr_cosine_epochs >= 0,
           "--lr-step-size and --lr-gamma must be positive, --lr-min and --lr-cosine-epochs >= 0");
  AE_CHECK(t.clip_norm >= 0, "--clip-norm (train.clip_norm) must be >= 0, got ", t.clip_norm);
  AE_CHECK(t.patience >= 0, "--patience (train.patience) must be >= 0, got ", t.patience);
  check_name(t.step_mode, "--step-mode", "train.step_mode", models::parse_step_mode);
  AE_CHECK(t.patience == 0 || d.validation > 0, "--patience needs validation data (--validation > 0)");
}

}  // namespace ae::run
