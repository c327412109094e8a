// ae: the command line. Declares the subcommands and their flags (CLI11), runs the chosen one and
// turns every failure into one line on stderr, "ae: <message>", with exit code 2.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "core/comm.h"
#include "core/error.h"
#include "tools/commands.h"

using namespace ae::cli;

namespace {

// The flags every analysis command shares.
void add_run_args(CLI::App& cmd, RunArgs& a, const char* out_help) {
  cmd.add_option("run", a.run, "a run folder (runs/<name>), a .safetensors checkpoint, or a "
                               "SAELens or sparsify SAE folder")
      ->required();
  cmd.add_option("--checkpoint", a.checkpoint, "best or latest (for a run folder)")
      ->capture_default_str();
  cmd.add_option("--split", a.split,
                 "without --data: the run's validation (val), training (train) or whole (all) "
                 "data, or held_out: the validation data and the samples of --exclude-labels, "
                 "none of which the model trained on")
      ->capture_default_str();
  cmd.add_option("-o,--out", a.out, out_help);
  a.data_flags.add_to(cmd, Scope::data_source);
}

std::string examples(std::initializer_list<const char*> lines) {
  std::string out = "\nExamples:\n";
  for (const char* l : lines) out += std::string("  ") + l + "\n";
  return out;
}

// The defaults --help shows: those of the model named by --model on the command line (so that
// `ae train --model ae --help` shows the plain autoencoder's code size), else those of auto.
RunConfig help_defaults(int argc, char** argv) {
  std::string kind = "auto";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--model" && i + 1 < argc) kind = argv[i + 1];
    if (arg.rfind("--model=", 0) == 0) kind = arg.substr(8);
  }
  try {
    return preset(kind);
  } catch (const std::exception&) {
    return RunConfig{};  // an unknown model is reported when the flags are applied
  }
}

// OpenMP (libgomp, which OpenBLAS and ae's loops share) reads its spin count when it loads,
// before main. Its default, 300,000 spins before an idle thread sleeps, makes a step 10-30x
// slower when other processes hold the cores (main job on 2 busy cores: 197 s against 35 s with
// 1,000 spins; idle: 1.12 s against 1.16 s). So, unless the user chose a policy, ae starts again
// once with GOMP_SPINCOUNT=1000; if that fails it simply runs as it is. (The Python package
// applies the same rule as it loads the engine: python/ae/__init__.py.)
void use_a_short_openmp_spin(char** argv) {
  if (std::getenv("GOMP_SPINCOUNT") || std::getenv("OMP_WAIT_POLICY")) return;
  if (setenv("GOMP_SPINCOUNT", "1000", 1) != 0) return;
  execv("/proc/self/exe", argv);
}

