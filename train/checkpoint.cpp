#include "train/checkpoint.h"

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/error.h"
#include "data/array.h"
#include "data/endian.h"

namespace ae::models {
namespace {

using nlohmann::json;

constexpr const char* kOptimizerM = "optimizer.m.";
constexpr const char* kOptimizerV = "optimizer.v.";

DType parse_dtype(const std::string& name, const std::string& where) {
  for (DType d : {DType::f32, DType::f64})
    if (name == dtype_name(d)) return d;
  fail(cat(where, ": unknown dtype '", name, "' (float32, float64)"));
}

// Strict reading of one JSON object: every field must be read exactly once, and leftovers are
// reported as unknown, so a typo in a hand-edited checkpoint does not pass silently.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    AE_CHECK(object_.is_object(), where_, ": expected a JSON object, got ", object_.type_name());
  }
  const json& get(const std::string& key) {
    auto it = object_.find(key);
    AE_CHECK(it != object_.end(), where_, ": missing field '", key, "'");
    seen_.insert(key);
    return *it;
  }
  std::string str(const std::string& key) {
    const json& v = get(key);
    AE_CHECK(v.is_string(), where_, ": field '", key, "' must be a string, got ", v.dump());
    return v.get<std::string>();
  }
  double num(const std::string& key) {
    const json& v = get(key);
    AE_CHECK(v.is_number(), where_, ": field '", key, "' must be a number, got ", v.dump());
    return v.get<double>();
  }
  int64_t integer(const std::string& key) {
    const json& v = get(key);
    AE_CHECK(v.is_number_integer(), where_, ": field '", key, "' must be an integer, got ",
             v.dump());
    return v.get<int64_t>();
  }
  uint64_t unsigned_integer(const std::string& key) {
    const json& v = get(key);
    AE_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), where_,
             ": field '", key, "' must be a non-negative integer, got ", v.dump());
    return v.get<uint64_t>();
  }
  bool boolean(const std::string& key) {
    const json& v = get(key);
    AE_CHECK(v.is_boolean(), where_, ": field '", key, "' must be true or false, got ", v.dump());
    return v.get<bool>();
  }
  std::vector<int64_t> widths(const std::string& key) {
    const json& v = get(key);
    AE_CHECK(v.is_array() && !v.empty(), where_, ": field '", key,
             "' must be a non-empty array of positive integers, got ", v.dump());
    std::vector<int64_t> out;
    for (const json& e : v) {
      AE_CHECK(e.is_number_integer() && e.get<int64_t>() > 0, where_, ": field '", key,
               "' must hold positive integers, got ", e.dump());
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  // Parses a name with one of the models' parse_* functions, naming the field when it fails.
  template <class Parse>
  auto named(const std::string& key, Parse parse) {
    const std::string text = str(key);
    try {
      return parse(text);
    } catch (const Error& e) {
      fail(cat(where_, ": field '", key, "': ", e.what()), e.kind());
    }
  }
  Fields object(const std::string& key) { return Fields(get(key), cat(where_, " (", key, ")")); }
  void finish() const {
    for (auto it = object_.begin(); it != object_.end(); ++it)
      AE_CHECK(seen_.count(it.key()) == 1, where_, ": unknown field '", it.key(), "'");
  }

 private:
  const json& object_;
  std::string where_;
  std::set<std::string> seen_;
};

std::string metadata_double(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", v);  // 17 digits: the same double when read back
  return text;
}

double parse_double(const std::string& text, const std::string& where, const std::string& key) {
  if (text == "inf") return std::numeric_limits<double>::infinity();
  if (text == "-inf") return -std::numeric_limits<double>::infinity();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  AE_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(v),
           where, ": metadata '", key, "' must be a number, got '", text, "'");
  return v;
}

int64_t parse_int(const std::string& text, const std::string& where, const std::string& key) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  AE_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0, where, ": metadata '",
           key, "' must be an integer, got '", text, "'");
  return v;
}

uint64_t parse_uint(const std::string& text, const std::string& where, const std::string& key) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  AE_CHECK(!text.empty() && text[0] != '-' && end == text.c_str() + text.size() && errno == 0,
           where, ": metadata '", key, "' must be a non-negative integer, got '", text, "'");
  return v;
}

std::string shape_text(const std::vector<int64_t>& shape) { return io::shape_string(shape); }

std::vector<int64_t> dims(const Shape& s) { return s.dims(); }

}  // namespace

const char* model_kind_name(ModelKind k) {
  return k == ModelKind::vae ? "vae" : k == ModelKind::sae ? "sae" : "autoencoder";
}

