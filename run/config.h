// The configuration of a training run: every setting of the model, the data and the optimisation,
// from defaults, a JSON file (--config) and flags, in that order. The resolved configuration is
// saved as config.json in the run folder, and `ae train --config runs/x/config.json` repeats the
// run.
//
// Each setting is declared once, in the table of config.cpp: its JSON key, its flag, its help and
// the member it fills. Flags, JSON reading and writing and --help all follow that table.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace ae::run {

using nlohmann::json;

// Class labels, e.g. "--exclude-labels 7" or "3,8"; JSON: an array of integers.
struct LabelList {
  std::vector<int64_t> values;
};

struct ModelSettings {
  // ae, dae, sparse, contractive, vae, or auto: chosen from the data (resolve_auto_model); topk,
  // batchtopk, jumprelu, relu-l1: the sparse autoencoders of models/sae.h (docs/sae.md)
  std::string kind = "auto";
  std::vector<int64_t> hidden{256, 64};
  int64_t code = 2;
  std::string activation = "relu";
  std::string code_activation = "sigmoid";
  std::string data_kind = "auto";  // auto, binary, real
  bool tied = false;
  double l2 = 0;
  double l1 = 0;
  std::string penalty = "none";
  double penalty_weight = 0;
  double sparsity_target = 0.05;
  std::string noise = "none";
  double noise_level = 0;
  double beta = 1;
  std::string beta_schedule = "constant";
  int64_t beta_warmup = 1000;
  int64_t beta_period = 1000;
  double beta_ratio = 0.5;
  std::string dtype = "float32";
  // The sparse autoencoders (models/sae.h); 0 and "auto" are decided by resolve_sae once the
  // data is known.
  int64_t latents = 0;               // 0: 16 × the input width
  int64_t k = 32;                    // topk, batchtopk
  double auxk_alpha = 1.0 / 32;
  int64_t auxk_k = 0;                // 0: inputs / 2
  int64_t dead_after = 0;            // samples; 0: min(10,000,000, the training rows)
  double bandwidth = 0.001;          // jumprelu: ε
  double initial_threshold = 0.001;  // jumprelu: θ at the start
  std::string unit_norm_decoder = "auto";  // auto (on except relu-l1), on, off
  std::string decoder_bias_init = "median";  // median, mean, zero
  std::string init;                  // a SAELens or sparsify folder whose SAE starts training
};

struct DataSettings {
  std::string path;                 // empty: the built-in synthetic shapes
  std::string format = "auto";      // auto, idx, csv, npy, npz
  std::string npz_key;              // NPZ: the array to read (empty: the only one)
  std::string labels;               // a labels file (IDX, NPY or NPZ)
  std::string labels_key;           // NPZ: the labels' array (of --labels, else of --data)
  std::string label_column;         // CSV: a column name or 0-based index
  std::string header = "auto";      // CSV: auto, yes, no
  std::string delimiter = "auto";   // CSV: auto, one character, tab (or \t), space
  std::string decimal = ".";        // CSV: the decimal mark, . or ,
  int64_t skip_rows = 0;            // CSV: lines skipped at the top of the file
  int64_t limit = 0;                // use only the first N samples; 0 all
  LabelList exclude_labels;         // classes left out of training and validation
  std::string image_shape;          // "HxW" or "HxWxC": draw samples as pictures of this shape
  std::string normalize = "auto";   // auto, none, min_max, standardize, pca
  // Not a setting: why normalize is what it is when ae chose it in place of auto (the sparse
  // autoencoders' default, --init's weights); empty when given.
  std::string normalize_chosen_by;
  double validation = 0.1;          // fraction held out; 0 none
  bool stream = false;              // ae train: read the file in blocks (data/stream.h)
  int64_t buffer_mb = 256;          // --stream: MiB of rows held in memory
  uint64_t seed = 0;                // the validation split and the synthetic data
  int64_t shapes_samples = 4000;
  double shapes_noise = 0.1;
};

struct TrainSettings {
  int64_t epochs = 30;
  int64_t batch_size = 64;
  std::string optimizer = "adam";
  double lr = 4e-3;                // the sparse autoencoders: run::sae_learning_rate unless given
  int64_t lr_warmup = 0;           // steps of a linear warm-up of the learning rate
  double momentum = 0;
  bool nesterov = false;
  double weight_decay = 0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  std::string lr_schedule = "constant";
  int64_t lr_step_size = 10;
  double lr_gamma = 0.1;
  double lr_min = 0;
  int64_t lr_cosine_epochs = 0;  // 0: the number of epochs
  double clip_norm = 0;
  int64_t patience = 0;
  std::string step_mode = "fused";  // eager, fused, graph (train/trainer.h)
  bool tf32 = false;                // CUDA: float32 GEMMs in TF32
};

