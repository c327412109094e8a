// ae reconstruct, sample and denoise: pictures of what a trained model does.
#include <algorithm>
#include <cstdio>
#include <tuple>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "data/npy.h"
#include "models/noise.h"
#include "tools/commands.h"
#include "run/pictures.h"
#include "run/run_folder.h"
#include "run/config.h"
#include "run/diagnose.h"
#include "run/session.h"

namespace ae::cli {
namespace {

std::string output_path(const RunArgs& a, const LoadedRun& run, const std::string& file) {
  return a.out.empty() ? join_path(run.folder, file) : a.out;
}

double mean_squared_error(const Tensor& a, const Tensor& b) {
  NoGradGuard no_grad;
  return mean(sum(square(a - b), 1)).item();
}

}  // namespace

int run_reconstruct(RunArgs& a) {
  const int64_t count = count_or(a, 16);
  LoadedRun run = load_run(a);
  std::string what;
  const models::Dataset data = analysis_data(a, run, what);
  const std::string out = output_path(a, run, run.picture.is_image() ? "reconstructions.png"
                                                                      : "features.png");
  if (out.size() > 4 && out.compare(out.size() - 4, 4, ".npy") == 0) {
    // The reconstructions themselves, of every sample, in the data's space (float32).
    const Tensor recon = reconstruct_all(*run.model, data.x);
    const Tensor values = to_data_space(run, recon);
    const std::vector<float> v = values.to_floats();
    io::write_npy(out, {values.size(0), values.size(1)}, v.data());
    std::printf("%lld samples of %s, squared error per sample %.4f (in the model's normalised "
                "units) -> %s (the reconstructions, in the data's units)\n",
                static_cast<long long>(data.size()), what.c_str(),
                mean_squared_error(recon, data.x), out.c_str());
    return 0;
  }
  if (!run.picture.is_image()) {
    // A table: the error per feature over all the samples.
    const Tensor recon = reconstruct_all(*run.model, data.x);
    const std::string note = try_picture(out, [&] {
      write_feature_error_png(out, {{run.config.model.kind, feature_error(data.x, recon)}},
                              cat(run.config.model.kind, ": error per feature on ", data.name));
    });
    std::printf("%lld samples of %s, squared error per sample %.4f%s\n",
                static_cast<long long>(data.size()), what.c_str(),
                mean_squared_error(recon, data.x), note.empty() ? (" -> " + out).c_str() : "");
    if (!note.empty()) std::printf("%s\n", note.c_str());
    return 0;
  }
  const int64_t n = std::min<int64_t>(data.size(), count);
  const int64_t cols = std::min<int64_t>(n, 16);
  const Tensor originals = slice(data.x, 0, n);
  const Tensor recon = reconstruct_all(*run.model, originals);
  // Pairs of rows, originals above their reconstructions, `cols` samples at a time.
  std::vector<PictureRow> rows;
  for (int64_t start = 0; start < n; start += cols) {
    const int64_t stop = std::min(n, start + cols);
    rows.push_back({"original", to_data_space(run, slice(originals, start, stop))});
    rows.push_back({"reconstruction", to_data_space(run, slice(recon, start, stop))});
  }
  double lo, hi;  // not a structured binding: clang 14 cannot capture one in a lambda
  std::tie(lo, hi) = picture_range(run.checkpoint.spec, run.normalizer);
  const std::string note =
      try_picture(out, [&] { write_rows_png(out, rows, run.picture, cols, lo, hi); });
  std::printf("%lld samples of %s, squared error per sample %.4f%s\n", static_cast<long long>(n),
              what.c_str(), mean_squared_error(recon, originals),
              note.empty() ? (" -> " + out).c_str() : "");
  if (!note.empty()) std::printf("%s\n", note.c_str());
  return 0;
}

int run_sample(RunArgs& a) {
  const int64_t n = count_or(a, 64);
  LoadedRun run = load_run(a);
  const models::ModelSpec& spec = run.checkpoint.spec;
  AE_CHECK(spec.kind == models::ModelKind::vae, run.checkpoint.path, " holds an ",
           models::model_kind_name(spec.kind), "; sampling needs a VAE (ae train --model vae)");
  auto& vae = static_cast<models::Vae&>(*run.model);
  const PictureShape shape = run.picture;
  double lo, hi;  // not a structured binding: clang 14 cannot capture one in a lambda
  std::tie(lo, hi) = picture_range(run.checkpoint.spec, run.normalizer);
  NoGradGuard no_grad;
  // Samples from the prior look like the data only where the training codes fill the prior:
  // checked on the run's training rows when they can be read again (not streamed, still there).
  if (!run.config.data.stream) {
    std::string mismatch;
    try {
      mismatch = prior_mismatch(vae, training_data(run, "sample").x);
    } catch (const Error&) {
      // The training data is gone or unreadable: nothing to compare with.
    }
    if (!mismatch.empty()) std::fprintf(stderr, "ae: warning: %s\n", mismatch.c_str());
  }

  Generator gen(a.seed);
  const Tensor samples = vae.sample(n, gen);
  const std::string out = output_path(a, run, "samples.png");
  const int64_t cols = n <= 16 ? n : n <= 64 ? 8 : 16;
  if (!shape.is_image()) {
    // A table: the samples as numbers, in data space.
    const std::string csv_path = a.out.empty() ? join_path(run.folder, "samples.csv")
                                               : a.out.substr(0, a.out.rfind('.')) + ".csv";
    const Tensor values = to_data_space(run, samples);
    const std::vector<float> v = values.to_floats();
    const int64_t f = values.size(1);
    std::string csv;
    for (int64_t j = 0; j < f; ++j) csv += cat(j ? "," : "", "x", j + 1);
    csv += "\n";
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < f; ++j) {
        char text[32];
        std::snprintf(text, sizeof text, "%.7g%s", v[i * f + j], j + 1 < f ? "," : "\n");
        csv += text;
      }
    write_text(csv_path, csv);
    std::printf("%lld samples from the prior (seed %llu) -> %s (rows of a table: no pictures)\n",
                static_cast<long long>(n), static_cast<unsigned long long>(a.seed),
                csv_path.c_str());
    return 0;
  }
  const std::string note =
      try_picture(out, [&] { write_rows_png(out, {{"", to_data_space(run, samples)}}, shape, cols, lo, hi); });
  if (note.empty())
    std::printf("%lld samples from the prior (seed %llu) -> %s\n", static_cast<long long>(n),
                static_cast<unsigned long long>(a.seed), out.c_str());
  else
    std::printf("%s\n", note.c_str());

