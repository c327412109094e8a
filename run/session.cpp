#include "run/session.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "analysis/metrics.h"
#include "run/prepare.h"
#include "run/run_folder.h"
#include "run/sae_formats.h"

namespace ae::run {

int64_t count_or(const RunArgs& a, int64_t fallback) {
  if (a.count == kCountNotGiven) return fallback;
  AE_CHECK(a.count >= 1, "-n/--count must be at least 1, got ", a.count);
  return a.count;
}

Device choose_device(const std::string& setting, const std::string& recorded_in) {
  if (setting == "auto") return default_device();
  const Device d = Device::parse(setting);
  const int count = cuda_device_count();
  if (d.is_cuda() && d.index >= count) {
    const std::string missing =
        count == 0 ? "no usable CUDA device (ae was built without CUDA, or there is no driver or GPU)"
                   : cat("only ", count, " CUDA device(s)");
    AE_CHECK(!recorded_in.empty(), "--device ", setting, ": ", missing);
    fail(cat(recorded_in, ": the run was trained with --device ", setting, ", and this machine has ",
             missing, "; add --device cpu", count > 0 ? " (or --device cuda:0)" : "",
             " to continue it here"));
  }
  return d;
}

models::CheckpointExtras run_extras(const RunConfig& config,
                                    const std::optional<models::Normalizer>& norm,
                                    const PictureShape& picture, const std::string& data_name) {
  models::CheckpointExtras extras;
  extras.metadata[kRunConfigKey] = to_json(config).dump();
  extras.metadata[kImageHeightKey] = std::to_string(picture.h);
  extras.metadata[kImageWidthKey] = std::to_string(picture.w);
  extras.metadata[kImageChannelsKey] = std::to_string(picture.c);
  extras.metadata[kDataNameKey] = data_name;
  if (norm) {
    extras.tensors = norm->to_safetensors();
    for (const auto& [key, value] : norm->metadata()) extras.metadata[key] = value;
  }
  return extras;
}

LoadedRun load_run(const std::string& where, const std::string& which, const std::string& device) {
  LoadedRun run;
  // A SAELens or sparsify folder is read as a checkpoint of its own (run/sae_formats.h).
  const bool foreign = is_sae_folder(where);
  const std::string path = foreign ? where : find_checkpoint(where, which);
  // Outputs go beside a run's checkpoint; a SAELens or sparsify folder is left as it is.
  run.folder = foreign ? "." : run_folder_of(path);
  run.checkpoint = foreign ? read_sae_folder(where) : models::read_checkpoint(path);
  const models::Checkpoint& c = run.checkpoint;
  const json config = [&] {
    try {
      return json::parse(c.metadata(kRunConfigKey));
    } catch (const json::exception& e) {
      fail(cat(path, ": metadata '", kRunConfigKey, "' is not valid JSON: ", e.what()));
    }
  }();
  run.config = preset(requested_model_kind(ConfigFlags{}, &config));
  apply_json(run.config, config, cat(path, ": metadata '", kRunConfigKey, "'"));
  if (c.file.metadata.count("norm.kind")) run.normalizer = models::Normalizer::load(c.file);
  if (models::AnomalyScorer::present(c.file)) run.scorer = models::AnomalyScorer::load(c.file);
  auto size = [&](const char* key) {
    const std::string& text = c.metadata(key);
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    AE_CHECK(!text.empty() && *end == '\0' && v >= 0 && v <= 1 << 20, path, ": metadata '", key,
             "' must be a picture size, got '", text, "'");
    return static_cast<int64_t>(v);
  };
  const int64_t channels = c.file.metadata.count(kImageChannelsKey) ? size(kImageChannelsKey) : 1;
  run.picture = picture_shape(run.config.data.image_shape, size(kImageHeightKey),
                              size(kImageWidthKey), channels, c.spec.input_width());
  run.data_name = c.metadata(kDataNameKey);
  run.device = choose_device(device);
  run.model = models::load_model(c, run.device);
  return run;
}

LoadedRun load_run(const RunArgs& a) {
  RunConfig flags;  // device "auto" unless --device says otherwise
  a.data_flags.apply(flags);
  return load_run(a.run, a.checkpoint, flags.device);
}

void refuse_sae(const LoadedRun& run, const char* command, const char* why) {
  const models::ModelSpec& spec = run.checkpoint.spec;
  AE_CHECK(spec.kind != models::ModelKind::sae, command, ": ", run.checkpoint.path,
           " holds a sparse autoencoder (", models::sae_kind_name(spec.sae.kind), ", ",
           spec.sae.latents, " latents), for which ", command, " would ", why,
           "; ae encode, reconstruct and eval serve it (docs/sae.md)");
}

Tensor encode(models::Model& model, const models::ModelSpec& spec, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor input = x.to(model.device()).to(model.dtype());
  return model.code(input);
}

models::Dataset analysis_data(const RunArgs& a, const LoadedRun& run, std::string& what,
                              std::vector<int64_t>* rows) {
  RunConfig config = run.config;
  if (a.data_flags.was_given("--data")) config.data = DataSettings{};
  a.data_flags.apply(config);
  const int64_t width = run.checkpoint.spec.input_width();
  auto all_rows = [&](int64_t n) {
    if (!rows) return;
    rows->resize(static_cast<size_t>(n));
    std::iota(rows->begin(), rows->end(), int64_t{0});
  };
  if (a.data_flags.was_given("--data")) {
    models::Dataset d = load_for_model(config.data, run.normalizer, width);
    // Every row of the file (--split is for the run's own data): say so, and whether the model
    // trained on some of them (the run's own file).
    std::error_code ec;
    const bool trained_on = !run.config.data.path.empty() &&
                            std::filesystem::equivalent(config.data.path, run.config.data.path, ec);
    const bool limited = config.data.limit > 0 && d.size() == config.data.limit;
    what = cat(d.name, " (", limited ? "the first " : "all ", d.size(), " samples of ",
               config.data.path,
               trained_on ? ", the file the run was trained on: its training samples included)" : ")");
    all_rows(d.size());
    return d;
  }
  // A sparse autoencoder read from SAELens or sparsify (or imported from one) has no data of its
  // own: run.config's empty path would otherwise mean the built-in shapes.
  AE_CHECK(!(run.checkpoint.spec.kind == models::ModelKind::sae && run.config.data.path.empty()),
           run.checkpoint.path, ": this sparse autoencoder records no data file (one read from "
           "a SAELens or sparsify folder has none); give the activations with --data");
  AE_CHECK(a.split == "val" || a.split == "train" || a.split == "all" || a.split == "held_out",
           "--split: unknown value '", a.split, "' (val, train, all, held_out)");
  PreparedData data = reload_data(config.data, run.normalizer);
  AE_CHECK(data.train.features() == width, data.train.name, ": ", data.train.features(),
           " features per sample, the model expects ", width);
  if (a.split == "all") {
    models::Dataset d = load_for_model(config.data, run.normalizer, width);
    what = cat(d.name, " (all ", d.size(), " samples, the ", data.train.size(),
               " training samples the model was fitted on included)");
    all_rows(d.size());
    return d;
  }
  const bool held_out = a.split == "held_out" && data.excluded.size() > 0;
  if (held_out) {
    // The validation samples and the excluded ones, in the order of the source data.
    std::vector<int64_t> source = data.val_rows;
    source.insert(source.end(), data.excluded_rows.begin(), data.excluded_rows.end());
    std::vector<int64_t> order(source.size());
    std::iota(order.begin(), order.end(), int64_t{0});
    std::sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return source[i] < source[j]; });
    models::Dataset both = data.excluded;
    if (data.val.size() > 0) {
      both.x = concat({data.val.x, data.excluded.x}, 0);
      both.labels = data.val.labels;
      both.labels.insert(both.labels.end(), data.excluded.labels.begin(), data.excluded.labels.end());
    }
    models::Dataset d = models::select(both, order);
    d.name = cat(data.name, "[held out]");
    std::string labels;
    for (int64_t l : config.data.exclude_labels.values) labels += cat(labels.empty() ? "" : ",", l);
    what = cat(d.name, " (", d.size(), " samples the model never trained on: ", data.val.size(),
               " validation and ", data.excluded.size(), " of the excluded labels ", labels, ")");
    if (rows) {
      rows->clear();
      for (int64_t i : order) rows->push_back(source[i]);
    }
    return d;
  }
  const bool val = (a.split == "val" || a.split == "held_out") && data.val.size() > 0;
  models::Dataset d = val ? data.val : data.train;
  what = cat(d.name, " (", d.size(), " samples)");
  if (rows) *rows = val ? data.val_rows : data.train_rows;
  return d;
}