int64_t ModelSpec::input_width() const {
  if (kind == ModelKind::sae) return sae.inputs;
  return kind == ModelKind::vae ? vae.widths.front() : autoencoder.widths.front();
}

int64_t ModelSpec::code_width() const {
  if (kind == ModelKind::sae) return sae.latents;
  return kind == ModelKind::vae ? vae.latent : autoencoder.widths.back();
}

DataKind ModelSpec::data() const {
  if (kind == ModelKind::sae) return DataKind::real;
  return kind == ModelKind::vae ? vae.data : autoencoder.data;
}

std::string model_spec_json(const ModelSpec& spec) {
  json j;
  j["kind"] = model_kind_name(spec.kind);
  j["seed"] = spec.seed;
  if (spec.kind == ModelKind::sae) {
    const SaeConfig& c = spec.sae;
    j["sae"] = sae_kind_name(c.kind);
    j["inputs"] = c.inputs;
    j["latents"] = c.latents;
    j["k"] = c.k;
    j["auxk_alpha"] = c.auxk_alpha;
    j["auxk_k"] = c.auxk_k;
    j["dead_after"] = c.dead_after;
    j["l1"] = c.l1;
    j["l0"] = c.l0;
    j["bandwidth"] = c.bandwidth;
    j["initial_threshold"] = c.initial_threshold;
    j["threshold_momentum"] = c.threshold_momentum;
    j["unit_norm_decoder"] = c.unit_norm_decoder;
    j["dtype"] = dtype_name(c.dtype);
  } else if (spec.kind == ModelKind::vae) {
    const VaeConfig& c = spec.vae;
    j["widths"] = c.widths;
    j["latent"] = c.latent;
    j["hidden"] = activation_name(c.hidden);
    j["data"] = data_kind_name(c.data);
    j["beta"] = {{"kind", beta_schedule_name(c.beta.kind)},
                 {"value", c.beta.value},
                 {"warmup_steps", c.beta.warmup_steps},
                 {"period", c.beta.period},
                 {"ratio", c.beta.ratio}};
    j["dtype"] = dtype_name(c.dtype);
  } else {
    const AutoencoderConfig& c = spec.autoencoder;
    j["widths"] = c.widths;
    j["hidden"] = activation_name(c.hidden);
    j["code"] = activation_name(c.code);
    j["data"] = data_kind_name(c.data);
    j["tied"] = c.tied;
    j["l2"] = c.l2;
    j["l1"] = c.l1;
    j["regularize_biases"] = c.regularize_biases;
    j["penalty"] = code_penalty_name(c.penalty);
    j["penalty_weight"] = c.penalty_weight;
    j["sparsity_target"] = c.sparsity_target;
    j["noise"] = {{"kind", noise_name(c.noise.kind)},
                  {"level", c.noise.level},
                  {"low", c.noise.low},
                  {"high", c.noise.high}};
    j["dtype"] = dtype_name(c.dtype);
  }
  return j.dump();
}

