#include "tools/pictures.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "models/io/png.h"
#include "models/pca.h"
#include "models/plot.h"

namespace ae::cli {

PictureShape picture_shape(int64_t image_h, int64_t image_w, int64_t features) {
  if (image_h > 0 && image_w > 0 && image_h * image_w == features) return {image_h, image_w, 1};
  return {1, features, std::max<int64_t>(4, features / 4)};
}

void write_rows_png(const std::string& path, const std::vector<PictureRow>& rows,
                    const PictureShape& shape, int64_t cols, double lo, double hi) {
  AE_CHECK(!rows.empty() && cols > 0, "write_rows_png: ", path, ": nothing to draw");
  std::vector<std::vector<float>> values;
  double vmin = INFINITY, vmax = -INFINITY;
  for (const PictureRow& r : rows) {
    AE_CHECK(r.x.ndim() == 2 && r.x.size(1) == shape.h * shape.w, "write_rows_png: ", path,
             ": row '", r.caption, "' is ", r.x.shape(), ", expected (n, ", shape.h * shape.w, ")");
    values.push_back(r.x.to(DType::f32).to_floats());
    for (float v : values.back())
      if (std::isfinite(v)) vmin = std::min<double>(vmin, v), vmax = std::max<double>(vmax, v);
  }
  if (!(hi > lo)) {
    lo = vmin, hi = vmax;
    if (!(hi > lo)) lo -= 0.5, hi += 0.5;  // constant (or no finite) values: mid-grey
  }
  const int64_t h = shape.h * shape.repeat, w = shape.w;
  const int zoom = static_cast<int>(std::clamp<int64_t>((48 + h - 1) / h, 1, 6));
  std::vector<std::string> captions;
  std::vector<io::Image> grids;
  for (size_t k = 0; k < rows.size(); ++k) {
    const int64_t n = rows[k].x.size(0), features = shape.h * shape.w;
    // Each sample's picture, its rows repeated for strips.
    std::vector<std::vector<float>> pictures(static_cast<size_t>(n));
    std::vector<const float*> pointers;
    for (int64_t i = 0; i < n; ++i) {
      const float* src = values[k].data() + i * features;
      for (int64_t y = 0; y < shape.h; ++y)
        for (int64_t r = 0; r < shape.repeat; ++r)
          pictures[i].insert(pictures[i].end(), src + y * w, src + (y + 1) * w);
      pointers.push_back(pictures[i].data());
    }
    grids.push_back(io::tile_grid(pointers, static_cast<int>(h), static_cast<int>(w),
                                  static_cast<int>(cols), static_cast<float>(lo),
                                  static_cast<float>(hi), 1, 128));
    captions.push_back(rows[k].caption);
  }
  io::write_png(path, models::captioned_rows(captions, grids, zoom));
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

}  // namespace ae::cli
