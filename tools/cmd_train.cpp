// ae train: models::Trainer with the command line's hooks: each epoch ends with its metrics,
// loss plot and checkpoints written, and `--resume` continues exactly where the last finished
// epoch left off: parameters, optimizer moments and step count, the model's noise stream
// position, and the batch order (epoch e walks the permutation seeded by (seed, e)).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>
#include <tuple>

#include "core/autograd.h"
#include "core/comm.h"
#include "core/device.h"
#include "core/error.h"
#include "core/ops.h"
#include "train/checkpoint.h"
#include "analysis/pca.h"
#include "train/trainer.h"
#include "tools/commands.h"
#include "run/diagnose.h"
#include "run/prepare.h"
#include "run/pictures.h"
#include "run/ranks.h"
#include "tools/progress.h"
#include "run/run_folder.h"
#include "run/sae_formats.h"
#include "run/session.h"

namespace ae::cli {
namespace {

// Ctrl-C during training: the handler only raises a flag, which the training loop reads between
// batches, so no checkpoint is cut off in the middle of its write. A second Ctrl-C acts at once
// (SA_RESETHAND: the default action again); the atomic writes still keep the files whole.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void raise_interrupted(int) { g_interrupted = 1; }

// Thrown out of the trainer's hooks when Ctrl-C was pressed.
struct Interrupted {};

// Installs the handler for its lifetime, unless SIGINT was ignored when ae started (run under
// nohup or in the background of a shell without job control): that choice is kept.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    struct sigaction action {};
    action.sa_handler = raise_interrupted;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGINT, nullptr, &previous_) == 0 && previous_.sa_handler != SIG_IGN)
      installed_ = sigaction(SIGINT, &action, nullptr) == 0;
  }
  ~InterruptGuard() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static void check() {
    if (g_interrupted) throw Interrupted{};
  }

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

// The settings a resumed run may change: how long it goes on, and where and how it runs.
bool resumable_flag(const std::string& flag) {
  return flag == "--epochs" || flag == "--device" || flag == "--step-mode" || flag == "--tf32";
}

// The configuration of this run: from the run folder when resuming, else defaults, --config
// and flags.
RunConfig resolve_config(TrainArgs& a, std::string& config_source) {
  json file;
  const bool have_file = !a.config_file.empty() || !a.resume.empty();
  if (!a.resume.empty()) {
    AE_CHECK(a.config_file.empty(), "--resume takes the configuration of ", a.resume,
             "; it cannot be combined with --config");
    AE_CHECK(a.out.empty(), "--resume continues in ", a.resume, "; it cannot be combined with --out");
    for (const std::string& flag : a.flags.given())
      AE_CHECK(resumable_flag(flag), flag, " cannot change a resumed run (its settings are in ",
               join_path(a.resume, kConfigFile), "); only --epochs, --device, --step-mode and --tf32 can");
    AE_CHECK(std::filesystem::is_directory(a.resume), "--resume ", a.resume,
             ": no such run folder");
    config_source = join_path(a.resume, kConfigFile);
  } else if (!a.config_file.empty()) {
    config_source = a.config_file;
  }
  if (have_file) file = read_json_file(config_source);
  RunConfig config = preset(requested_model_kind(a.flags, have_file ? &file : nullptr));
  if (have_file) apply_json(config, file, config_source);
  a.flags.apply(config);
  if (config.model.kind == "auto" && !config.model.init.empty()) {
    // --init names the model: the defaults of its kind (batch size, schedule), as --model would.
    const std::string kind = models::sae_kind_name(sae_folder_kind(config.model.init));
    config = preset(kind);
    if (have_file) apply_json(config, file, config_source);
    a.flags.apply(config);
    config.model.kind = kind;
  }
  validate(config);
  AE_CHECK(!a.flags.was_given("--buffer-mb") || config.data.stream, "--buffer-mb sizes the buffer "
           "of --stream; without --stream the data is read into memory whole: add --stream, or "
           "drop --buffer-mb");
  // Saved absolute, so that the run's config.json (and every command reading the run) finds the
  // data from any working folder.
  for (std::string* path : {&config.data.path, &config.data.labels})
    if (!path->empty()) *path = std::filesystem::absolute(*path).lexically_normal().string();
  return config;
}

