// ae._core: the engine's models, trainer and checkpoints for Python, through nanobind. No maths
// here: a fitted model is exactly what `ae train` builds from the same configuration (the
// command line's RunConfig, model_spec, trainer_config and run_extras), so the two read and
// write the same checkpoints and give the same numbers.
//
// Arrays: float32, C-contiguous, 2-d NumPy arrays or DLPack tensors (CPU or CUDA) are read in
// place (Tensor::from_external); anything else is refused here (the Python layer converts it
// once, with its documented rule). Results come back as NumPy arrays over the engine's own
// host memory, again without a copy.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/device.h"
#include "core/error.h"
#include "core/ops.h"
#include "train/checkpoint.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "analysis/metrics.h"
#include "train/trainer.h"
#include "models/vae.h"
#include "run/config.h"
#include "run/diagnose.h"
#include "run/online.h"
#include "run/prepare.h"
#include "run/run_folder.h"
#include "run/sae_formats.h"
#include "run/session.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace ae::python {
namespace {

// A read-only float32 matrix from NumPy or any DLPack producer, on the CPU or a CUDA device.
using InputArray = nb::ndarray<const float, nb::ndim<2>, nb::c_contig>;
using OutputArray = nb::ndarray<nb::numpy, float>;

Device device_of(const InputArray& a, const char* what) {
  if (a.device_type() == nb::device::cpu::value) return Device::cpu();
  AE_CHECK_KIND(type, a.device_type() == nb::device::cuda::value, what,
                ": arrays on DLPack device type ", a.device_type(),
                " are not supported (CPU and CUDA are)");
  const int count = cuda_device_count();
  AE_CHECK(a.device_id() < count, what, ": the array is on cuda:", a.device_id(), ", but ae has ",
           count == 0 ? std::string("no usable CUDA device (built without CUDA, or no driver or GPU)")
                      : cat("only ", count, " CUDA device(s)"));
  return Device::cuda(a.device_id());
}

// The engine's view of the array: the same memory, kept alive by the tensor.
Tensor as_tensor(const InputArray& a, const char* what) {
  const Device d = device_of(a, what);
  // The owner drops its reference to the Python object under the GIL, whichever thread frees
  // the tensor. Device memory is released only once ae's stream has finished reading it (ae's
  // work is asynchronous; the producer may reuse the memory as soon as it is released).
  auto* held = new InputArray(a);
  std::shared_ptr<void> owner(held, [d](void* p) {
    if (d.is_cuda()) {
      try {
        synchronize(d);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ae: waiting for %s before releasing an array failed: %s\n",
                     d.str().c_str(), e.what());
      }
    }
    nb::gil_scoped_acquire gil;
    delete static_cast<InputArray*>(p);
  });
  return Tensor::from_external(const_cast<float*>(a.data()),
                               Shape{static_cast<int64_t>(a.shape(0)), static_cast<int64_t>(a.shape(1))},
                               DType::f32, d, std::move(owner));
}

// A float32 host tensor as a NumPy array over the same memory.
OutputArray to_numpy(const Tensor& t) {
  Tensor host = t.to(Device::cpu()).to(DType::f32);
  auto* keep = new Tensor(host);
  nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  std::vector<size_t> shape;
  for (int i = 0; i < host.ndim(); ++i) shape.push_back(static_cast<size_t>(host.size(i)));
  return OutputArray(host.data_as<float>(), shape.size(), shape.data(), owner);
}

// Values as a NumPy array of `shape` (1-d when empty) that owns them (moved, not copied).
template <typename T>
nb::ndarray<nb::numpy, T> to_numpy(std::vector<T>&& v, std::vector<size_t> shape = {}) {
  auto* keep = new std::vector<T>(std::move(v));
  nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  if (shape.empty()) shape.push_back(keep->size());
  return nb::ndarray<nb::numpy, T>(keep->data(), shape.size(), shape.data(), owner);
}

