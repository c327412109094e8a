// ae export and ae import: a sparse autoencoder to and from the formats of SAELens and sparsify
// (run/sae_formats.h).
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "train/checkpoint.h"
#include "tools/commands.h"
#include "run/run_folder.h"
#include "run/sae_formats.h"
#include "run/session.h"

namespace ae::cli {

int run_export(ExportArgs& a) {
  const SaeFormat format = parse_sae_format(a.format);
  AE_CHECK(!a.run.out.empty(), "ae export: --out (the folder to write) is required");
  const LoadedRun run = load_run(a.run);
  export_sae(run.checkpoint.spec, *run.model, run.normalizer, format, a.run.out);
  std::printf("%s: %s SAE (%s, %lld latents over %lld inputs%s) from %s\n", a.run.out.c_str(),
              sae_format_name(format), models::sae_kind_name(run.checkpoint.spec.sae.kind),
              static_cast<long long>(run.checkpoint.spec.sae.latents),
              static_cast<long long>(run.checkpoint.spec.sae.inputs),
              run.normalizer ? cat(", its ", models::norm_kind_name(run.normalizer->kind),
                                   " normaliser folded into the weights").c_str()
                             : "",
              run.checkpoint.path.c_str());
  return 0;
}

int run_import(ImportArgs& a) {
  AE_CHECK(!a.out.empty(), "ae import: --out (the run folder to write) is required");
  if (!std::filesystem::exists(a.dir))
    fail(cat("ae import: ", a.dir, " does not exist (a SAELens or sparsify folder: cfg.json beside "
             "sae_weights.safetensors or sae.safetensors)"),
         ErrorKind::file, ENOENT);
  if (!is_sae_folder(a.dir))
    fail(cat("ae import: ", a.dir, " is not a SAELens or sparsify folder (cfg.json beside "
             "sae_weights.safetensors or sae.safetensors); an ae run needs no import"),
         ErrorKind::file, ENOENT);
  check_new_run_folder(a.out);
  const LoadedRun run = load_run(a.dir, "best", "cpu");
  create_run_folder(a.out);
  try {
    models::CheckpointExtras extras;
    extras.metadata = run.checkpoint.file.metadata;
    for (const char* name : {kBestCheckpoint, kLatestCheckpoint})
      models::save_checkpoint(join_path(a.out, name), run.checkpoint.spec, *run.model, nullptr,
                              models::TrainingState{}, extras);
    write_text(join_path(a.out, kConfigFile), run.checkpoint.file.metadata.at(kRunConfigKey) + "\n");
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(a.out, ec);  // the folder made here: all or nothing
    throw;
  }
  std::printf("%s: run folder of the %s (%lld latents over %lld inputs) in %s\n", a.out.c_str(),
              models::sae_kind_name(run.checkpoint.spec.sae.kind),
              static_cast<long long>(run.checkpoint.spec.sae.latents),
              static_cast<long long>(run.checkpoint.spec.sae.inputs), a.dir.c_str());
  return 0;
}

}  // namespace ae::cli
