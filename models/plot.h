// Pictures of a run: loss curves and 2-D scatter plots, rasterised into an RGB io::Image (write it
// with io::write_png). Plain integer rasterisation: lines, discs with alpha, rectangles and a
// built-in 5x7 bitmap font for ticks, titles and legends; no external drawing library.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/io/image.h"

namespace ae::models {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// The i-th colour of a 10-colour qualitative palette (Tableau 10), cycling for i >= 10.
Rgb palette_color(int64_t i);

// An RGB picture being drawn. Coordinates are pixels, x to the right, y down; whatever falls
// outside the canvas is clipped.
class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return image_.width; }
  int height() const { return image_.height; }
  const io::Image& image() const { return image_; }

  // Mixes c into the pixel with weight alpha in [0, 1].
  void blend(int x, int y, Rgb c, double alpha = 1.0);
  void fill_rect(int x, int y, int w, int h, Rgb c, double alpha = 1.0);
  void rect(int x, int y, int w, int h, Rgb c);  // the 1-pixel outline
  // A straight segment `thickness` pixels wide (a square pen, Bresenham's walk).
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1);
  void disc(double cx, double cy, double radius, Rgb c, double alpha = 1.0);
  // Text with its top-left corner at (x, y); each font pixel becomes a scale x scale block.
  // Characters outside printable ASCII show as '?'.
  void text(int x, int y, std::string_view s, Rgb c, int scale = 1);
  static int text_width(std::string_view s, int scale = 1);
  static int text_height(int scale = 1);

 private:
  io::Image image_;  // (height, width, 3)
};

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