  // The decoder along the latent axes: a grid over the plane for a 2-D code, one row per
  // dimension (the others at 0) for a larger one. z runs over [-2.5, 2.5], where the prior
  // puts 99% of its mass per dimension.
  const int64_t latent = spec.code_width();
  constexpr int64_t kSteps = 12;
  constexpr double kSpan = 2.5;
  auto at = [](int64_t i) { return -kSpan + 2 * kSpan * static_cast<double>(i) / (kSteps - 1); };
  std::vector<double> z;
  int64_t rows = 0;
  if (latent == 2) {
    for (int64_t r = 0; r < kSteps; ++r)
      for (int64_t c = 0; c < kSteps; ++c) z.insert(z.end(), {at(c), -at(r)});  // z2 up
    rows = kSteps;
  } else {
    rows = std::min<int64_t>(latent, 10);
    for (int64_t d = 0; d < rows; ++d)
      for (int64_t c = 0; c < kSteps; ++c) {
        std::vector<double> point(static_cast<size_t>(latent), 0.0);
        point[d] = at(c);
        z.insert(z.end(), point.begin(), point.end());
      }
  }
  const Tensor codes = Tensor::from_host(z, {rows * kSteps, latent}, Device::cpu())
                           .to(run.device)
                           .to(run.model->dtype());
  const Tensor decoded = to_data_space(run, vae.decode(codes));
  std::vector<PictureRow> picture;
  if (latent == 2) {
    picture.push_back({"", decoded});
  } else {
    for (int64_t d = 0; d < rows; ++d)
      picture.push_back({cat("z", d + 1), slice(decoded, d * kSteps, (d + 1) * kSteps)});
  }
  const std::string traversal = a.out.empty() ? join_path(run.folder, "traversal.png")
                                              : a.out.substr(0, a.out.rfind('.')) + "-traversal.png";
  const std::string traversal_note =
      try_picture(traversal, [&] { write_rows_png(traversal, picture, shape, kSteps, lo, hi); });
  if (traversal_note.empty())
    std::printf("latent traversal (%s, z in [-%.1f, %.1f]) -> %s\n",
                latent == 2 ? "the z1-z2 plane" : cat("the first ", rows, " axes").c_str(), kSpan,
                kSpan, traversal.c_str());
  else
    std::printf("%s\n", traversal_note.c_str());
  return 0;
}

