#include "run/pictures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "data/png.h"
#include "analysis/metrics.h"
#include "analysis/pca.h"
#include "analysis/plot.h"

namespace ae::run {

PictureShape picture_shape(const std::string& setting, int64_t image_h, int64_t image_w,
                           int64_t image_c, int64_t features) {
  if (!setting.empty()) {
    // "HxW" or "HxWxC", each a positive integer.
    std::vector<int64_t> sides;
    size_t at = 0;
    bool ok = true;
    while (ok && at <= setting.size() && sides.size() < 4) {
      const size_t x = std::min(setting.find('x', at), setting.size());
      const std::string part = setting.substr(at, x - at);
      ok = !part.empty() && part.size() <= 6 &&
           std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (ok) sides.push_back(std::stoll(part));
      at = x + 1;
    }
    AE_CHECK(ok && (sides.size() == 2 || sides.size() == 3) && sides[0] > 0 && sides[1] > 0 &&
                 (sides.size() == 2 || sides[2] > 0),
             "--image-shape (data.image_shape): expected HxW or HxWxC, e.g. 28x28 or 32x32x3, got '",
             setting, "'");
    const int64_t c = sides.size() == 3 ? sides[2] : 1;
    AE_CHECK(sides[0] * sides[1] * c == features, "--image-shape ", setting, " holds ",
             sides[0] * sides[1] * c, " values, but each sample has ", features, " features");
    return {sides[0], sides[1], c};
  }
  if (image_h > 0 && image_w > 0 && image_c > 0 && image_h * image_w * image_c == features)
    return {image_h, image_w, image_c};
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(features))));
  if (side >= 8 && side * side == features) return {side, side, 1};
  return {};
}

std::string try_picture(const std::string& path, const std::function<void()>& draw) {
  if (!AE_HAVE_PNG) return cat("no ", path, ": ae was built without libpng");
  try {
    draw();
    return "";
  } catch (const Error& e) {
    return cat("no ", path, ": ", e.what());
  }
}

void write_rows_png(const std::string& path, const std::vector<PictureRow>& rows,
                    const PictureShape& shape, int64_t cols, double lo, double hi) {
  AE_CHECK(!rows.empty() && cols > 0, "write_rows_png: ", path, ": nothing to draw");
  AE_CHECK(shape.is_image(), "write_rows_png: ", path, ": the samples are not pictures");
  // Each sample becomes an h x (w c) gray picture, its channels side by side.
  const int64_t h = shape.h, w = shape.w * shape.c, features = shape.h * shape.w * shape.c;
  const int64_t zoom = std::clamp<int64_t>((48 + h - 1) / h, 1, 6);
  // The size first: tile_grid pads each picture by 1 pixel; captioned_rows adds the captions.
  int64_t width = 0, height = 0;
  for (const PictureRow& r : rows) {
    AE_CHECK(r.x.ndim() == 2 && r.x.size(1) == features, "write_rows_png: ", path, ": row '",
             r.caption, "' is ", r.x.shape(), ", expected (n, ", features, ")");
    const int64_t n = r.x.size(0), across = std::min(cols, std::max<int64_t>(n, 1));
    const int64_t down = (n + across - 1) / across;
    width = std::max(width, (across * (w + 1) + 1) * zoom +
                                models::Canvas::text_width(r.caption) + 12);
    height += (down * (h + 1) + 1) * zoom;
  }
  constexpr int64_t kMaxSide = 8192;
  AE_CHECK(width <= kMaxSide && height <= kMaxSide, "a picture of ", width, "x", height,
           " pixels would pass the limit of ", kMaxSide, " a side (", rows.size(), " rows of ",
           shape.h, "x", shape.w, shape.c > 1 ? cat("x", shape.c) : std::string(), " samples, ",
           cols, " across)");

  std::vector<std::vector<float>> values;
  double vmin = INFINITY, vmax = -INFINITY;
  for (const PictureRow& r : rows) {
    values.push_back(r.x.to(DType::f32).to_floats());
    for (float v : values.back())
      if (std::isfinite(v)) vmin = std::min<double>(vmin, v), vmax = std::max<double>(vmax, v);
  }
  if (!(hi > lo)) {
    lo = vmin, hi = vmax;
    if (!(hi > lo)) lo -= 0.5, hi += 0.5;  // constant (or no finite) values: mid-grey
  }
  std::vector<std::string> captions;
  std::vector<io::Image> grids;
  for (size_t k = 0; k < rows.size(); ++k) {
    const int64_t n = rows[k].x.size(0);
    std::vector<std::vector<float>> pictures(static_cast<size_t>(n));
    std::vector<const float*> pointers;
    for (int64_t i = 0; i < n; ++i) {
      const float* src = values[k].data() + i * features;
      std::vector<float>& picture = pictures[static_cast<size_t>(i)];
      picture.resize(static_cast<size_t>(h * w));
      for (int64_t y = 0; y < shape.h; ++y)
        for (int64_t ch = 0; ch < shape.c; ++ch)
          for (int64_t x = 0; x < shape.w; ++x)
            picture[static_cast<size_t>(y * w + ch * shape.w + x)] =
                src[(y * shape.w + x) * shape.c + ch];
      pointers.push_back(picture.data());
    }
    grids.push_back(io::tile_grid(pointers, static_cast<int>(h), static_cast<int>(w),
                                  static_cast<int>(cols), static_cast<float>(lo),
                                  static_cast<float>(hi), 1, 128));
    captions.push_back(rows[k].caption);
  }
  io::write_png(path, models::captioned_rows(captions, grids, static_cast<int>(zoom)));
}

