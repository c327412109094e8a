// The data of a run: loading by format, the validation split, the normaliser fitted on the
// training split, and the model description that follows from data and settings.
#pragma once
#include <optional>
#include <string>

#include "train/checkpoint.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "data/stream.h"
#include "train/trainer.h"
#include "run/config.h"

namespace ae::run {

// The format of `path` for --format auto: a folder is IDX; a file is what its first bytes say
// (io::sniff_file: IDX, NPY, NPZ or text, gzipped or not), and a file of a format ae does not
// read (Parquet, HDF5, Excel, ...) is an error naming it, with how to convert it. Bytes of no
// known kind fall back to the name: "*-ubyte*" / "*.idx*" is IDX, "*.csv[.gz]", "*.tsv",
// "*.txt" are CSV, "*.npy" NPY, "*.npz" NPZ; otherwise an error that shows the first bytes.
std::string detect_format(const std::string& path);

// The samples as stored (no split, no normalisation), the first data.limit of them when set.
models::Dataset load_data(const DataSettings& data);

struct PreparedData {
  std::string name;       // the whole set's, for titles ("shapes", "mnist-t10k")
  models::Dataset train;  // normalised
  models::Dataset val;    // normalised; size() 0 without a validation split
  // The samples of --exclude-labels (from both parts), normalised; size() 0 without them.
  models::Dataset excluded;
  // Each part's rows in the source data (0-based, after --limit), in increasing order.
  std::vector<int64_t> train_rows, val_rows, excluded_rows;
  std::optional<models::Normalizer> normalizer;  // none for --normalize none (or auto on [0, 1])
  std::string normalization;  // the map applied: none, min_max, standardize or pca
  std::string normalization_reason;  // why: "as asked", or what --normalize auto found
  double low = 0, high = 1;  // the range of the normalised training data
  std::vector<std::string> notes;  // hints about how the data was read (models::Dataset::notes)
};

// load_data, then the seeded split, the classes of --exclude-labels taken out of both parts
// (and kept aside in `excluded`), and the normaliser fitted on the training part
// (--normalize auto: models::choose_normalization of the training part).
// The parts and their normalised values live in the memory the file was read into: the data is
// held once (docs/scale.md#memory).
PreparedData prepare_data(const DataSettings& data);
// The same for samples already in memory; data.path is not read. Given `all` to consume (an
// rvalue), its rows are rearranged and normalised in its own memory; given samples the caller
// keeps (the Python package's arrays, read in place), they are left as they are and copied once,
// and only when the split or the normalisation changes them.
PreparedData prepare_data(models::Dataset&& all, const DataSettings& data);
PreparedData prepare_data(const models::Dataset& all, const DataSettings& data);

// Model kind `auto` made concrete once the data is known: samples that are pictures (image_h > 0:
// IDX, NPY of 2-d or 4-d samples, the built-in shapes) get the VAE; a table gets the autoencoder
// that ae's anomaly detection defaults describe (docs/anomaly-detection.md), for d features:
//   code k = round(√d) clamped to [2, 32], one hidden layer of max(2k, min(d, 64)) units, a
//   linear code, --normalize auto -> standardize.
// Settings in `config.given` keep their values. Returns the one-line reason ("a table of 21
// features: ..."), or "" when the kind was not auto.
std::string resolve_auto_model(RunConfig& config, int64_t features, bool pictures);

// Model kind auto made concrete for the data (resolve_auto_model: pictures or a table, and how
// many features), then prepare_data. `reason` receives resolve_auto_model's line ("" when the
// kind was given).
PreparedData prepare_for_model(RunConfig& config, std::string& reason);
PreparedData prepare_for_model(RunConfig& config, const models::Dataset& all, std::string& reason);

// --stream: the files stay on disk and are read in blocks while training (data/stream.h).
struct StreamPlan {
  std::shared_ptr<const models::RowFiles> files;
  models::StreamOptions train;               // its device and dtype are the caller's to set
  std::optional<models::StreamOptions> val;  // none without a validation split
  int64_t train_rows = 0, val_rows = 0;
};
// Opens the files (every header checked first), splits their blocks, and fits the normaliser
// (and decides --normalize auto) in one pass over the training blocks. With a validation split,
// its part's windows take a quarter of --buffer-mb and training's the rest. The PreparedData returned
// describes the data (name, normaliser, range) but its train and val hold only the first rows of
// each part (at most 10,000, and at most a sixteenth of the buffer each), for the pictures and the code
// check; `order_seed` seeds the block-shuffled order.
// (With model kind auto, call resolve_auto_model on plan_stream's files first: the
// normalisation it chooses decides how the stream is normalised.)
PreparedData prepare_stream(const DataSettings& data, uint64_t order_seed, StreamPlan& plan);
// The sources of a plan's parts on `device` in `dtype` (its options' device and dtype set);
// an error naming --batch-size and --buffer-mb when a batch does not fit in a window of the
// buffer. No reading starts before training does.
void open_stream(StreamPlan& plan, const RunConfig& config, Device device, DType dtype,
                 std::optional<models::StreamedRows>& train,
                 std::optional<models::StreamedRows>& val);
// The plan alone: the files opened (headers checked), the blocks split, the options of each part
// without a normaliser; nothing else is read.
StreamPlan plan_stream(const DataSettings& data, uint64_t order_seed);

// The same split of the same data again (for the analysis commands), normalised with the
// run's saved normaliser instead of a refit.
PreparedData reload_data(const DataSettings& data, const std::optional<models::Normalizer>& norm);

// Other data for a trained model: loaded, normalised with the run's normaliser, its width
// checked against the model's input (an error names the file and both widths).
models::Dataset load_for_model(const DataSettings& data,
                               const std::optional<models::Normalizer>& norm, int64_t input_width);

// The model a configuration describes for data of `features` columns in [low, high]. The data
// kind "auto" becomes binary when the data lies in [0, 1], else real; "binary" with data
// outside [0, 1] is an error naming the range.
models::ModelSpec model_spec(const RunConfig& config, int64_t features, double low, double high,
                             const std::string& data_name);

// The sparse autoencoders (docs/sae.md): latents = 16 × the inputs when --latents is 0; a latent
// is dead after min(10,000,000, the training rows) samples without firing when --dead-after is 0;
// the first 10,000 training rows give b_dec.
inline constexpr int64_t kSaeExpansion = 16;
inline constexpr int64_t kSaeDeadAfter = 10000000;
inline constexpr int64_t kSaeBiasRows = 10000;
// A sparse autoencoder's default learning rate (Adam) for n latents and d inputs:
//   lr = 4e-4 · √(2^14 / n) · √(768 / d).
// 1/√n is Gao et al. 2024's scaling with the latents. 1/√d keeps Adam's step, about lr per weight,
// the same fraction of a unit-norm decoder row's entries (about 1/√d) at every width. The
// constant 4e-4 (twice Gao et al.'s 2e-4 at d = 768) is the multiple that won the mean held-out
// FVU of topk and batchtopk over real and synthetic activations of 64 to 768 inputs, at 600 and
// 4,800 steps (docs/sae.md, "The learning rate"). Throws ae::Error unless both are positive.
double sae_learning_rate(int64_t latents, int64_t features);
// Makes a sparse autoencoder's automatic settings concrete once the data is known: --latents 0,
// --dead-after 0, and --lr when not given (sae_learning_rate). Returns
// what it decided in one line ("" for other models, or when nothing was automatic). Throws
// ae::Error (data) when the training samples are the entries of a 3-d or 4-d array file (.npy,
// .npz, .safetensors), not rows: activations of (batch, tokens, width) would be read as pictures.
// train_rows < 0: the rows arrive batch by batch and their number is not known (Python's
// partial_fit): --dead-after 0 becomes kSaeDeadAfter and the warm-up is not shortened.
std::string resolve_sae(RunConfig& config, const models::Dataset& train, int64_t train_rows);
// --normalize auto for a sparse autoencoder: mean_norm (called before the data is normalised).
void resolve_sae_normalization(RunConfig& config);
// The training rows b_dec is initialised from: the first kSaeBiasRows of them.
Tensor decoder_bias_sample(const Tensor& train);
// --init (model.init): the settings of the SAE in that SAELens or sparsify folder
// (run/sae_formats.h) made the run's where not given: --model, --latents, --k (selecting kinds)
// and --unit-norm-decoder; --normalize auto becomes none. A given setting that differs is an
// ae::Error naming both. Nothing without --init. Called before the data is read.
void resolve_init(RunConfig& config);
// A sparse autoencoder's starting weights: those of --init's SAE (its data must not be
// normalised: --normalize none), else b_dec from `sample` by --decoder-bias-init (median, mean;
// zero leaves it); nothing for other models. Not for a resumed run, whose weights are in its
// checkpoint.
void init_sae(models::Model& model, const RunConfig& config, const Tensor& sample);

// The trainer a configuration describes (optimizer, schedule, batches, seeds, step mode); the
// hooks are left empty. restore_best is off: ae train keeps the best epoch in best.safetensors.
models::TrainerConfig trainer_config(const RunConfig& config);

}  // namespace ae::run
