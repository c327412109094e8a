// The subcommands of `ae`. main.cpp declares their flags; each command's function reads the
// parsed arguments, calls models/ and writes its outputs. Every function returns the exit code;
// failures are thrown as ae::Error and main prints them as one line, "ae: <message>", exit 2.
#pragma once
#include <cstdint>
#include <string>

#include "run/config.h"
#include "run/session.h"

namespace ae::cli {

// The run layer (run/) is what the commands are made of.
using namespace ae::run;

struct TrainArgs {
  std::string config_file;  // --config
  std::string out;          // --out
  std::string resume;       // --resume
  bool quiet = false;
  bool no_pictures = false;
  ConfigFlags flags;
};
int run_train(TrainArgs& args);

int run_eval(RunArgs& args);
int run_reconstruct(RunArgs& args);
int run_sample(RunArgs& args);
int run_encode(RunArgs& args);
int run_pca(RunArgs& args);

struct DenoiseArgs {
  RunArgs run;
  std::string noise;     // empty: the model's training noise, else masking for a plain model
  double level = -1;     // < 0: the model's level, else 0.3
};
int run_denoise(DenoiseArgs& args);

struct ScoreArgs {
  RunArgs run;
  double contamination = 0.1;
  std::vector<int64_t> anomaly_labels;  // these classes are the anomalies (for AUC, precision)
};
int run_score(ScoreArgs& args);

// Information retrieval by code (semantic hashing): the training split is the database.
struct RetrieveArgs {
  RunArgs run;        // --split, --data: the queries; --count: how many of them
  int64_t k = 10;     // neighbours per query
  bool hash = false;  // bits and Hamming distance instead of codes and squared Euclidean
};
int run_retrieve(RetrieveArgs& args);

// A sparse autoencoder's run to SAELens's or sparsify's format (run/sae_formats.h): --out is the
// folder written.
struct ExportArgs {
  RunArgs run;
  std::string format;  // saelens or sparsify
};
int run_export(ExportArgs& args);

// A SAELens or sparsify folder to a run folder of ae's (config.json, best and latest checkpoints).
struct ImportArgs {
  std::string dir;
  std::string out;
};
int run_import(ImportArgs& args);

struct InfoArgs {
  std::string run;  // optional: a run folder or checkpoint to describe
  std::string checkpoint = "best";
  std::string config_file;
  ConfigFlags flags;  // a model described by flags, for its parameter count
};
int run_info(InfoArgs& args);

}  // namespace ae::cli