std::vector<double> feature_error(const Tensor& x, const Tensor& reconstruction) {
  NoGradGuard no_grad;
  const Tensor a = x.to(Device::cpu()).to(DType::f64);
  const Tensor b = reconstruction.to(Device::cpu()).to(DType::f64);
  return mean(square(b - a), 0).to_vector();
}

void write_feature_error_png(const std::string& path,
                             const std::vector<std::pair<std::string, std::vector<double>>>& errors,
                             const std::string& title) {
  std::vector<models::Curve> curves;
  for (const auto& [name, e] : errors) {
    models::Curve c;
    c.name = name;
    c.y = e;
    for (size_t j = 0; j < e.size(); ++j) c.x.push_back(static_cast<double>(j + 1));
    curves.push_back(std::move(c));
  }
  models::PlotOptions o;
  o.title = title;
  o.width = 720;
  o.x_label = "feature (1: the first)";
  o.y_label = "mean squared reconstruction error";
  o.y_scale = models::YScale::automatic;
  io::write_png(path, models::plot_curves(curves, o));
}

void write_scores_png(const std::string& path, const std::vector<ScoredMethod>& methods,
                      const std::vector<bool>& positive, const std::string& title) {
  AE_CHECK(!methods.empty(), "write_scores_png: ", path, ": no scores");
  const ScoredMethod& first = methods[0];
  std::vector<models::Histogram> groups;
  if (positive.empty()) {
    groups.push_back({"samples", first.scores});
  } else {
    AE_CHECK(positive.size() == first.scores.size(), "write_scores_png: ", positive.size(),
             " labels for ", first.scores.size(), " scores");
    models::Histogram normal{"normal", {}}, anomalies{"anomalies", {}};
    for (size_t i = 0; i < positive.size(); ++i)
      (positive[i] ? anomalies : normal).values.push_back(first.scores[i]);
    groups = {normal, anomalies};
  }
  models::PlotOptions h;
  h.title = title;
  h.x_label = cat(first.name, ": anomaly score (weighted error + code distance, in training means)");
  h.y_label = "samples";
  h.x_scale = models::YScale::automatic;
  char threshold[64];
  std::snprintf(threshold, sizeof threshold, "threshold %.4g", first.threshold);
  io::Image histogram = models::plot_histograms(groups, {{threshold, first.threshold}}, h);
  if (positive.empty()) {
    io::write_png(path, histogram);
    return;
  }
  std::vector<models::Curve> curves;
  for (const ScoredMethod& m : methods) {
    const models::RocCurve roc = models::roc_curve(m.scores, positive);
    char name[160];
    std::snprintf(name, sizeof name, "%s, AUC %.3f", m.name.c_str(), models::roc_auc(m.scores, positive));
    curves.push_back({name, roc.false_positive_rate, roc.true_positive_rate, std::nullopt});
  }
  curves.push_back({"chance", {0, 1}, {0, 1}, models::Rgb{160, 160, 160}});
  models::PlotOptions r;
  r.title = "ROC curve";
  r.width = 480;
  r.x_label = "false positive rate";
  r.y_label = "true positive rate";
  io::write_png(path, models::beside({histogram, models::plot_curves(curves, r)}));
}