int run_denoise(DenoiseArgs& d) {
  RunArgs& a = d.run;
  const int64_t count = count_or(a, 12);
  LoadedRun run = load_run(a);
  std::string what;
  const models::Dataset data = analysis_data(a, run, what);
  const models::ModelSpec& spec = run.checkpoint.spec;

  // The corruption: as asked, else the model's own training noise, else 30% masking.
  models::NoiseConfig noise;
  if (spec.kind == models::ModelKind::autoencoder) noise = spec.autoencoder.noise;
  if (!d.noise.empty()) {
    try {
      noise.kind = models::parse_noise(d.noise);
    } catch (const Error& e) {
      fail(cat("--noise: ", e.what()), e.kind());
    }
  }
  if (noise.kind == models::NoiseKind::none) noise.kind = models::NoiseKind::masking;
  if (d.level >= 0) noise.level = d.level;
  if (noise.level <= 0) noise.level = 0.3;
  check_noise_level(models::noise_name(noise.kind), noise.level, "--noise-level");
  if (spec.kind == models::ModelKind::vae || spec.autoencoder.noise.kind == models::NoiseKind::none) {
    // Salt and pepper take the data's extremes.
    const std::vector<float> v = data.x.to_floats();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    noise.low = *lo, noise.high = *hi;
  }

  NoGradGuard no_grad;
  Generator gen(a.seed);
  const Tensor clean = data.x;
  const Tensor corrupted = models::corrupt(clean, noise, gen);
  const Tensor restored = reconstruct_all(*run.model, corrupted);
  const double before = mean_squared_error(corrupted, clean);
  const double after = mean_squared_error(restored, clean);

  const int64_t n = std::min<int64_t>(data.size(), count);
  double lo, hi;  // not a structured binding: clang 14 cannot capture one in a lambda
  std::tie(lo, hi) = picture_range(run.checkpoint.spec, run.normalizer);
  const std::string out = output_path(a, run, "denoise.png");
  std::printf("%s noise, level %g, on %s\n", models::noise_name(noise.kind), noise.level, what.c_str());
  std::printf("squared error per sample to the clean data: corrupted %.4f, restored %.4f\n", before,
              after);
  // Pictures: clean, corrupted and restored rows; a table: the error per feature of both.
  const std::string note = try_picture(out, [&] {
    if (run.picture.is_image())
      write_rows_png(out,
                     {{"clean", to_data_space(run, slice(clean, 0, n))},
                      {"corrupted", to_data_space(run, slice(corrupted, 0, n))},
                      {"restored", to_data_space(run, slice(restored, 0, n))}},
                     run.picture, n, lo, hi);
    else
      write_feature_error_png(out,
                              {{"corrupted", feature_error(clean, corrupted)},
                               {"restored", feature_error(clean, restored)}},
                              cat("error per feature to the clean ", data.name));
  });
  std::printf("%s\n", note.empty() ? cat("wrote ", out).c_str() : note.c_str());
  return 0;
}

}  // namespace ae::cli