ModelSpec parse_model_spec(const std::string& json_text, const std::string& where) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    fail(cat(where, ": the model description is not valid JSON: ", e.what()));
  }
  Fields f(j, where);
  ModelSpec spec;
  const std::string kind = f.str("kind");
  AE_CHECK(kind == "autoencoder" || kind == "vae" || kind == "sae", where,
           ": unknown model kind '", kind, "' (autoencoder, vae, sae)");
  spec.kind = kind == "vae" ? ModelKind::vae : kind == "sae" ? ModelKind::sae : ModelKind::autoencoder;
  spec.seed = f.unsigned_integer("seed");
  auto dtype = [&] { return f.named("dtype", [&](const std::string& s) { return parse_dtype(s, where); }); };
  if (spec.kind == ModelKind::sae) {
    SaeConfig& c = spec.sae;
    c.kind = f.named("sae", parse_sae_kind);
    c.inputs = f.integer("inputs");
    c.latents = f.integer("latents");
    AE_CHECK(c.inputs > 0 && c.latents > 0, where, ": fields 'inputs' (", c.inputs,
             ") and 'latents' (", c.latents, ") must be positive");
    c.k = f.integer("k");
    c.auxk_alpha = f.num("auxk_alpha");
    c.auxk_k = f.integer("auxk_k");
    c.dead_after = f.integer("dead_after");
    c.l1 = f.num("l1");
    c.l0 = f.num("l0");
    c.bandwidth = f.num("bandwidth");
    c.initial_threshold = f.num("initial_threshold");
    c.threshold_momentum = f.num("threshold_momentum");
    c.unit_norm_decoder = f.boolean("unit_norm_decoder");
    c.dtype = dtype();
  } else if (spec.kind == ModelKind::vae) {
    VaeConfig& c = spec.vae;
    c.widths = f.widths("widths");
    c.latent = f.integer("latent");
    AE_CHECK(c.latent > 0, where, ": field 'latent' must be positive, got ", c.latent);
    c.hidden = f.named("hidden", parse_activation);
    c.data = f.named("data", parse_data_kind);
    Fields b = f.object("beta");
    c.beta.kind = b.named("kind", parse_beta_schedule);
    c.beta.value = b.num("value");
    c.beta.warmup_steps = b.integer("warmup_steps");
    c.beta.period = b.integer("period");
    c.beta.ratio = b.num("ratio");
    b.finish();
    c.dtype = dtype();
  } else {
    AutoencoderConfig& c = spec.autoencoder;
    c.widths = f.widths("widths");
    AE_CHECK(c.widths.size() >= 2, where, ": field 'widths' needs the input and the code, got ",
             c.widths.size(), " entries");
    c.hidden = f.named("hidden", parse_activation);
    c.code = f.named("code", parse_activation);
    c.data = f.named("data", parse_data_kind);
    c.tied = f.boolean("tied");
    c.l2 = f.num("l2");
    c.l1 = f.num("l1");
    c.regularize_biases = f.boolean("regularize_biases");
    c.penalty = f.named("penalty", parse_code_penalty);
    c.penalty_weight = f.num("penalty_weight");
    c.sparsity_target = f.num("sparsity_target");
    Fields n = f.object("noise");
    c.noise.kind = n.named("kind", parse_noise);
    c.noise.level = n.num("level");
    c.noise.low = n.num("low");
    c.noise.high = n.num("high");
    n.finish();
    c.dtype = dtype();
  }
  f.finish();
  return spec;
}

std::unique_ptr<Model> build_model(const ModelSpec& spec, Device device) {
  if (spec.kind == ModelKind::sae)
    return std::make_unique<SparseAutoencoder>(spec.sae, spec.seed, device);
  if (spec.kind == ModelKind::vae) return std::make_unique<Vae>(spec.vae, spec.seed, device);
  return std::make_unique<Autoencoder>(spec.autoencoder, spec.seed, device);
}

io::SafeTensor to_safetensor(const std::string& name, const Tensor& t) {
  AE_CHECK(t.defined(), "to_safetensor: tensor '", name, "' is undefined");
  io::SafeTensor out;
  out.name = name;
  out.shape = dims(t.shape());
  if (t.dtype() == DType::f32) {
    const std::vector<float> v = t.to_floats();
    out = io::safetensor_f32(name, out.shape, v.data());
  } else {
    const std::vector<double> v = t.to_vector();
    out.dtype = "F64";
    out.bytes.resize(v.size() * 8);
    for (size_t i = 0; i < v.size(); ++i)
      io::store_as<double>(out.bytes.data() + i * 8, v[i], std::endian::little);
  }
  return out;
}

namespace {

// Refuses a NaN or infinity in a checkpoint tensor: a diverged model would load silently and
// give wrong results.
template <typename T>
void check_finite(const std::vector<T>& v, const std::string& where, const std::string& name) {
  for (size_t i = 0; i < v.size(); ++i)
    AE_CHECK(std::isfinite(v[i]), where, ": tensor '", name, "' holds ", v[i], " at flat index ", i,
             " (a diverged run?); a checkpoint's values must be finite");
}

}  // namespace

void copy_into(const io::SafeTensor& from, Tensor& into, const std::string& where) {
  const std::vector<int64_t> want = dims(into.shape());
  AE_CHECK(from.shape == want, where, ": '", from.name, "' has shape ", shape_text(from.shape),
           ", the model expects ", shape_text(want));
  const char* dtype = into.dtype() == DType::f32 ? "F32" : "F64";
  AE_CHECK(from.dtype == dtype, where, ": '", from.name, "' is ", from.dtype, ", the model expects ",
           dtype);
  AE_CHECK(from.bytes.size() == into.nbytes(), where, ": '", from.name, "' holds ",
           from.bytes.size(), " bytes for shape ", shape_text(from.shape));
  NoGradGuard no_grad;
  if (into.dtype() == DType::f32) {
    std::vector<float> v(static_cast<size_t>(into.numel()));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = io::load_as<float>(from.bytes.data() + i * 4, std::endian::little);
    check_finite(v, where, from.name);
    into.copy_(Tensor::from_host(v, into.shape(), into.device()));
  } else {
    std::vector<double> v(static_cast<size_t>(into.numel()));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = io::load_as<double>(from.bytes.data() + i * 8, std::endian::little);
    check_finite(v, where, from.name);
    into.copy_(Tensor::from_host(v, into.shape(), into.device()));
  }
}

