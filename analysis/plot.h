// Pictures of a run: loss curves, 2-D scatter plots and histograms with axes, ticks and legends,
// drawn on a Canvas (analysis/canvas.h) into an RGB io::Image (write it with io::write_png); no
// external drawing library.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/canvas.h"
#include "data/image.h"

namespace ae::models {

// "Nice" tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi], about `target` of
// them. lo < hi, both finite.
std::vector<double> nice_ticks(double lo, double hi, int target);
// A tick label that tells ticks `step` apart without noise digits: "0.05", "1200", "1e-05".
std::string tick_label(double value, double step);

enum class YScale : uint8_t { linear, log, automatic };  // automatic: log when y spans > 1 decade

struct PlotOptions {
  int width = 640;
  int height = 420;
  std::string title;
  std::string x_label;
  std::string y_label;
  YScale y_scale = YScale::linear;
  YScale x_scale = YScale::linear;  // plot_histograms: the values' axis (automatic: log past 2 decades)
};

struct Curve {
  std::string name;       // shown in the legend
  std::vector<double> x;  // (n)
  std::vector<double> y;  // (n); non-finite values (and y <= 0 on a log scale) break the line
  std::optional<Rgb> color;  // default: palette_color of the curve's position
};

// Line chart of one or more curves on shared axes, with grid, ticks and a legend in a corner no
// curve crosses (else beside the plot).
io::Image plot_curves(const std::vector<Curve>& curves, const PlotOptions& options);

// Scatter of points (x[i], y[i]) coloured by labels[i] (palette_color of the label's rank among
// the distinct labels), with a legend naming each label in a corner no point falls in (else
// beside the plot); labels may be empty (one colour).
// Non-finite points are skipped.
io::Image plot_scatter(const std::vector<double>& x, const std::vector<double>& y,
                       const std::vector<int64_t>& labels, const PlotOptions& options);

struct Histogram {
  std::string name;            // shown in the legend
  std::vector<double> values;  // non-finite values (and values <= 0 on a log axis) are left out
};
struct Marker {
  std::string name;  // shown in the legend
  double x = 0;      // a dashed vertical line at this value
};
// Histograms of groups of values over `bins` shared equal bins spanning every value and marker
// (on a log10 axis for options.x_scale log, or automatic when they span over 2 decades), each
// group in its palette colour, overlapping groups see-through; counts on the y axis.
io::Image plot_histograms(const std::vector<Histogram>& groups, const std::vector<Marker>& markers,
                          const PlotOptions& options, int bins = 40);

// RGB images side by side, top-aligned, on white.
io::Image beside(const std::vector<io::Image>& images);

// Gray pictures (io::tile_grid's rows) stacked top to bottom, each scaled up `zoom` times
// (nearest neighbour) with its caption on the left: "original" above "reconstruction". Captions
// may be empty (no caption column is drawn when all are). Returns an RGB image.
io::Image captioned_rows(const std::vector<std::string>& captions,
                         const std::vector<io::Image>& rows, int zoom);

}  // namespace ae::models