models::Dataset training_data(const LoadedRun& run, const char* command) {
  AE_CHECK(!run.config.data.stream, "ae ", command, " fits on the run's training rows, and ",
           run.config.data.path, " was streamed in training (--stream): they are not read in "
           "memory; ae eval, encode and reconstruct take --data with rows that fit");
  return reload_data(run.config.data, run.normalizer).train;
}

std::vector<double> per_sample_error(models::Model& model, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor host = x.to(Device::cpu()).to(DType::f32);
  const Tensor error = sum(square(reconstruct_all(model, host) - host), 1);
  return error.to_vector();
}

std::vector<double> pca_error(const models::Pca& pca, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor x64 = x.to(Device::cpu()).to(DType::f64);
  return sum(square(pca.reconstruct(x64) - x64), 1).to_vector();
}

std::vector<ScoredMethod> score_with_baseline(models::Model& model, const models::ModelSpec& spec,
                                              const std::string& model_name, const Tensor& train,
                                              const Tensor& x, double contamination,
                                              const std::optional<models::AnomalyScorer>& scorer,
                                              int64_t& pca_k) {
  pca_k = std::min({spec.code_width(), train.size(1), train.size(0)});
  const models::Pca pca = models::Pca::fit(train, pca_k);
  std::vector<ScoredMethod> methods(2);
  methods[0].name = cat(model_name, " (code ", spec.code_width(), ")");
  const models::AnomalyScorer fitted = scorer ? *scorer : models::AnomalyScorer::fit(model, train);
  methods[0].scores = fitted.score(model, x);
  methods[0].threshold = models::quantile(fitted.score(model, train), 1 - contamination);
  methods[1].name = cat("PCA (", pca_k, pca_k == 1 ? " component)" : " components)");
  methods[1].scores = pca_error(pca, x);
  methods[1].threshold = models::quantile(pca_error(pca, train), 1 - contamination);
  return methods;
}

Tensor to_data_space(const std::optional<models::Normalizer>& norm, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor cpu = x.to(Device::cpu()).to(DType::f32);
  return norm ? norm->invert(cpu) : cpu;
}

std::pair<double, double> picture_range(const models::ModelSpec& spec,
                                        const std::optional<models::Normalizer>& norm) {
  if (spec.data() == models::DataKind::binary && !norm) return {0, 1};
  return {0, 0};
}

}  // namespace ae::run
