// ae info: the build, the devices, and a model summary (its layers and parameter counts).
#include <cstdio>
#include <cstdlib>

#include "core/comm.h"
#include "core/device.h"
#include "core/error.h"
#include "kernels/cpu/cpu.h"
#include "train/checkpoint.h"
#include "models/linear.h"
#include "tools/commands.h"
#include "run/prepare.h"
#include "run/run_folder.h"
#include "run/session.h"

#ifndef AE_VERSION
#define AE_VERSION "unknown"
#endif
#ifndef AE_BUILD_TYPE
#define AE_BUILD_TYPE "unknown"
#endif

namespace ae::cli {
namespace {

const char* yes_no(bool v) { return v ? "yes" : "no"; }

void print_model(const models::ModelSpec& spec, models::Model& model) {
  std::printf("model: %s, %s data, %s, seed %llu\n", models::model_kind_name(spec.kind),
              models::data_kind_name(spec.data()), dtype_name(model.dtype()),
              static_cast<unsigned long long>(spec.seed));
  std::printf("  %s\n", models::model_spec_json(spec).c_str());
  std::printf("  %-22s %-14s %12s\n", "parameter", "shape", "count");
  for (const models::Parameter& p : model.parameters())
    std::printf("  %-22s %-14s %12lld\n", p.name.c_str(), p.value.shape().str().c_str(),
                static_cast<long long>(p.value.numel()));
  std::printf("  %-22s %-14s %12lld\n", "total", "",
              static_cast<long long>(models::parameter_count(model.parameters())));
}

}  // namespace

int run_info(InfoArgs& a) {
  std::printf("ae %s (%s build, C++ %ld, %s)\n", AE_VERSION, AE_BUILD_TYPE, __cplusplus,
#if defined(__clang__)
              "clang " __clang_version__
#elif defined(__GNUC__)
              "gcc " __VERSION__
#else
              "unknown compiler"
#endif
  );
  std::printf("backends: cpu, cuda %s; zlib (gzip'd data) %s; libpng (pictures) %s\n",
              AE_HAVE_CUDA ? "built" : "not built", yes_no(AE_HAVE_ZLIB), yes_no(AE_HAVE_PNG));
  std::printf("multi-process training: %s\n",
              comm_built(CommKind::mpi) ? "mpi built (mpirun -np N ae train ...)" : "mpi not built");
  const int gpus = cuda_device_count();
  const char* env = std::getenv("AE_DEVICE");
  std::printf("devices: cpu (%lld threads)%s; default %s%s\n",
              static_cast<long long>(cpu::worker_threads()), gpus > 0 ? cat(", ", gpus, " CUDA device(s)").c_str() : ", no usable CUDA device",
              default_device().str().c_str(), env ? cat(" (AE_DEVICE=", env, ")").c_str() : "");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("openmp: %s\n", policy ? cat("OMP_WAIT_POLICY=", policy).c_str()
                               : spin ? cat("GOMP_SPINCOUNT=", spin).c_str()
                                      : "libgomp's default wait policy");

  if (!a.run.empty()) {
    LoadedRun run = load_run(a.run, a.checkpoint, "cpu");
    const models::Checkpoint& c = run.checkpoint;
    std::printf("checkpoint: %s\n", c.path.c_str());
    std::printf("  trained %lld epoch%s (%lld step%s) on %s", static_cast<long long>(c.state.epoch),
                c.state.epoch == 1 ? "" : "s", static_cast<long long>(c.state.step),
                c.state.step == 1 ? "" : "s", run.data_name.c_str());
    if (c.state.best_epoch >= 0)
      std::printf("; best validation loss %.6g at epoch %lld", c.state.best_loss,
                  static_cast<long long>(c.state.best_epoch + 1));
    std::printf("\n  normaliser: %s\n",
                run.normalizer ? models::norm_kind_name(run.normalizer->kind) : "none");
    print_model(c.spec, *run.model);
    return 0;
  }

  // The model the flags (and --config) describe, for the data they name.
  json file;
  if (!a.config_file.empty()) file = read_json_file(a.config_file);
  RunConfig config = preset(requested_model_kind(a.flags, a.config_file.empty() ? nullptr : &file));
  if (!a.config_file.empty()) apply_json(config, file, a.config_file);
  a.flags.apply(config);
  validate(config);
  std::string model_reason;
  const PreparedData data = prepare_for_model(config, model_reason);
  if (!model_reason.empty()) std::printf("model: %s (--model auto: %s)\n", config.model.kind.c_str(), model_reason.c_str());
  const models::ModelSpec spec =
      model_spec(config, data.train.features(), data.low, data.high, data.name);
  std::unique_ptr<models::Model> model = models::build_model(spec, Device::cpu());
  std::printf("data: %s, %lld training and %lld validation samples of %lld features\n",
              data.train.name.c_str(), static_cast<long long>(data.train.size()),
              static_cast<long long>(data.val.size()), static_cast<long long>(data.train.features()));
  print_model(spec, *model);
  return 0;
}

}  // namespace ae::cli