// One epoch's numbers, named as the columns of a run's metrics.csv.
nb::dict epoch_row(const models::EpochReport& r, const std::vector<std::string>& terms,
                   int64_t samples, const run::Sparsity& sparsity) {
  nb::dict row;
  row["epoch"] = r.epoch + 1;
  for (const std::string& t : terms) row[("train_" + t).c_str()] = run::term(r.train, t);
  if (r.has_val)
    for (const std::string& t : terms) row[("val_" + t).c_str()] = run::term(r.val, t);
  row["lr"] = r.lr;
  row["steps"] = r.steps;
  row["seconds"] = r.seconds;
  row["samples_per_second"] = r.seconds > 0 ? static_cast<double>(samples) / r.seconds : 0.0;
  if (sparsity.measured)
    for (const auto& [name, value] : run::sparsity_columns(sparsity)) row[name.c_str()] = value;
  return row;
}

// A fitted or loaded model with everything `ae train` stores beside its parameters.
class FittedModel {
 public:
  // Trains a model as `ae train` would with the configuration `config_json` (the fields of a
  // run's config.json; absent ones take the model kind's defaults) on the rows of x (n, features).
  // on_batch(samples_done) runs after every optimizer step, on_epoch(row) after every epoch; an
  // exception from either (KeyboardInterrupt from Ctrl-C) stops training after that step and
  // leaves the model as it is; fit then re-raises it, the model stays usable through
  // `interrupted` (see the Python layer).
  static std::unique_ptr<FittedModel> fit(const std::string& config_json, const InputArray& x,
                                          nb::object on_batch, nb::object on_epoch) {
    auto m = std::make_unique<FittedModel>();
    run::RunConfig& config = m->config_;
    config = settings(config_json);
    // The engine's split and normaliser run on the host; a CUDA array is copied there once.
    models::Dataset all;
    all.x = as_tensor(x, "fit").to(Device::cpu());
    all.name = "array";
    std::string model_reason;
    const run::PreparedData data = run::prepare_for_model(config, all, model_reason);
    m->model_reason_ = model_reason;
    m->train(data, nullptr, on_batch, on_epoch);
    return m;
  }

  // fit on the rows of a .npy file or a folder of .npy or .safetensors shards, read in blocks
  // while training as `ae train --stream` reads them (data/stream.h).
  static std::unique_ptr<FittedModel> fit_stream(const std::string& config_json,
                                                 const std::string& path, nb::object on_batch,
                                                 nb::object on_epoch) {
    auto m = std::make_unique<FittedModel>();
    run::RunConfig& config = m->config_;
    run::json j = parse_json(config_json, "the estimator's settings");
    j["data"]["path"] = std::filesystem::absolute(path).lexically_normal().string();
    j["data"]["stream"] = true;
    config = settings(j.dump());
    if (config.model.kind == "auto") {
      const run::StreamPlan peek = run::plan_stream(config.data, config.seed);
      m->model_reason_ =
          run::resolve_auto_model(config, peek.files->features(), peek.files->image_h() > 0);
    }
    run::resolve_sae_normalization(config);
    run::StreamPlan plan;
    const run::PreparedData data = run::prepare_stream(config.data, config.seed, plan);
    m->train(data, &plan, on_batch, on_epoch);
    return m;
  }

  // The model the settings describe for rows that arrive batch by batch (partial_fit), built
  // untrained from the first batch x (n, features): the normaliser (mean_norm's scale) and the
  // decoder bias are estimated on x, and the automatic settings resolved for rows of unknown
  // number (run::resolve_sae). No validation split. A CUDA x puts the model on its device
  // unless the settings name one.
  static std::unique_ptr<FittedModel> start(const std::string& config_json, const InputArray& x) {
    auto m = std::make_unique<FittedModel>();
    run::RunConfig& config = m->config_;
    config = settings(config_json);
    config.data.validation = 0;
    const Tensor rows = as_tensor(x, "partial_fit");
    if (rows.device().is_cuda() && config.device == "auto") config.device = rows.device().str();
    models::Dataset first;
    first.x = rows.to(Device::cpu());  // the normaliser is fitted on the host
    first.name = "partial_fit";
    std::string model_reason;
    const run::PreparedData data = run::prepare_for_model(config, first, model_reason);
    m->build(data, -1);
    return m;
  }