struct RunConfig {
  ModelSettings model;
  DataSettings data;
  TrainSettings train;
  uint64_t seed = 1;           // parameters, noise and batch order
  std::string device = "auto"; // auto, cpu, cuda, cuda:N
  // The JSON keys of the settings given by a file or a flag (apply_json, ConfigFlags::apply),
  // which resolve_auto_model leaves as they are. Not saved.
  std::set<std::string> given;
};

// The defaults of a model kind: `ae train --model dae` denoises with masking noise, `sparse`
// adds a KL sparsity penalty, `contractive` a contractive one; `auto` has the VAE's settings
// until the data decides (resolve_auto_model). Unknown kinds are an error.
RunConfig preset(const std::string& model_kind);
// Whether a model kind is one of the sparse autoencoders (topk, batchtopk, jumprelu, relu-l1).
bool is_sae(const std::string& model_kind);

// The settings in config.given, as a JSON object of the shape apply_json reads.
json given_settings(const RunConfig& config);

json to_json(const RunConfig& config);
// The object of a run's config.json that records what automatic settings became ("normalize":
// the map --normalize auto chose, "normalize_reason": why); facts about the run, not settings, so
// apply_json skips it.
inline constexpr const char* kResolvedKey = "resolved";
// Sets every field present in j (nested objects as in to_json); an unknown field or a value of
// the wrong type is an ae::Error naming `where` and the field ("run.json: field 'train.lr' must
// be a number, got \"fast\"").
void apply_json(RunConfig& config, const json& j, const std::string& where);
// Reads a JSON file (errors name the file, line and column).
json read_json_file(const std::string& path);

// Where two descriptions first differ: what (a dotted JSON key, or a setting's flag and key) and
// each side's value as JSON text cut to 40 characters ("absent" for a key one side lacks).
struct Difference {
  bool found = false;
  std::string what, a, b;
};
// The first difference of two JSON values, objects walked key by key (a's keys in order, then
// those only b has); `key` names the value itself ("" at the top).
Difference json_difference(const json& a, const json& b, const std::string& key = "");
// The first setting, in the order of the settings table, whose value differs between two
// configurations as to_json writes them, named "--epochs (train.epochs)"; keys in `skip` are
// left out.
Difference setting_difference(const json& a, const json& b, const std::set<std::string>& skip = {});

// Which settings a command offers as flags.
enum class Scope : uint8_t {
  all,          // train: everything
  data_source,  // analysis commands: where the data comes from (not how it is normalised or split)
};

// The flags of the settings, bound to their own storage; after parsing, apply() copies the
// flags that were given onto a configuration.
class ConfigFlags {
 public:
  // `defaults` are the values --help shows (the preset of the model asked for).
  void add_to(CLI::App& app, Scope scope, const RunConfig& defaults = RunConfig{});
  // The flags given on the command line, as "--lr".
  std::vector<std::string> given() const;
  bool was_given(const std::string& flag) const;
  void apply(RunConfig& config) const;  // errors name the flag and the text

 private:
  struct Bound {
    size_t field;  // index into the settings table
    CLI::Option* option = nullptr;
    std::string text;
    bool flag_value = false;  // for boolean settings
  };
  std::vector<Bound> bound_;
};

// The model kind a command line or config asks for: the --model flag, else the file's
// model.kind, else "auto".
std::string requested_model_kind(const ConfigFlags& flags, const json* file);

// The CSV field separator a --delimiter setting names: 0 for auto (sniffed from the file), '\t'
// for "tab" or "\t", ' ' for "space", else its one character; anything else is an error.
char delimiter_char(const std::string& setting);

// Checks that the names and ranges of a configuration make sense before anything is loaded:
// each message names the setting ("--lr (train.lr) must be positive, got -1").
void validate(const RunConfig& config);
// A corruption level for the noise named `noise` (models/noise.h), as `flag` gives it: >= 0, a
// fraction in [0, 1] for every kind but gaussian, below 1 for dropout; else an ae::Error
// naming the flag, the value, the valid range and why.
void check_noise_level(const std::string& noise, double level, const std::string& flag);

}  // namespace ae::run