void save_checkpoint(const std::string& path, const ModelSpec& spec, Model& model,
                     Optimizer* optimizer, const TrainingState& state,
                     const CheckpointExtras& extras) {
  const std::vector<Parameter> params = model.parameters();
  std::vector<io::SafeTensor> tensors;
  std::set<std::string> names;
  auto add = [&](io::SafeTensor t) {
    AE_CHECK(names.insert(t.name).second, "save_checkpoint: ", path, ": tensor name '", t.name,
             "' is used twice");
    tensors.push_back(std::move(t));
  };
  // Nothing that read_checkpoint or restore_model would refuse is written.
  AE_CHECK(!std::isnan(state.best_loss), "save_checkpoint: ", path, ": the best loss is NaN");
  for (const Parameter& p : params) {
    check_finite(p.value.to_vector(), cat("save_checkpoint: ", path), p.name);
    add(to_safetensor(p.name, p.value));
  }
  if (optimizer != nullptr) {
    const std::vector<Tensor>& op = optimizer->params();
    AE_CHECK(op.size() == params.size(), "save_checkpoint: ", path, ": the optimizer holds ",
             op.size(), " parameters, the model ", params.size());
    const auto& st = optimizer->state();
    for (size_t i = 0; i < params.size(); ++i) {
      AE_CHECK(op[i].impl() == params[i].value.impl(), "save_checkpoint: ", path,
               ": optimizer parameter ", i, " is not the model's '", params[i].name, "'");
      if (st[i].m.defined()) add(to_safetensor(kOptimizerM + params[i].name, st[i].m));
      if (st[i].v.defined()) add(to_safetensor(kOptimizerV + params[i].name, st[i].v));
    }
  }
  for (const Parameter& b : model.buffers()) add(to_safetensor(b.name, b.value));
  for (const io::SafeTensor& t : extras.tensors) add(t);

  std::map<std::string, std::string> meta = extras.metadata;
  for (const auto& [key, value] : meta)
    AE_CHECK(key.rfind("ae.", 0) != 0, "save_checkpoint: ", path, ": extra metadata key '", key,
             "' uses the reserved prefix 'ae.'");
  meta["ae.format"] = kCheckpointFormat;
  meta["ae.model"] = model_spec_json(spec);
  meta["ae.epoch"] = std::to_string(state.epoch);
  meta["ae.step"] = std::to_string(state.step);
  meta["ae.best_epoch"] = std::to_string(state.best_epoch);
  meta["ae.best_loss"] = metadata_double(state.best_loss);
  meta["ae.rng_seed"] = std::to_string(model.generator().seed());
  meta["ae.rng_offset"] = std::to_string(model.generator().offset());
  meta["ae.optimizer_steps"] = std::to_string(optimizer != nullptr ? optimizer->steps() : 0);
  io::write_safetensors(path, tensors, meta);
}

const io::SafeTensor& Checkpoint::tensor(const std::string& name) const {
  const io::SafeTensor* t = file.find(name);
  AE_CHECK(t != nullptr, path, ": no tensor '", name, "'");
  return *t;
}

const std::string& Checkpoint::metadata(const std::string& key) const {
  auto it = file.metadata.find(key);
  AE_CHECK(it != file.metadata.end(), path, ": no metadata '", key, "' (not an ae checkpoint?)");
  return it->second;
}

Checkpoint read_checkpoint(const std::string& path) {
  Checkpoint c;
  c.path = path;
  c.file = io::read_safetensors(path);
  const std::string& format = c.metadata("ae.format");
  AE_CHECK(format == kCheckpointFormat, path, ": checkpoint format '", format, "', this ae reads '",
           kCheckpointFormat, "'");
  c.spec = parse_model_spec(c.metadata("ae.model"), cat(path, ": metadata 'ae.model'"));
  c.state.epoch = parse_int(c.metadata("ae.epoch"), path, "ae.epoch");
  c.state.step = parse_int(c.metadata("ae.step"), path, "ae.step");
  c.state.best_epoch = parse_int(c.metadata("ae.best_epoch"), path, "ae.best_epoch");
  c.state.best_loss = parse_double(c.metadata("ae.best_loss"), path, "ae.best_loss");
  c.rng_seed = parse_uint(c.metadata("ae.rng_seed"), path, "ae.rng_seed");
  c.rng_offset = parse_uint(c.metadata("ae.rng_offset"), path, "ae.rng_offset");
  c.optimizer_steps = parse_int(c.metadata("ae.optimizer_steps"), path, "ae.optimizer_steps");
  AE_CHECK(c.state.epoch >= 0 && c.state.step >= 0 && c.optimizer_steps >= 0, path,
           ": negative epoch (", c.state.epoch, "), step (", c.state.step, ") or optimizer steps (",
           c.optimizer_steps, ")");
  AE_CHECK(c.rng_seed == c.spec.seed, path, ": generator seed ", c.rng_seed,
           " differs from the model's seed ", c.spec.seed);
  return c;
}