  // One optimizer step per batch_size rows of x (n, features), in order, continuing the
  // optimizer's state of the previous calls (run::OnlineTraining); then the call's figures
  // become a row of history. on_batch(rows done) runs after each step; an exception from it
  // (KeyboardInterrupt) stops after that step, the row is still recorded, and it propagates.
  void partial_fit(const InputArray& x, nb::object on_batch) {
    if (!online_) online_ = std::make_unique<run::OnlineTraining>(*model_, spec_, config_);
    const Tensor rows =
        normalised(as_tensor(x, "partial_fit")).to(model_->device()).to(model_->dtype());
    rows_view_ = {reinterpret_cast<uintptr_t>(rows.data()), rows.device().str()};
    std::unique_ptr<nb::python_error> stop;
    {
      nb::gil_scoped_release release;
      try {
        online_->fit(rows, [&](int64_t done) {
          nb::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) throw nb::python_error();
          if (!on_batch.is_none()) on_batch(done);
        });
      } catch (nb::python_error& e) {
        stop = std::make_unique<nb::python_error>(std::move(e));
      }
    }
    const run::OnlineTraining::Report r = online_->take_report();
    state_.step = r.epoch.steps;
    optimizer_steps_ = r.epoch.steps;
    if (r.sparsity.sae) dead_latents_ = r.sparsity.dead_latents;
    history_.append(epoch_row(r.epoch, run::loss_terms(spec_), r.rows, r.sparsity));
    if (stop) {
      stop->restore();
      throw nb::python_error();
    }
  }

  // The rows the last partial_fit stepped over, as the engine saw them after normalisation:
  // (data pointer, device). Without normalisation, on the array's device and in the model's
  // dtype, they are the caller's own memory (for checking that nothing was copied).
  std::pair<uintptr_t, std::string> rows_view() const { return rows_view_; }

  // The sparse autoencoder in SAELens's or sparsify's format (run/sae_formats.h).
  void export_sae(const std::string& dir, const std::string& format) {
    run::export_sae(spec_, *model_, normalizer_, run::parse_sae_format(format), dir);
  }

  static std::unique_ptr<FittedModel> load(const std::string& path, const std::string& device) {
    auto m = std::make_unique<FittedModel>();
    run::LoadedRun run = run::load_run(path, "best", device);
    m->config_ = run.config;
    m->spec_ = run.checkpoint.spec;
    m->device_ = run.device;
    m->model_ = std::move(run.model);
    m->normalizer_ = run.normalizer;
    m->state_ = run.checkpoint.state;
    m->optimizer_steps_ = run.checkpoint.optimizer_steps;
    // What the checkpoint carried besides the model, written back unchanged by save().
    for (const auto& [key, value] : run.checkpoint.file.metadata)
      if (key.rfind("ae.", 0) != 0) m->extras_.metadata[key] = value;
    if (run.normalizer) m->extras_.tensors = run.normalizer->to_safetensors();
    m->scorer_ = run.scorer;
    return m;
  }

  // The checkpoint `ae train` writes (the model, its configuration, normaliser and training
  // state; no optimizer moments), read by `ae encode`, `ae score` and the rest. `data_path`,
  // when not empty, is recorded as the run's data (the file the rows came from), so that the
  // commands that reload the training data (`ae score`'s threshold, `ae eval`) find it; it must
  // be readable and have the model's input width (else an error, and nothing is written).
  void save(const std::string& path, const std::string& data_path) {
    models::CheckpointExtras extras = extras_;
    if (!data_path.empty()) {
      run::RunConfig config = config_;
      config.data.path = std::filesystem::absolute(data_path).string();
      // Read it now, before anything is written: a missing file or one of other rows would
      // otherwise only fail later, in `ae score` or `ae eval`.
      const models::Dataset data = run::load_data(config.data);
      const int64_t width = normalizer_ ? normalizer_->features() : spec_.input_width();
      AE_CHECK(data.features() == width, "save: data ", data_path, " has ", data.features(),
               " features per sample, but the model was fitted on ", width);
      extras.metadata[run::kRunConfigKey] = run::to_json(config).dump();
    }
    if (scorer_)
      for (io::SafeTensor& t : scorer_->to_safetensors()) extras.tensors.push_back(std::move(t));
    models::save_checkpoint(path, spec_, *model_, nullptr, state_, extras);
  }

  // The settings of the estimator (a run's config.json fields; absent ones take the model
  // kind's defaults), checked.
  static run::RunConfig settings(const std::string& config_json) {
    const run::json j = parse_json(config_json, "the estimator's settings");
    run::RunConfig config = run::preset(run::requested_model_kind(run::ConfigFlags{}, &j));
    run::apply_json(config, j, "the estimator's settings");
    run::validate(config);
    return config;
  }

  // Builds the model the settings describe for `data`, of `train_rows` training rows (< 0: not
  // known, rows arriving batch by batch), untrained.
  void build(const run::PreparedData& data, int64_t train_rows) {
    run::RunConfig& config = config_;
    run::resolve_sae(config, data.train, train_rows);
    spec_ = run::model_spec(config, data.train.features(), data.low, data.high, data.name);
    device_ = run::choose_device(config.device);
    set_matmul_precision(device_, config.train.tf32 ? MatmulPrecision::tf32 : MatmulPrecision::float32);
    model_ = models::build_model(spec_, device_);
    run::init_sae(*model_, config, run::decoder_bias_sample(data.train.x));
    normalizer_ = data.normalizer;
    extras_ = run::run_extras(config, data.normalizer,
                              run::picture_shape(config.data.image_shape, data.train.image_h,
                                                 data.train.image_w, data.train.image_c,
                                                 data.train.features()),
                              data.name);
  }

  // Builds the model the settings describe for `data` and trains it, on data.train (and
  // data.val) in memory, or on the streamed files of `plan`.
  void train(const run::PreparedData& data, run::StreamPlan* plan, nb::object on_batch,
             nb::object on_epoch) {
    const int64_t train_rows = plan ? plan->train_rows : data.train.size();
    build(data, train_rows);
    const run::RunConfig& config = config_;
    std::optional<models::StreamedRows> streamed_train, streamed_val;
    if (plan) run::open_stream(*plan, config, device_, model_->dtype(), streamed_train, streamed_val);
    const std::vector<std::string> terms = run::loss_terms(spec_);
    models::TrainerConfig trainer = run::trainer_config(config);
    // The estimator ends with the best epoch's parameters when it holds out validation data,
    // as scikit-learn's early-stopping estimators do.
    trainer.restore_best = true;
    trainer.on_batch = [&](int64_t samples, models::TrainStep&) {
      nb::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
      if (!on_batch.is_none()) on_batch(samples);
    };
    trainer.on_epoch = [&](const models::EpochReport& r, const models::TrainingState& state,
                           models::TrainStep& step) {
      state_ = state;
      optimizer_steps_ = step.optimizer().steps();
      const run::Sparsity sparsity = run::epoch_sparsity(*model_, spec_, data.train.x);
      if (sparsity.sae) dead_latents_ = sparsity.dead_latents;
      nb::gil_scoped_acquire gil;
      nb::dict row = epoch_row(r, terms, train_rows, sparsity);
      history_.append(row);
      if (!on_epoch.is_none()) on_epoch(row);
    };
    trainer.on_note = [&](const std::string& note) {
      nb::gil_scoped_acquire gil;
      if (!on_epoch.is_none()) on_epoch(nb::str(note.c_str()));
    };
    std::optional<run::CodeDiagnosis> diagnosis;
    try {
      nb::gil_scoped_release release;
      const models::TrainResult result =
          streamed_train
              ? models::Trainer(trainer).fit(*model_, *streamed_train,
                                             streamed_val ? &*streamed_val : nullptr, {})
              : models::Trainer(trainer).fit(*model_, data.train.x,
                                             data.val.size() > 0 ? data.val.x : Tensor(), {});
      state_ = result.state;
      // The checks `ae train` prints after training, for the Python layer to raise as warnings.
      diagnosis = run::diagnose_code(*model_, spec_, config, data);
    } catch (nb::python_error& e) {
      // Stopped between two steps: the parameters are whole; keep the model for the caller.
      interrupted_ = true;
      pending_ = std::make_unique<nb::python_error>(std::move(e));
    }
    if (diagnosis) {
      nb::dict& d = diagnosis_;
      d["warning"] = diagnosis->warning;
      d["split"] = diagnosis->split;
      d["units"] = diagnosis->activity.units;
      d["constant_units"] = static_cast<int64_t>(diagnosis->activity.constant.size());
      d["collapsed"] = diagnosis->collapsed;
      if (diagnosis->firing) d["dead_units"] = diagnosis->dead;
    } else if (dead_latents_ >= 0) {
      diagnosis_["dead_units"] = dead_latents_;  // a sparse autoencoder's, after its last epoch
    }
  }

  // A string the checkpoint carries for the Python layer (keys "python.*").
  void set_metadata(const std::string& key, const std::string& value) {
    AE_CHECK(key.rfind("python.", 0) == 0, "set_metadata: key '", key, "' must start with 'python.'");
    extras_.metadata[key] = value;
  }
  nb::dict metadata() const {
    nb::dict d;
    for (const auto& [key, value] : extras_.metadata) d[key.c_str()] = value;
    return d;
  }

  // The code of each row of x: the autoencoder's code, the VAE's posterior mean (ae encode).
  OutputArray encode(const InputArray& x) {
    const Tensor t = normalised(as_tensor(x, "transform"));
    return to_numpy(run::encode(*model_, spec_, t));
  }

  // A sparse autoencoder's code of each row of x as slots (models::SparseAutoencoder::encode):
  // the values (n, width) float32 and the latent of each slot (n, width) int32, -1 for an
  // empty slot (its value 0). width is k for topk; for the thresholded kinds, the most latents
  // active in one row.
  std::pair<OutputArray, nb::ndarray<nb::numpy, int32_t>> encode_sparse(const InputArray& x) {
    AE_CHECK(spec_.kind == models::ModelKind::sae, "encode(sparse=True): only a sparse "
             "autoencoder has a sparse code; this model is '", config_.model.kind, "'");
    NoGradGuard no_grad;
    const Tensor t = normalised(as_tensor(x, "encode")).to(model_->device()).to(model_->dtype());
    const SparseCode z = static_cast<models::SparseAutoencoder&>(*model_).encode(t);
    const auto rows = static_cast<size_t>(z.rows()), width = static_cast<size_t>(z.index->width);
    return {to_numpy(z.values.detach()), to_numpy(z.index->to_host(), {rows, width})};
  }

  // Codes z (n, code) decoded into data space (the normaliser inverted).
  OutputArray decode(const InputArray& z) {
    NoGradGuard no_grad;
    const Tensor t = as_tensor(z, "inverse_transform").to(model_->device()).to(model_->dtype());
    AE_CHECK(t.size(1) == spec_.code_width(), "inverse_transform: codes of width ", t.size(1),
             ", the model's code has ", spec_.code_width());
    const Tensor out = spec_.kind == models::ModelKind::vae
                           ? static_cast<models::Vae&>(*model_).decode(t)
                       : spec_.kind == models::ModelKind::sae
                           ? static_cast<models::SparseAutoencoder&>(*model_).decode(t)
                           : static_cast<models::Autoencoder&>(*model_).decode(t);
    return to_numpy(run::to_data_space(normalizer_, out));
  }

  // The reconstruction of each row of x, in data space.
  OutputArray reconstruct(const InputArray& x) {
    const Tensor t = normalised(as_tensor(x, "reconstruct"));
    return to_numpy(run::to_data_space(normalizer_, run::reconstruct_all(*model_, t)));
  }

  // Σ over features of (reconstruction − x)² per row, in the model's (normalised) space: the
  // anomaly score of `ae score`, (n) float64.
  nb::ndarray<nb::numpy, double> errors(const InputArray& x) {
    return to_numpy(run::per_sample_error(*model_, normalised(as_tensor(x, "score_samples"))));
  }

  // Fits the anomaly scorer (analysis/anomaly.h) on the rows the model trained on; saved with
  // the model from then on.
  void fit_scorer(const InputArray& x) {
    AE_CHECK(spec_.kind != models::ModelKind::sae, "AnomalyDetector: a sparse autoencoder (",
             config_.model.kind, ", ", spec_.code_width(), " latents) has no anomaly scorer: its "
             "Mahalanobis distance would span latents × latents; use ae.SparseAutoencoder");
    scorer_ = models::AnomalyScorer::fit(*model_, normalised(as_tensor(x, "fit")));
  }
  bool has_scorer() const { return scorer_.has_value(); }

  // The anomaly score of each row of x (models::AnomalyScorer::score, as `ae score`), (n)
  // float64; the scorer must have been fitted or loaded.
  nb::ndarray<nb::numpy, double> anomaly_scores(const InputArray& x) {
    AE_CHECK_KIND(state, scorer_.has_value(), "decision_function: the model has no anomaly "
                  "scorer (fit it, or load a checkpoint written by AnomalyDetector)");
    return to_numpy(scorer_->score(*model_, normalised(as_tensor(x, "decision_function"))));
  }

  // n draws from a VAE's prior, decoded into data space; seeded by `seed`.
  OutputArray sample(int64_t n, uint64_t seed) {
    AE_CHECK(spec_.kind == models::ModelKind::vae, "sample: only a variational autoencoder "
             "(model 'vae') has a prior to sample from; this model is '", config_.model.kind, "'");
    AE_CHECK(n > 0, "sample: n must be positive, got ", n);
    NoGradGuard no_grad;
    Generator gen(seed);
    return to_numpy(
        run::to_data_space(normalizer_, static_cast<models::Vae&>(*model_).sample(n, gen)));
  }

  std::string config_json() const { return run::to_json(config_).dump(); }
  std::string model_reason() const { return model_reason_; }
  std::string spec_json() const { return models::model_spec_json(spec_); }
  int64_t input_width() const { return spec_.input_width(); }
  int64_t code_width() const { return spec_.code_width(); }
  std::string device() const { return device_.str(); }
  int64_t epochs() const { return state_.epoch; }
  nb::list history() const { return history_; }
  // What run::diagnose_code found after fit (empty for a loaded or interrupted model): warning
  // ("" when none), split, units, constant_units, collapsed, and dead_units for a sparse code.
  nb::dict diagnosis() const { return diagnosis_; }
  bool interrupted() const { return interrupted_; }
  // Re-raises what stopped fit (KeyboardInterrupt, or an exception from a callback), once.
  void raise_pending() {
    if (!pending_) return;
    std::unique_ptr<nb::python_error> e = std::move(pending_);
    e->restore();
    throw nb::python_error();
  }

 private:
  static run::json parse_json(const std::string& text, const std::string& where) {
    try {
      return run::json::parse(text);
    } catch (const run::json::exception& e) {
      fail(cat(where, ": not valid JSON: ", e.what()));
    }
  }

  Tensor normalised(const Tensor& x) const {
    AE_CHECK(x.size(1) == spec_.input_width(), "X has ", x.size(1), " features, but the model "
             "was fitted on ", spec_.input_width());
    if (!normalizer_) return x;
    NoGradGuard no_grad;
    return normalizer_->apply(x);
  }

  run::RunConfig config_;
  models::ModelSpec spec_;
  Device device_;
  std::unique_ptr<models::Model> model_;
  std::optional<models::Normalizer> normalizer_;
  std::optional<models::AnomalyScorer> scorer_;
  std::string model_reason_;  // what model kind auto became, and why ("" when it was given)
  models::CheckpointExtras extras_;
  models::TrainingState state_;
  int64_t optimizer_steps_ = 0;
  nb::list history_;
  int64_t dead_latents_ = -1;  // a sparse autoencoder's after the last epoch; -1 otherwise
  std::unique_ptr<run::OnlineTraining> online_;  // partial_fit's step, from its first call
  std::pair<uintptr_t, std::string> rows_view_{0, ""};
  nb::dict diagnosis_;
  bool interrupted_ = false;
  std::unique_ptr<nb::python_error> pending_;
};

