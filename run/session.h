// A trained run, loaded: its checkpoint, configuration, normaliser and model, ready for the
// analysis commands.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "core/device.h"
#include "train/checkpoint.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "analysis/anomaly.h"
#include "analysis/pca.h"
#include "run/config.h"
#include "run/pictures.h"

namespace ae::run {

// Metadata keys ae train adds to its checkpoints (train/checkpoint.h reserves "ae.").
inline constexpr const char* kRunConfigKey = "run.config";
inline constexpr const char* kImageHeightKey = "data.image_h";
inline constexpr const char* kImageWidthKey = "data.image_w";
inline constexpr const char* kImageChannelsKey = "data.image_c";  // absent before channels: 1
inline constexpr const char* kDataNameKey = "data.name";

inline constexpr int64_t kCountNotGiven = INT64_MIN;  // -n: the command's default

// What the analysis commands share: which run, which checkpoint, which data.
struct RunArgs {
  std::string run;                  // a run folder or a .safetensors file
  std::string checkpoint = "best";  // best or latest, when `run` is a folder
  std::string split = "val";        // val, train or all: the run's own data, when no --data
  std::string out;                  // the output file (or folder), default in the run folder
  int64_t count = kCountNotGiven;   // how many samples to show or use
  uint64_t seed = 0;                // noise and sampling draws
  ConfigFlags data_flags;           // --data and how to read it, --device
};

// --count, or `fallback` when it was not given; a count below 1 is an error.
int64_t count_or(const RunArgs& args, int64_t fallback);

// "auto" picks ae's default device (AE_DEVICE, else CUDA when usable, else the CPU). A CUDA
// device this machine lacks is an error naming --device; with `recorded_in` (the config.json a
// resumed run's setting came from) it names that file and the recorded device instead, and
// suggests --device cpu.
Device choose_device(const std::string& setting, const std::string& recorded_in = "");

struct LoadedRun {
  std::string folder;  // the run folder (where outputs go by default)
  models::Checkpoint checkpoint;
  RunConfig config;
  std::optional<models::Normalizer> normalizer;
  std::optional<models::AnomalyScorer> scorer;  // when the checkpoint carries one
  std::unique_ptr<models::Model> model;
  Device device;
  PictureShape picture;  // of the training data's samples; is_image() false for a table
  std::string data_name;
};

// `where` is a run folder or a checkpoint file; `which` best or latest.
LoadedRun load_run(const std::string& where, const std::string& which, const std::string& device);
// The run, checkpoint and --device of an analysis command.
LoadedRun load_run(const RunArgs& args);

// The checkpoint metadata and tensors ae train adds: the run configuration, the normaliser and
// the data's picture size.
models::CheckpointExtras run_extras(const RunConfig& config,
                                    const std::optional<models::Normalizer>& norm,
                                    const PictureShape& picture, const std::string& data_name);

// An ae::Error for a command that a sparse autoencoder's run does not serve (`why`: what the
// command would build over its many latents); nothing for other runs.
void refuse_sae(const LoadedRun& run, const char* command, const char* why);

// The model's code for x (n, features): the autoencoder's code, the VAE's posterior mean, a
// sparse autoencoder's latents as a dense (n, latents) matrix.
Tensor encode(models::Model& model, const models::ModelSpec& spec, const Tensor& x);

// The data an analysis command works on: --data (read as its flags say, normalised with the
// run's normaliser) when given, else the run's own data, the part --split names: val, train,
// all, or held_out (the validation split plus the samples of --exclude-labels: every sample the
// model never trained on); val and held_out fall back to train for a run without them. `what`
// describes it for messages; `rows`, when given, receives each sample's row in the source data.
models::Dataset analysis_data(const RunArgs& args, const LoadedRun& run, std::string& what,
                              std::vector<int64_t>* rows = nullptr);

// The run's training split, normalised as in training (for thresholds and baselines).
// `command` ("score", "pca", "retrieve") fits on the rows (thresholds, the PCA baseline, the
// retrieval database); a run trained with --stream has none in memory: an ae::Error naming the
// command and the file.
models::Dataset training_data(const LoadedRun& run, const char* command);

// Σ over features of (reconstruction − x)² for each row of x (n, features), in the model's
// (normalised) space, computed in batches: (n) on the host.
std::vector<double> per_sample_error(models::Model& model, const Tensor& x);

// Σ over features of (PCA's reconstruction − x)² for each row of x (n, features), on the host.
std::vector<double> pca_error(const models::Pca& pca, const Tensor& x);

// The anomaly scores of x (n, features) by the model (`scorer`, else a models::AnomalyScorer
// fitted on `train`) and by the PCA baseline (PCA's error with the model's code size, fitted on
// `train`), each with its threshold: the (1 − contamination) quantile of its scores on `train`.
// `pca_k` receives PCA's size.
std::vector<ScoredMethod> score_with_baseline(models::Model& model, const models::ModelSpec& spec,
                                              const std::string& model_name, const Tensor& train,
                                              const Tensor& x, double contamination,
                                              const std::optional<models::AnomalyScorer>& scorer,
                                              int64_t& pca_k);

// The model's reconstruction of x, in batches, on the host in float32 (analysis/anomaly.h).
using models::reconstruct_all;

// x (n, features) from the model's space back to the data's (the normaliser inverted), on the
// host in float32.
Tensor to_data_space(const std::optional<models::Normalizer>& norm, const Tensor& x);
inline Tensor to_data_space(const LoadedRun& run, const Tensor& x) {
  return to_data_space(run.normalizer, x);
}

// The values pictures map to black..white: [0, 1] for binary data that was not normalised,
// else {0, 0}: the range of the values shown.
std::pair<double, double> picture_range(const models::ModelSpec& spec,
                                        const std::optional<models::Normalizer>& norm);

}  // namespace ae::run