void restore_model(const Checkpoint& checkpoint, Model& model) {
  std::set<std::string> expected;
  for (Parameter& p : model.parameters()) {
    expected.insert(p.name);
    const io::SafeTensor* t = checkpoint.file.find(p.name);
    AE_CHECK(t != nullptr, checkpoint.path, ": no tensor '", p.name, "' for the model's parameter ",
             shape_text(dims(p.value.shape())));
    copy_into(*t, p.value, checkpoint.path);
  }
  // Any other tensor that looks like a parameter means the model and the file disagree.
  for (const io::SafeTensor& t : checkpoint.file.tensors) {
    const bool parameter_like = t.name.rfind("encoder.", 0) == 0 ||
                                t.name.rfind("decoder.", 0) == 0 || t.name.rfind("mu.", 0) == 0 ||
                                t.name.rfind("logvar.", 0) == 0;
    AE_CHECK(!parameter_like || expected.count(t.name) == 1, checkpoint.path, ": tensor '", t.name,
             "' ", shape_text(t.shape), " is not a parameter of the ",
             model_kind_name(checkpoint.spec.kind), " model");
  }
  // Buffers: a file without them (written before the model kept any) leaves the fresh ones.
  for (const Parameter& b : model.buffers()) {
    const io::SafeTensor* t = checkpoint.file.find(b.name);
    if (t == nullptr) continue;
    Tensor value = Tensor::empty(b.value.shape(), b.value.dtype(), Device::cpu());
    copy_into(*t, value, checkpoint.path);
    model.set_buffer(b.name, value);
  }
  AE_CHECK(model.generator().seed() == checkpoint.rng_seed, checkpoint.path, ": generator seed ",
           checkpoint.rng_seed, " differs from the model's ", model.generator().seed());
  model.generator().set_offset(checkpoint.rng_offset);
}

bool restore_optimizer(const Checkpoint& checkpoint, const Model& model, Optimizer& optimizer) {
  const std::vector<Parameter> params = model.parameters();
  AE_CHECK(optimizer.params().size() == params.size(), checkpoint.path, ": the optimizer holds ",
           optimizer.params().size(), " parameters, the model ", params.size());
  auto& state = optimizer.state();
  const bool adam = optimizer.config().kind != OptimizerKind::sgd;
  bool restored = false;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].value;
    const std::string m_name = kOptimizerM + params[i].name, v_name = kOptimizerV + params[i].name;
    const io::SafeTensor* m = checkpoint.file.find(m_name);
    const io::SafeTensor* v = checkpoint.file.find(v_name);
    AE_CHECK(!adam || (m != nullptr) == (v != nullptr), checkpoint.path, ": Adam's moments of '",
             params[i].name, "' are incomplete (", m_name, " ", m ? "present" : "absent", ", ",
             v_name, " ", v ? "present" : "absent", ")");
    AE_CHECK(adam || v == nullptr, checkpoint.path, ": tensor '", v_name, "' is Adam's, the optimizer is ",
             optimizer_name(optimizer.config().kind));
    // A moment the file lacks was never taken: the fresh optimizer's state stands.
    restored = restored || m != nullptr;
    if (m != nullptr) {
      state[i].m = Tensor::zeros(p.shape(), p.dtype(), p.device());
      copy_into(*m, state[i].m, checkpoint.path);
    }
    if (v != nullptr) {
      state[i].v = Tensor::zeros(p.shape(), p.dtype(), p.device());
      copy_into(*v, state[i].v, checkpoint.path);
    }
  }
  optimizer.set_steps(checkpoint.optimizer_steps);
  const bool stateless = !adam && optimizer.config().momentum == 0;
  return restored || stateless;
}

std::unique_ptr<Model> load_model(const Checkpoint& checkpoint, Device device) {
  std::unique_ptr<Model> model = build_model(checkpoint.spec, device);
  restore_model(checkpoint, *model);
  return model;
}

}  // namespace ae::models