// The Python exception of an ae::Error follows from its kind (core/error.h), never from its
// message, which it carries unchanged: argument and data -> ValueError, type -> TypeError, file
// -> OSError (the subclass Python itself gives the error's errno, FileNotFoundError for a missing
// file, with .errno set), state -> scikit-learn's NotFittedError (a ValueError and an
// AttributeError).
nb::object exception_class(const Error& e) {
  switch (e.kind()) {
    case ErrorKind::argument:
    case ErrorKind::data: return nb::borrow(PyExc_ValueError);
    case ErrorKind::type: return nb::borrow(PyExc_TypeError);
    case ErrorKind::file:
      // OSError(errno, text) is an instance of the subclass for errno.
      if (e.os_error() != 0) return nb::borrow(nb::handle(PyExc_OSError)(e.os_error(), "").type());
      return nb::borrow(PyExc_OSError);
    case ErrorKind::state:
      try {
        return nb::module_::import_("sklearn.exceptions").attr("NotFittedError");
      } catch (nb::python_error&) {  // without scikit-learn: the ValueError that it subclasses
        return nb::borrow(PyExc_ValueError);
      }
  }
  return nb::borrow(PyExc_ValueError);
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const Error& e) {
    nb::object cls = exception_class(e);
    nb::object error = cls(e.what());
    if (e.os_error() != 0) error.attr("errno") = e.os_error();
    PyErr_SetObject(cls.ptr(), error.ptr());
  }
}

}  // namespace
}  // namespace ae::python