// The pictures of a finished run, drawn with the model as it is now. Pictures: originals above
// reconstructions and, for a VAE, samples from the prior. A table: the reconstruction error per
// feature beside PCA's, and the anomaly scores of the held-out samples (validation and
// --exclude-labels) with the threshold at 10% contamination and, with excluded labels, the ROC
// curve. Both: the code coloured by label. A sparse autoencoder: its latents' firing frequencies
// and its L0 and FVU per epoch instead of the table's pictures and the code's. A picture that
// cannot be drawn is a one-line note.
void write_pictures(const std::string& folder, models::Model& model, const models::ModelSpec& spec,
                    const RunConfig& config, const PreparedData& data, const PictureShape& shape,
                    const std::vector<EpochMetrics>& history, const std::string& title,
                    Progress& progress) {
  NoGradGuard no_grad;
  const models::Dataset& shown = data.val.size() > 0 ? data.val : data.train;
  double lo, hi;  // not a structured binding: clang 14 cannot capture one in a lambda
  std::tie(lo, hi) = picture_range(spec, data.normalizer);
  auto to_data_space = [&](const Tensor& x) { return cli::to_data_space(data.normalizer, x); };
  std::vector<std::string> written{join_path(folder, "loss.png")};
  auto draw = [&](const std::string& file, const std::function<void()>& fn) {
    const std::string path = join_path(folder, file);
    const std::string note = try_picture(path, fn);
    if (note.empty())
      written.push_back(file);
    else
      progress.note(note);
  };
  const bool sae = spec.kind == models::ModelKind::sae;
  if (sae) {
    // Its latents' firing instead of pictures of the code: a scatter, a PCA or a scorer over
    // dense codes of many latents would cost rows × latents of memory (docs/sae.md).
    const Sparsity& last = history.back().sparsity;
    if (last.samples > 0)
      draw("firing.png", [&] {
        write_firing_png(join_path(folder, "firing.png"), last.fired, last.samples,
                         title + ": latents");
      });
    draw("sparsity.png",
         [&] { write_sparsity_png(join_path(folder, "sparsity.png"), history, title); });
  }
  if (shape.is_image()) {
    const int64_t n = std::min<int64_t>(shown.size(), 12);
    const Tensor originals = slice(shown.x, 0, n);
    const Tensor recon = model.reconstruct(originals.to(model.device()).to(model.dtype()));
    draw("reconstructions.png", [&] {
      write_rows_png(join_path(folder, "reconstructions.png"),
                     {{"original", to_data_space(originals)}, {"reconstruction", to_data_space(recon)}},
                     shape, n, lo, hi);
    });
    if (spec.kind == models::ModelKind::vae) {
      Generator gen(spec.seed + 1);
      const Tensor samples = static_cast<models::Vae&>(model).sample(64, gen);
      draw("samples.png", [&] {
        write_rows_png(join_path(folder, "samples.png"), {{"", to_data_space(samples)}}, shape, 8,
                       lo, hi);
      });
    }
  } else if (!sae) {
    // The held-out samples: validation, then the excluded labels (the anomalies).
    Tensor held_out = shown.x;
    std::vector<bool> positive;
    if (data.excluded.size() > 0) {
      held_out = data.val.size() > 0 ? concat({data.val.x, data.excluded.x}, 0) : data.excluded.x;
      positive.assign(static_cast<size_t>(held_out.size(0)), false);
      std::fill(positive.end() - data.excluded.size(), positive.end(), true);
      if (data.val.size() == 0) positive.clear();  // anomalies only: no ROC curve
    }
    int64_t pca_k = 0;
    const std::vector<ScoredMethod> methods = score_with_baseline(
        model, spec, config.model.kind, data.train.x, held_out, 0.1, std::nullopt, pca_k);
    const models::Pca pca = models::Pca::fit(data.train.x, pca_k);
    const Tensor recon = reconstruct_all(model, shown.x);
    const Tensor by_pca = pca.reconstruct(shown.x.to(Device::cpu()).to(DType::f64));
    draw("features.png", [&] {
      write_feature_error_png(join_path(folder, "features.png"),
                              {{methods[0].name, feature_error(shown.x, recon)},
                               {methods[1].name, feature_error(shown.x, by_pca)}},
                              cat("error per feature, ", shown.name));
    });
    draw("scores.png", [&] {
      write_scores_png(join_path(folder, "scores.png"), methods, positive,
                       cat("anomaly scores, ", positive.empty() ? shown.name : data.name + " held out"));
    });
  }
  if (!sae) {
    const int64_t m = std::min<int64_t>(shown.size(), 5000);
    const Tensor codes = encode(model, spec, slice(shown.x, 0, m));
    std::vector<int64_t> labels;
    if (shown.has_labels()) labels.assign(shown.labels.begin(), shown.labels.begin() + m);
    draw("latent.png", [&] {
      write_latent_png(join_path(folder, "latent.png"), codes, labels, title + ": code");
    });
  }
  std::string list;
  for (const std::string& w : written) list += (list.empty() ? "" : ", ") + w;
  progress.note(cat("pictures: ", list));
}

}  // namespace

