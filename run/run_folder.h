// The run folder: where `ae train` writes its configuration, metrics, checkpoints and pictures,
// and where the other commands find them.
//
//   runs/<name>/config.json         the resolved configuration (ae train --config repeats it)
//   runs/<name>/metrics.csv, .json  one row per epoch, each loss term separately
//   runs/<name>/latest.safetensors  the state after the last finished epoch (--resume)
//   runs/<name>/best.safetensors    the state after the epoch with the lowest validation loss
//   runs/<name>/*.png               loss curve, latent scatter, reconstructions, samples
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/autoencoder.h"
#include "train/checkpoint.h"
#include "analysis/metrics.h"

namespace ae::run {

inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kLatestCheckpoint = "latest.safetensors";
inline constexpr const char* kBestCheckpoint = "best.safetensors";
inline constexpr const char* kMetricsCsv = "metrics.csv";
inline constexpr const char* kMetricsJson = "metrics.json";

std::string join_path(const std::string& folder, const std::string& file);

// "runs/vae-20261122-201500" (local time), with "-2", "-3", ... when that folder exists.
std::string default_run_folder(const std::string& model_kind);

// An error when `folder` exists and is not a folder, or already holds a run (a config or a
// checkpoint): the message suggests --resume or another --out. Nothing is created.
void check_new_run_folder(const std::string& folder);
// Creates the folder (and its parents), after check_new_run_folder.
void create_run_folder(const std::string& folder);

// The checkpoint a command reads: `where` is a .safetensors file, or a run folder (then
// `which` picks best or latest; best falls back to latest when there is no validation).
std::string find_checkpoint(const std::string& where, const std::string& which);
// The run folder that holds a checkpoint file (its parent folder).
std::string run_folder_of(const std::string& checkpoint_path);

// One epoch's numbers.
// A sparse code's firing over the training rows after an epoch (models::CodeFiring; which codes
// are sparse: run/diagnose.h): L0, the mean number of units firing per sample, and the shares of
// units that never fired (dead) and that fired on more than 10% of the samples (dense).
// A sparse autoencoder (models/sae.h) fills the same figures from its own counts of the epoch's
// training steps (SparseAutoencoder::take_activity), with its dead latents those past
// --dead-after samples without firing, and adds its reconstruction's figures.
struct Sparsity {
  bool measured = false;
  double l0 = 0, dead_fraction = 0, dense_fraction = 0;
  // A sparse autoencoder's: mean ‖x − x̂‖² per sample, FVU = Σ‖x − x̂‖² / Σ‖x − x̄‖² (x̄ the
  // epoch's mean row), its dead latents and the mean AuxK loss (before α).
  bool sae = false;
  double mse = 0, fvu = 0, auxk = 0;
  int64_t dead_latents = 0;
  // The epoch's firing counts per latent over `samples` rows (the firing picture; not saved).
  std::vector<int64_t> fired;
  int64_t samples = 0;
};
// The figures by the names of their metrics.csv columns, in column order: l0, dead_fraction,
// dense_fraction, and for a sparse autoencoder mse, fvu, explained_variance (1 − fvu),
// dead_latents, auxk.
std::vector<std::pair<std::string, double>> sparsity_columns(const Sparsity& s);

struct EpochMetrics {
  int64_t epoch = 0;  // from 1
  models::LossValues train;
  models::LossValues val;
  bool has_val = false;
  double lr = 0;
  int64_t steps = 0;
  double seconds = 0;
  double samples_per_second = 0;
  Sparsity sparsity;
};

// The loss terms a model reports: total and reconstruction always, penalty when the model has
// a penalty or weight regulariser, kl for the VAE.
std::vector<std::string> loss_terms(const models::ModelSpec& spec);
double term(const models::LossValues& v, const std::string& name);

// Writes metrics.csv and metrics.json atomically. `code`, when given, is added to metrics.json
// as "code": how the finished model's code units vary (see code_activity_json).
void write_metrics(const std::string& folder, const std::vector<EpochMetrics>& history,
                   const std::vector<std::string>& terms, const models::CodeActivity* code = nullptr,
                   const std::string& code_split = "");
// Reads metrics.json back (for --resume); a missing file gives an empty history.
std::vector<EpochMetrics> read_metrics(const std::string& folder);

// Writes text atomically.
void write_text(const std::string& path, const std::string& text);

}  // namespace ae::run