NB_MODULE(_core, m) {
  using ae::python::FittedModel;
  using ae::python::InputArray;
  m.doc() = "ae's engine: models, trainer and checkpoints (see the ae package for the estimators)";
  nb::register_exception_translator(ae::python::translate);

  nb::class_<FittedModel>(m, "FittedModel")
      .def_static("fit", &FittedModel::fit, "config_json"_a, "x"_a.noconvert(), "on_batch"_a.none(),
                  "on_epoch"_a.none())
      .def_static("fit_stream", &FittedModel::fit_stream, "config_json"_a, "path"_a,
                  "on_batch"_a.none(), "on_epoch"_a.none())
      .def_static("start", &FittedModel::start, "config_json"_a, "x"_a.noconvert())
      .def("partial_fit", &FittedModel::partial_fit, "x"_a.noconvert(), "on_batch"_a.none())
      .def_prop_ro("rows_view", &FittedModel::rows_view)
      .def_static("load", &FittedModel::load, "path"_a, "device"_a = "auto")
      .def("save", &FittedModel::save, "path"_a, "data_path"_a = "")
      .def("export_sae", &FittedModel::export_sae, "path"_a, "format"_a)
      .def("set_metadata", &FittedModel::set_metadata, "key"_a, "value"_a)
      .def_prop_ro("metadata", &FittedModel::metadata)
      .def("encode", &FittedModel::encode, "x"_a.noconvert())
      .def("encode_sparse", &FittedModel::encode_sparse, "x"_a.noconvert())
      .def("decode", &FittedModel::decode, "z"_a.noconvert())
      .def("reconstruct", &FittedModel::reconstruct, "x"_a.noconvert())
      .def("errors", &FittedModel::errors, "x"_a.noconvert())
      .def("fit_scorer", &FittedModel::fit_scorer, "x"_a.noconvert())
      .def("has_scorer", &FittedModel::has_scorer)
      .def_prop_ro("model_reason", &FittedModel::model_reason)
      .def("anomaly_scores", &FittedModel::anomaly_scores, "x"_a.noconvert())
      .def("sample", &FittedModel::sample, "n"_a, "seed"_a)
      .def("raise_pending", &FittedModel::raise_pending)
      .def_prop_ro("config_json", &FittedModel::config_json)
      .def_prop_ro("spec_json", &FittedModel::spec_json)
      .def_prop_ro("input_width", &FittedModel::input_width)
      .def_prop_ro("code_width", &FittedModel::code_width)
      .def_prop_ro("device", &FittedModel::device)
      .def_prop_ro("epochs", &FittedModel::epochs)
      .def_prop_ro("history", &FittedModel::history)
      .def_prop_ro("diagnosis", &FittedModel::diagnosis)
      .def_prop_ro("interrupted", &FittedModel::interrupted);

  // The engine's view of an array, for checking that nothing was copied: (data pointer, device).
  m.def("tensor_view", [](const InputArray& x) {
    const ae::Tensor t = ae::python::as_tensor(x, "tensor_view");
    return std::make_pair(reinterpret_cast<uintptr_t>(t.data()), t.device().str());
  }, "x"_a.noconvert());
  m.def("quantile", [](std::vector<double> v, double q) { return ae::models::quantile(std::move(v), q); },
        "values"_a, "q"_a, "The q-quantile of values, linearly interpolated (analysis/metrics.h; ae score's threshold).");
  // The CUDA stream ae orders its work on, for a DLPack producer: x.__dlpack__(stream=...) makes
  // the producer's pending writes to x complete before anything ae then queues on it.
  m.def("cuda_stream", [](int index) {
    return reinterpret_cast<uintptr_t>(ae::stream(ae::Device::cuda(index)));
  }, "index"_a);
  // ae train's settings for a model kind, before any file or flag (config.json's fields).
  m.def("preset_json", [](const std::string& kind) {
    return ae::run::to_json(ae::run::preset(kind)).dump();
  }, "kind"_a);
  // Whether a model kind is one of the sparse autoencoders (what SparseAutoencoder loads).
  m.def("is_sae", &ae::run::is_sae, "kind"_a);
  m.def("default_device", [] { return ae::default_device().str(); });
  m.def("cuda_device_count", &ae::cuda_device_count);
}