int run_train(TrainArgs& a) {
  // Under mpirun every rank runs this with the same arguments and trains on its shard of each
  // batch (train/trainer.h); rank 0 alone writes the run folder and prints. Made first, so that
  // any rank's error ends them all (main.cpp).
  Communicator& comm = world();
  const bool writer = comm.rank() == 0;
  std::string config_source;
  RunConfig config = resolve_config(a, config_source);
  const bool resuming = !a.resume.empty();
  if (!resuming) resolve_init(config);  // a resumed run's config.json holds what it resolved to
  // What can be refused without the data is refused before it is read (a large file takes a
  // while): an --out that holds a run, a device this machine lacks.
  if (!resuming && !a.out.empty() && writer) check_new_run_folder(a.out);
  Device device = choose_device(config.device, resuming && !a.flags.was_given("--device")
                                                   ? config_source : std::string());
  // Several ranks on a machine with GPUs: one GPU per rank, as NCCL's communicator takes it.
  if (comm.size() > 1 && config.device == "auto" && device.is_cuda())
    device = Device::cuda(local_rank() % cuda_device_count());

  StreamPlan stream;  // --stream: the files stay on disk; data holds samples of each part
  std::string model_reason;  // what model kind auto became, and why
  const PreparedData data = [&] {
    if (!config.data.stream) return prepare_for_model(config, model_reason);
    if (config.model.kind == "auto") {
      const StreamPlan peek = plan_stream(config.data, config.seed);
      model_reason =
          resolve_auto_model(config, peek.files->features(), peek.files->image_h() > 0);
    }
    resolve_sae_normalization(config);
    return prepare_stream(config.data, config.seed, stream);
  }();
  const int64_t train_rows = config.data.stream ? stream.train_rows : data.train.size();
  const int64_t val_rows = config.data.stream ? stream.val_rows : data.val.size();
  // A sparse autoencoder's rows are activations, not pictures, unless --image-shape says so (a
  // width of 64 or 784 would otherwise be drawn as a square of pixels).
  const PictureShape picture =
      is_sae(config.model.kind) && config.data.image_shape.empty()
          ? PictureShape{}
          : picture_shape(config.data.image_shape, data.train.image_h, data.train.image_w,
                          data.train.image_c, data.train.features());
  // A sparse autoencoder's automatic settings, made concrete before config.json is written.
  const std::string sae_note = resolve_sae(config, data.train, train_rows);
  const models::ModelSpec spec =
      model_spec(config, data.train.features(), data.low, data.high, data.name);
  // Every rank must train on the same data with the same settings: compared before anything is
  // built or written, so that ranks that disagree end together with one line (run/ranks.h).
  check_ranks_agree(comm,
                    rank_fingerprint(config, train_rows + val_rows + data.excluded.size(),
                                     data.train.features(), data.normalization,
                                     models::model_spec_json(spec)),
                    device);
  set_matmul_precision(device, config.train.tf32 ? MatmulPrecision::tf32 : MatmulPrecision::float32);

  // The model is built before anything is written, so that a setting it refuses leaves no
  // half-made run folder behind.
  std::unique_ptr<models::Model> model = models::build_model(spec, device);
  // A resumed run's weights are restored from its checkpoint (its --init folder is not read
  // again); one stopped before its first checkpoint starts again from its configuration.
  const bool has_checkpoint =
      resuming && (std::filesystem::exists(join_path(a.resume, kLatestCheckpoint)) ||
                   std::filesystem::exists(join_path(a.resume, kMetricsJson)));
  if (!has_checkpoint) init_sae(*model, config, decoder_bias_sample(data.train.x));
  // A streamed run's sources, and whether a batch fits in a window of the buffer, likewise (no
  // reading starts before training does).
  std::optional<models::StreamedRows> streamed_train, streamed_val;
  if (config.data.stream)
    open_stream(stream, config, device, model->dtype(), streamed_train, streamed_val);
  const std::vector<std::string> terms = loss_terms(spec);

  std::string folder;
  models::TrainingState state;
  std::optional<models::Checkpoint> checkpoint;  // the one a resumed run continues from
  std::vector<EpochMetrics> history;
  if (resuming) {
    folder = a.resume;
    // A run stopped before its first checkpoint starts again from its configuration.
    const std::string latest = join_path(folder, kLatestCheckpoint);
    if (std::filesystem::exists(latest) || std::filesystem::exists(join_path(folder, kMetricsJson))) {
      checkpoint = models::read_checkpoint(latest);
      const Difference d = json_difference(json::parse(models::model_spec_json(checkpoint->spec)),
                                           json::parse(models::model_spec_json(spec)));
      AE_CHECK(!d.found, checkpoint->path, ": its model differs from the one ", config_source,
               " and the data give now: ", d.what, ": ", d.a, " in the checkpoint, ", d.b, " now");
      models::restore_model(*checkpoint, *model);
      state = checkpoint->state;
      if (state.epoch >= config.train.epochs) {
        // Nothing is written: the run stays as it is.
        if (!a.quiet && writer)
          std::printf("%s has trained %lld epoch%s already%s: nothing to do; pass --epochs N with "
                      "N > %lld to train on\n",
                      folder.c_str(), static_cast<long long>(state.epoch),
                      state.epoch == 1 ? "" : "s",
                      a.flags.was_given("--epochs")
                          ? cat(" (--epochs ", config.train.epochs, " asks for no more)").c_str()
                          : "",
                      static_cast<long long>(state.epoch));
        return 0;
      }
      // Metrics written after the checkpoint's epoch (a run stopped between the two) are dropped.
      for (const EpochMetrics& m : read_metrics(folder))
        if (m.epoch <= state.epoch) history.push_back(m);
    }
  } else {
    folder = a.out.empty() ? default_run_folder(config.model.kind) : a.out;
    if (writer) create_run_folder(folder);
  }
  // How many ranks trained the run before: another number continues it as well (the batches,
  // their noise and the update do not depend on it), up to the float rounding of the sums.
  int64_t previous_ranks = comm.size();
  if (resuming && writer) {
    const json was = read_json_file(join_path(folder, kConfigFile));
    previous_ranks = was.contains(kResolvedKey) ? was[kResolvedKey].value("ranks", int64_t{1}) : 1;
  }
  // Saved before training starts, so an interrupted run can be resumed or repeated. What the
  // automatic settings became is recorded beside them (apply_json skips it).
  json saved = to_json(config);
  saved[kResolvedKey] = {{"normalize", data.normalization},
                         {"normalize_reason", data.normalization_reason},
                         {"ranks", comm.size()}};
  if (!model_reason.empty()) saved[kResolvedKey]["model"] = model_reason;
  if (writer) write_text(join_path(folder, kConfigFile), saved.dump(2) + "\n");

  const models::CheckpointExtras extras = run_extras(config, data.normalizer, picture, data.name);
  const std::string title = cat(config.model.kind, " on ", data.name);
  Progress progress(Progress::choose(a.quiet || !writer), config.train.epochs, train_rows, terms);
  const int64_t parameters = models::parameter_count(model->parameters());
  if (!model_reason.empty()) progress.note(cat("model: ", config.model.kind, " (--model auto: ", model_reason, ")"));
  const bool chosen = config.data.normalize == "auto" || !config.data.normalize_chosen_by.empty();
  progress.note(cat("normalize: ", data.normalization, " (--normalize ",
                    chosen ? cat("auto: ", data.normalization_reason) : config.data.normalize, ")",
                    data.normalizer ? ", fitted on the training split" : ""));
  for (const std::string& note : data.notes) progress.note(note);
  if (!sae_note.empty()) progress.note(cat("sparse autoencoder: ", sae_note));
  progress.note(cat(resuming ? "resuming " : "training ", title, " (", spec.input_width(), " -> ",
                    spec.code_width(), ", ", parameters, " parameters) on ", device.str(), ": ",
                    train_rows, " training and ", val_rows, " validation samples; ",
                    resuming ? cat("epoch ", state.epoch + 1, " of ", config.train.epochs)
                             : cat(config.train.epochs, config.train.epochs == 1 ? " epoch" : " epochs"),
                    " -> ", folder));
  if (comm.size() > 1 || previous_ranks != comm.size()) {
    const int64_t b = config.train.batch_size;
    const std::string ranks_before =
        cat("the run was trained on ", previous_ranks, previous_ranks == 1 ? " rank" : " ranks",
            " so far and continues as it would have there, up to the float rounding of the "
            "gradient sums");
    if (comm.size() == 1)
      progress.note(cat(ranks_before, "; this one process trains on every row of each batch of ", b));
    else
      progress.note(cat("data-parallel over ", comm.size(), " ranks (", comm_kind_name(comm.kind()),
                        "): each trains on about ", (b + comm.size() - 1) / comm.size(),
                        " rows of every batch of ", b,
                        previous_ranks != comm.size() ? "; " + ranks_before : std::string()));
  }

  const bool has_val = val_rows > 0;
  models::TrainerConfig trainer = trainer_config(config);
  trainer.comm = &comm;
  trainer.on_note = [&](const std::string& note) { progress.note(note); };
  trainer.on_start = [&](models::TrainStep& step) {
    if (checkpoint && !models::restore_optimizer(*checkpoint, *model, step.optimizer()))
      progress.warn(cat(checkpoint->path, " holds no optimizer state (",
                        config.train.optimizer == "sgd" ? "SGD's momentum" : "Adam's moments",
                        "; a checkpoint written without its optimizer, such as the Python package's "
                        "save, has none): it starts again from zero, so the loss may jump in the "
                        "first steps of epoch ", state.epoch + 1, " before it settles"));
    progress.begin_epoch(state.epoch);
  };
  trainer.on_batch = [&](int64_t samples, models::TrainStep& step) {
    InterruptGuard::check();
    if (progress.due()) progress.update(samples, step.totals().mean);
  };
  trainer.on_epoch = [&](const models::EpochReport& r, const models::TrainingState& now,
                         models::TrainStep& step) {
    EpochMetrics m;
    m.epoch = r.epoch + 1;
    m.train = r.train;
    m.val = r.val;
    m.has_val = r.has_val;
    m.lr = r.lr;
    m.steps = r.steps;
    m.seconds = r.seconds;
    m.samples_per_second = r.seconds > 0 ? static_cast<double>(train_rows) / r.seconds : 0;
    // A streamed run measures its code on the training samples it holds in memory.
    if (writer) m.sparsity = epoch_sparsity(*model, spec, data.train.x);
    state = now;
    history.push_back(m);
    if (!writer) return;  // rank 0 writes and prints
    // Metrics first: a run stopped before its checkpoint is written redoes this epoch on
    // resume, and the metrics row is dropped then.
    write_metrics(folder, history, terms);
    if (!a.no_pictures) {
      const std::string loss = join_path(folder, "loss.png");
      const std::string note =
          try_picture(loss, [&] { write_loss_png(loss, history, terms, title); });
      if (!note.empty() && m.epoch == 1) progress.note(note);
    }
    models::save_checkpoint(join_path(folder, kLatestCheckpoint), spec, *model, &step.optimizer(),
                            state, extras);
    const bool best = has_val && r.best;
    if (best)
      models::save_checkpoint(join_path(folder, kBestCheckpoint), spec, *model, &step.optimizer(),
                              state, extras);
    progress.end_epoch(m, best);
    InterruptGuard::check();
    if (state.epoch < config.train.epochs) progress.begin_epoch(state.epoch);
  };
  models::TrainResult result;
  {
    InterruptGuard guard;
    try {
      if (streamed_train) {
        result = models::Trainer(trainer).fit(*model, *streamed_train,
                                              streamed_val ? &*streamed_val : nullptr, state);
      } else {
        result = models::Trainer(trainer).fit(*model, data.train.x,
                                              has_val ? data.val.x : Tensor(), state);
      }
    } catch (const Interrupted&) {
      // `state` is the last epoch whose checkpoint was written in full (on_epoch saves it before
      // it checks for Ctrl-C), the metrics past it are dropped on resume.
      progress.clear_bar();
      if (state.epoch > 0)
        std::fprintf(stderr,
                     "ae: interrupted: the run stopped after epoch %lld of %lld (saved in %s); "
                     "continue it with `ae train --resume %s`\n",
                     static_cast<long long>(state.epoch),
                     static_cast<long long>(config.train.epochs),
                     join_path(folder, kLatestCheckpoint).c_str(), folder.c_str());
      else
        std::fprintf(stderr,
                     "ae: interrupted in epoch 1, before any checkpoint was saved; %s holds the "
                     "run's settings (%s), and `ae train --resume %s` starts it again from epoch 1\n",
                     folder.c_str(), kConfigFile, folder.c_str());
      return 130;  // 128 + SIGINT, as a shell reports a process Ctrl-C ended
    }
  }
  if (!writer) return 0;  // what follows reads and writes the run folder
  if (result.stopped_early)
    progress.note(cat("stopping early: no better validation loss for ", config.train.patience,
                      " epochs (best: epoch ", state.best_epoch + 1, ")"));

  // The code's check and the pictures see the model the other commands load by default: the
  // best one.
  if (has_val && state.best_epoch + 1 != state.epoch) {
    const models::Checkpoint best = models::read_checkpoint(join_path(folder, kBestCheckpoint));
    models::restore_model(best, *model);
  }
  // After training: how the code units vary over the validation split (the training split
  // without one), recorded in the metrics; a collapsed model or dead units get one warning line.
  if (const std::optional<CodeDiagnosis> code = diagnose_code(*model, spec, config, data)) {
    write_metrics(folder, history, terms, &code->activity, code->split);
    if (code->warning.empty())
      progress.note(code->note);
    else
      progress.warn(code->warning);
  }
  if (!a.no_pictures) write_pictures(folder, *model, spec, config, data, picture, history, title, progress);
  if (has_val)
    progress.note(cat("best validation loss ", state.best_loss, " at epoch ", state.best_epoch + 1,
                      ": ", join_path(folder, kBestCheckpoint)));
  progress.note(cat("run folder: ", std::filesystem::absolute(folder).lexically_normal().string()));
  return 0;
}

}  // namespace ae::cli