void write_loss_png(const std::string& path, const std::vector<EpochMetrics>& history,
                    const std::vector<std::string>& terms, const std::string& title) {
  std::vector<models::Curve> curves;
  const bool has_val = !history.empty() && history.back().has_val;
  auto curve = [&](const std::string& name, bool val, const std::string& t) {
    models::Curve c;
    c.name = name;
    for (const EpochMetrics& m : history) {
      if (val && !m.has_val) continue;
      c.x.push_back(static_cast<double>(m.epoch));
      c.y.push_back(term(val ? m.val : m.train, t));
    }
    curves.push_back(std::move(c));
  };
  curve("train loss", false, "total");
  if (has_val) curve("validation loss", true, "total");
  // The other terms of the validation (else training) loss, to see which one moves.
  for (const std::string& t : terms)
    if (t != "total") curve(cat(has_val ? "validation " : "train ", t), has_val, t);
  models::PlotOptions o;
  o.title = title;
  o.x_label = "epoch";
  o.y_label = "loss per sample";
  o.y_scale = models::YScale::automatic;
  io::write_png(path, models::plot_curves(curves, o));
}

void write_firing_png(const std::string& path, const std::vector<int64_t>& fired, int64_t samples,
                      const std::string& title) {
  AE_CHECK(samples > 0 && !fired.empty(), "write_firing_png: ", path, ": ", fired.size(),
           " latents over ", samples, " samples");
  models::Histogram firing{"latents", {}};
  int64_t never = 0;
  for (int64_t f : fired) {
    if (f > 0)
      firing.values.push_back(std::log10(static_cast<double>(f) / static_cast<double>(samples)));
    else
      ++never;
  }
  std::vector<models::Histogram> groups{firing};
  if (never > 0) {
    // One bin's worth to the left of the rarest latent that fired: below log10(1 / samples).
    const double rarest = firing.values.empty()
                              ? -std::log10(static_cast<double>(samples))
                              : *std::min_element(firing.values.begin(), firing.values.end());
    groups.push_back({cat("never fired: ", never, " of ", fired.size()),
                      std::vector<double>(static_cast<size_t>(never), std::floor(rarest) - 1)});
  }
  models::PlotOptions o;
  o.title = title;
  o.x_label = cat("log10 firing frequency (over ", samples, " samples of the last epoch)");
  o.y_label = "latents";
  io::write_png(path, models::plot_histograms(groups, {}, o));
}

void write_sparsity_png(const std::string& path, const std::vector<EpochMetrics>& history,
                        const std::string& title) {
  auto panel = [&](const std::string& name, double Sparsity::*field) {
    models::Curve c;
    c.name = name;
    for (const EpochMetrics& m : history) {
      if (!m.sparsity.measured) continue;
      c.x.push_back(static_cast<double>(m.epoch));
      c.y.push_back(m.sparsity.*field);
    }
    models::PlotOptions o;
    o.title = cat(title, ": ", name);
    o.x_label = "epoch";
    o.y_label = name;
    o.width = 480;
    return models::plot_curves({c}, o);
  };
  io::write_png(path, models::beside({panel("L0 (active latents per sample)", &Sparsity::l0),
                                      panel("FVU (unexplained variance)", &Sparsity::fvu)}));
}

void write_latent_png(const std::string& path, const Tensor& codes,
                      const std::vector<int64_t>& labels, const std::string& title) {
  AE_CHECK(codes.ndim() == 2 && codes.size(0) > 0, "write_latent_png: ", path, ": codes ",
           codes.shape());
  const int64_t n = codes.size(0), k = codes.size(1);
  models::PlotOptions o;
  o.title = title;
  o.height = 520;
  o.width = 640;
  std::vector<double> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  if (k == 1) {
    const std::vector<double> v = codes.to_vector();
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<double>(i), y[i] = v[i];
    o.x_label = "sample";
    o.y_label = "code";
  } else {
    Tensor plane = codes.to(Device::cpu()).to(DType::f64);
    if (k > 2) {
      plane = models::Pca::fit(plane, 2).transform(plane);
      o.x_label = "principal component 1 of the code";
      o.y_label = "component 2";
    } else {
      o.x_label = "z1";
      o.y_label = "z2";
    }
    const std::vector<double> v = plane.to_vector();
    for (int64_t i = 0; i < n; ++i) x[i] = v[2 * i], y[i] = v[2 * i + 1];
  }
  io::write_png(path, models::plot_scatter(x, y, labels, o));
}

}  // namespace ae::run