// An error found before any communicator exists (the command line itself): every rank of an
// mpirun job parses the same arguments and fails alike, so rank 0 alone prints it (the launcher's
// rank, core/comm.h) and every rank exits with code 2.
template <class... Args>
int refuse_command_line(const char* format, Args... args) {
  if (ae::launcher_rank() == 0) std::fprintf(stderr, format, args...);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  use_a_short_openmp_spin(argv);
  CLI::App app{"ae: train and inspect autoencoders (plain, denoising, sparse, contractive, "
               "variational)",
               "ae"};
  app.require_subcommand(1);
  app.footer(examples({"ae train                                  # VAE on the built-in shapes",
                       "ae train --data ../shared/data/mnist --epochs 5",
                       "ae reconstruct runs/<name>",
                       "ae <command> --help                       # each command's flags"}));

  TrainArgs train;
  CLI::App* c_train = app.add_subcommand("train", "train a model; writes a run folder with "
                                                  "metrics, checkpoints and pictures");
  c_train->add_option("--config", train.config_file,
                      "a JSON configuration (a run's config.json repeats that run); flags override it");
  c_train->add_option("-o,--out", train.out, "the run folder (default runs/<model>-<time>)");
  c_train->add_option("--resume", train.resume,
                      "continue the run in this folder from its latest.safetensors");
  c_train->add_flag("-q,--quiet", train.quiet, "print nothing but errors and warnings (on stderr)");
  c_train->add_flag("--no-pictures", train.no_pictures, "skip the PNG pictures");
  const RunConfig shown_defaults = help_defaults(argc, argv);
  train.flags.add_to(*c_train, Scope::all, shown_defaults);
  c_train->footer(examples({
      "ae train                                          # VAE, 2-D code, on the synthetic shapes",
      "ae train --data ../shared/data/mnist --epochs 10 --out runs/mnist-vae",
      "ae train --model dae --data ../shared/data/mnist --code 32 --noise-level 0.4",
      "ae train --data table.csv --label-column class --normalize standardize --model ae",
      "ae train --config runs/mnist-vae/config.json --out runs/again   # the same run again",
      "ae train --resume runs/mnist-vae --epochs 20                     # 10 more epochs"}));

  RunArgs eval, reconstruct, sample, encode, pca;
  DenoiseArgs denoise;
  ScoreArgs score;

  CLI::App* c_eval = app.add_subcommand("eval", "the losses of a trained model on data");
  add_run_args(*c_eval, eval, "also write the numbers as JSON to this file");
  c_eval->footer(examples({"ae eval runs/mnist-vae", "ae eval runs/mnist-vae --split train",
                           "ae eval runs/mnist-vae/latest.safetensors --data other-digits/"}));

  CLI::App* c_rec = app.add_subcommand("reconstruct", "PNG grid: originals above their reconstructions");
  add_run_args(*c_rec, reconstruct, "the PNG file (default <run>/reconstructions.png), or a "
                                     ".npy file: every sample's reconstruction, in the data's "
                                     "space, as float32 rows");
  c_rec->add_option("-n,--count", reconstruct.count, "samples to show (default 16)");
  c_rec->footer(examples({"ae reconstruct runs/mnist-vae -n 32 -o rec.png"}));

  CLI::App* c_sample = app.add_subcommand(
      "sample", "VAE: PNG grid of samples from the prior, and a latent traversal grid");
  add_run_args(*c_sample, sample,
               "the PNG file (default <run>/samples.png; the traversal goes beside it)");
  c_sample->add_option("-n,--count", sample.count, "samples to draw (default 64)");
  c_sample->add_option("--seed", sample.seed, "seed of the prior draws")->capture_default_str();
  c_sample->footer(examples({"ae sample runs/mnist-vae -n 100 --seed 7"}));

  CLI::App* c_denoise = app.add_subcommand("denoise", "PNG rows: clean, corrupted and restored samples");
  add_run_args(*c_denoise, denoise.run, "the PNG file (default <run>/denoise.png)");
  c_denoise->add_option("-n,--count", denoise.run.count, "samples to show (default 12)");
  c_denoise->add_option("--seed", denoise.run.seed, "seed of the corruption")->capture_default_str();
  c_denoise->add_option("--noise", denoise.noise,
                        "gaussian, salt_and_pepper, masking or dropout (default: the model's "
                        "training noise, else masking)");
  c_denoise->add_option("--noise-level", denoise.level,
                        "σ for gaussian, the corrupted fraction for the others (default: the "
                        "model's, else 0.3)");
  c_denoise->footer(examples({"ae denoise runs/mnist-dae --noise gaussian --noise-level 0.5"}));

  CLI::App* c_score = app.add_subcommand(
      "score", "anomaly scores: per-sample reconstruction error beside the PCA baseline (the "
               "same code size, fitted on the same training split), a threshold from the training "
               "data, CSV out, ROC AUC and average precision for labelled anomalies");
  score.run.split = "held_out";
  add_run_args(*c_score, score.run, "the CSV file (default <run>/scores.csv)");
  c_score->add_option("--contamination", score.contamination,
                      "expected fraction of anomalies: the threshold is the (1 - c) quantile "
                      "of the training scores")
      ->capture_default_str();
  c_score->add_option("--anomaly-labels", score.anomaly_labels,
                      "labels of the anomalous classes, e.g. 7 or 3,8: reports ROC AUC, "
                      "average precision, precision and recall (default: the run's "
                      "--exclude-labels)")
      ->delimiter(',');
  c_score->footer(
      "\nBy default a run trained with --exclude-labels is scored on what it never trained on "
      "(held_out)\nwith those labels as the anomalies. scores.csv: index (the row in the source "
      "data, from 0,\nheader and comments not counted), score, anomaly (above the threshold), "
      "pca_score, label.\n" +
      examples({"ae score runs/mnist-no7                          # held out, label 7 the anomaly",
                "ae score runs/mnist-ae --split all --anomaly-labels 7",
                "ae score runs/sensors --data new-readings.csv -o flagged.csv"}));

  CLI::App* c_encode = app.add_subcommand("encode", "codes of the data to .npy and .csv");
  add_run_args(*c_encode, encode,
               "the .npy file (default <run>/codes.npy; the CSV and the picture of the codes, "
               ".png, go beside it)");
  c_encode->footer(examples({"ae encode runs/mnist-vae --split all -o codes.npy"}));

  CLI::App* c_pca = app.add_subcommand(
      "pca", "the PCA baseline with the model's code size, beside the model's error");
  add_run_args(*c_pca, pca, "the PNG file (default <run>/pca.png)");
  c_pca->add_option("-n,--count", pca.count, "samples to show (default 12)");
  c_pca->footer(examples({"ae pca runs/mnist-ae"}));

  RetrieveArgs retrieve;
  CLI::App* c_retrieve = app.add_subcommand(
      "retrieve", "information retrieval by code (semantic hashing): each query's nearest "
                  "training samples, precision@k beside the input and PCA");
  add_run_args(*c_retrieve, retrieve.run,
               "the CSV file (default <run>/neighbours.csv, with --hash neighbours-hash.csv; "
               "the picture goes beside it: <run>/retrieval.png or retrieval-hash.png, or the "
               "CSV's name with .png)");
  c_retrieve->add_option("-k,--k", retrieve.k,
                         "neighbours per query, at most the training split's size")
      ->capture_default_str();
  c_retrieve->add_option("-n,--count", retrieve.run.count,
                         "queries: the first N of the split or --data (default all, at most 1000 "
                         "to keep the input baseline quick)");
  c_retrieve->add_flag("--hash", retrieve.hash,
                       "semantic hashing: codes cut into bits (above 0.5 for a sigmoid code, the "
                       "middle of its range; above 0 for any other, a VAE's mean included) and "
                       "compared by Hamming distance. Default: squared Euclidean distance "
                       "between the codes");
  c_retrieve->footer(
      "\nThe database is the run's training split, encoded by the model (a VAE: its mean); the "
      "queries\nare --split (default val) or --data. With labels, precision@k (the share of a "
      "query's k\nneighbours with its label) is printed for the codes, the normalised inputs and "
      "PCA with the\ncode's size, searched the same way (hashing cuts inputs and PCA at the "
      "training mean).\nEqual distances go to the lower training index. With --split train a query "
      "is not its own\nneighbour; with --split all a training sample finds itself at distance 0.\n"
      "neighbours.csv: query, rank, database_index (a row of the training split), distance, and the\n"
      "labels; retrieval.png (pictures only): the first 10 queries, each followed by its "
      "neighbours.\n" +
      examples({"ae retrieve runs/mnist-ae                     # val queries, 10 neighbours each",
                "ae retrieve runs/mnist-ae --hash -k 20        # semantic hashing",
                "ae retrieve runs/mnist-vae --data other-digits/ -n 50 -o found.csv"}));

  ExportArgs exporting;
  CLI::App* c_export = app.add_subcommand(
      "export", "a sparse autoencoder's run to SAELens's or sparsify's format (docs/sae.md)");
  c_export->add_option("run", exporting.run.run, "a run folder or .safetensors checkpoint of "
                                                 "ae train --model topk|batchtopk|jumprelu|relu-l1")
      ->required();
  c_export->add_option("--checkpoint", exporting.run.checkpoint, "best or latest (for a run folder)")
      ->capture_default_str();
  c_export->add_option("--format", exporting.format,
                       "saelens (cfg.json + sae_weights.safetensors: topk, jumprelu and batchtopk "
                       "as jumprelu, relu-l1 as standard) or sparsify (cfg.json + sae.safetensors: "
                       "topk)")
      ->required();
  c_export->add_option("-o,--out", exporting.run.out,
                       "the folder to write (made if missing; one holding cfg.json or the "
                       "weights already is refused)")
      ->required();
  c_export->footer(
      "\nThe run's normaliser (mean_norm by default) is folded into the weights: the exported "
      "SAE reads\nthe activations as they are and gives ae's codes and reconstructions.\n" +
      examples({"ae export runs/topk-1 --format saelens -o sae/layer6",
                "ae export runs/topk-1 --format sparsify -o sparsify/layers.6"}));

  ImportArgs importing;
  CLI::App* c_import = app.add_subcommand(
      "import", "a SAELens or sparsify SAE folder to a run folder of ae's");
  c_import->add_option("dir", importing.dir, "a folder with cfg.json and sae_weights.safetensors "
                                             "(SAELens) or sae.safetensors (sparsify)")
      ->required();
  c_import->add_option("-o,--out", importing.out, "the run folder to write")->required();
  c_import->footer(
      "\nThe analysis commands (ae eval, encode, reconstruct) also read such a folder directly, "
      "with --data;\nae train --init DIR continues training from it.\n" +
      examples({"ae import sae/layer6 -o runs/layer6", "ae eval sae/layer6 --data acts.npy"}));

  InfoArgs info;
  CLI::App* c_info = app.add_subcommand(
      "info", "the build, the devices, and a model summary with parameter counts");
  c_info->add_option("run", info.run, "a run folder or checkpoint to describe (default: the model "
                                      "the flags describe)");
  c_info->add_option("--checkpoint", info.checkpoint, "best or latest")->capture_default_str();
  c_info->add_option("--config", info.config_file, "a JSON configuration");
  info.flags.add_to(*c_info, Scope::all, shown_defaults);
  c_info->footer(examples({"ae info", "ae info runs/mnist-vae",
                           "ae info --model ae --data ../shared/data/mnist --hidden 512,128 --code 32"}));

  // CLI11 would call an unknown command "not expected"; name it and the commands instead.
  if (argc == 1 || argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || (argc > 1 && sub->get_name() == argv[1]);
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (argc == 1)
      return refuse_command_line("ae: no command given (%s; ae --help explains them)\n",
                                 names.c_str());
    if (!known)
      return refuse_command_line("ae: unknown command '%s' (%s)\n", argv[1], names.c_str());
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string where = "ae";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    return refuse_command_line("ae: %s (see %s --help)\n", e.what(), where.c_str());
  }

  // The communicator is destroyed before main returns (release_world), on every path: NCCL's
  // and the CUDA runtime's own teardown at exit would otherwise come first.
  int code = 2;
  try {
    if (c_train->parsed()) code = run_train(train);
    else if (c_eval->parsed()) code = run_eval(eval);
    else if (c_rec->parsed()) code = run_reconstruct(reconstruct);
    else if (c_sample->parsed()) code = run_sample(sample);
    else if (c_denoise->parsed()) code = run_denoise(denoise);
    else if (c_score->parsed()) code = run_score(score);
    else if (c_encode->parsed()) code = run_encode(encode);
    else if (c_pca->parsed()) code = run_pca(pca);
    else if (c_retrieve->parsed()) code = run_retrieve(retrieve);
    else if (c_export->parsed()) code = run_export(exporting);
    else if (c_import->parsed()) code = run_import(importing);
    else if (c_info->parsed()) code = run_info(info);
  } catch (const ae::JobError& e) {
    // Every rank raised it together (core/comm.h): those with something to say print it, and
    // each waits for the others before it ends, so that no rank's line is cut off by the
    // launcher ending the job when the first rank exits.
    std::fflush(stdout);
    ae::Communicator* ranks = ae::world_if_made();
    if (*e.what() != '\0') {
      if (ranks != nullptr && ranks->size() > 1)
        std::fprintf(stderr, "ae: rank %d of %d: %s\n", ranks->rank(), ranks->size(), e.what());
      else
        std::fprintf(stderr, "ae: %s\n", e.what());
    }
    std::fflush(stderr);
    try {
      if (ranks != nullptr) ranks->barrier();
    } catch (const std::exception&) {
      // a rank gone: the launcher ends the job anyway
    }
    code = 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    if (isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);  // over a progress bar
    ae::Communicator* ranks = ae::world_if_made();
    if (ranks != nullptr && ranks->size() > 1) {
      // One of several ranks: the others would wait for it in their next collective forever, so
      // it ends them all (mpirun then exits with this code).
      std::fprintf(stderr, "ae: rank %d of %d: %s\n", ranks->rank(), ranks->size(), e.what());
      std::fflush(stderr);
      ranks->abort(2);
    }
    std::fprintf(stderr, "ae: %s\n", e.what());
    code = 2;
  }
  ae::release_world();
  return code;
}
