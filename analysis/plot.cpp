#include "analysis/plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "core/error.h"

namespace ae::models {
namespace {

constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kAxis{60, 60, 60};
constexpr Rgb kGrid{226, 226, 226};
constexpr Rgb kWhite{255, 255, 255};

// The plot area inside the margins and the maps from data to pixel coordinates.
struct Frame {
  int left, top, right, bottom;  // pixel bounds of the plot area (inclusive)
  double x_lo, x_hi, y_lo, y_hi;  // data bounds (y already transformed for a log scale)

  double px(double x) const { return left + (x - x_lo) / (x_hi - x_lo) * (right - left); }
  double py(double y) const { return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top); }
};

// [lo, hi] widened so that the data does not touch the frame; a single value gets a range.
void pad_range(double& lo, double& hi, double fraction) {
  if (!(hi > lo)) {
    const double half = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= half;
    hi += half;
    return;
  }
  const double pad = (hi - lo) * fraction;
  lo -= pad;
  hi += pad;
}

// Ticks on the axis, in the axis's (possibly log10-transformed) coordinates, with their labels.
struct Tick {
  double at;
  std::string label;
};

std::vector<Tick> linear_ticks(double lo, double hi, int target) {
  std::vector<double> values = nice_ticks(lo, hi, target);
  const double step = values.size() > 1 ? values[1] - values[0] : std::abs(hi - lo);
  std::vector<Tick> ticks;
  for (double v : values) ticks.push_back({v, tick_label(v, step)});
  return ticks;
}

// m·10^k as a tick label of a log axis: plain digits from 0.001 to 99999 ("0.02", "500"),
// else "1e6", "2e-5" (never "1e+06").
std::string log_label(double m, int k) {
  char label[32];
  if (k >= -3 && k <= 4) {
    const double v = m * std::pow(10.0, k);
    std::snprintf(label, sizeof label, "%.*f", k < 0 ? -k : 0, v);
  } else {
    std::snprintf(label, sizeof label, "%ge%d", m, k);
  }
  return label;
}

// Ticks for a log10 axis spanning [lo, hi] in log10 units.
std::vector<Tick> log_ticks(double lo, double hi, int target) {
  std::vector<Tick> ticks;
  if (hi - lo >= 1.0) {
    // 1, 2 and 5 per decade while they fit (about `target` labels); whole decades, thinned
    // out, over a long span.
    const bool dense = (hi - lo) * 3 <= target * 1.5;
    const int first = static_cast<int>(std::floor(lo)), last = static_cast<int>(std::ceil(hi));
    const int every = dense ? 1 : std::max(1, (last - first + target - 1) / target);
    for (int k = first; k <= last; k += every)
      for (double m : {1.0, 2.0, 5.0}) {
        if (m != 1.0 && !dense) continue;
        const double at = k + std::log10(m);
        if (at < lo || at > hi) continue;
        ticks.push_back({at, log_label(m, k)});
      }
    return ticks;
  }
  // Less than a decade: nice values of the untransformed range, placed on the log axis.
  const double a = std::pow(10.0, lo), b = std::pow(10.0, hi);
  std::vector<double> values = nice_ticks(a, b, target);
  const double step = values.size() > 1 ? values[1] - values[0] : b - a;
  for (double v : values)
    if (v > 0) ticks.push_back({std::log10(v), tick_label(v, step)});
  return ticks;
}

// Draws the frame, grid, ticks, title and axis labels.
void draw_axes(Canvas& canvas, const Frame& f, const std::vector<Tick>& x_ticks,
               const std::vector<Tick>& y_ticks, const PlotOptions& o) {
  for (const Tick& t : x_ticks) {
    const int x = static_cast<int>(std::lround(f.px(t.at)));
    canvas.line(x, f.top, x, f.bottom, kGrid);
    canvas.line(x, f.bottom, x, f.bottom + 4, kAxis);
    canvas.text(x - Canvas::text_width(t.label) / 2, f.bottom + 8, t.label, kAxis);
  }
  for (const Tick& t : y_ticks) {
    const int y = static_cast<int>(std::lround(f.py(t.at)));
    canvas.line(f.left, y, f.right, y, kGrid);
    canvas.line(f.left - 4, y, f.left, y, kAxis);
    canvas.text(f.left - 8 - Canvas::text_width(t.label), y - Canvas::text_height() / 2, t.label,
                kAxis);
  }
  canvas.rect(f.left, f.top, f.right - f.left + 1, f.bottom - f.top + 1, kAxis);
  if (!o.title.empty()) {
    // Large when it fits, else small.
    const int scale = Canvas::text_width(o.title, 2) <= canvas.width() - 16 ? 2 : 1;
    canvas.text(std::max(4, (canvas.width() - Canvas::text_width(o.title, scale)) / 2),
                scale == 2 ? 8 : 14, o.title, kBlack, scale);
  }
  if (!o.x_label.empty())
    canvas.text((f.left + f.right - Canvas::text_width(o.x_label)) / 2, f.bottom + 24, o.x_label,
                kBlack);
  if (!o.y_label.empty())
    canvas.text(std::max(4, f.left - Canvas::text_width(o.y_label) / 2),
                f.top - Canvas::text_height() - 6, o.y_label, kBlack);
}

using LegendEntries = std::vector<std::pair<std::string, Rgb>>;
constexpr int kLegendRow = 7 + 6, kLegendMark = 18;  // row height (font + 6), colour mark width

// The size of a legend box: a colour mark and a name per entry.
struct LegendBox {
  int w = 0, h = 0;
};
LegendBox legend_box(const LegendEntries& entries) {
  if (entries.empty()) return {};
  int text_w = 0;
  for (const auto& e : entries) text_w = std::max(text_w, Canvas::text_width(e.first));
  return {kLegendMark + 14 + text_w, static_cast<int>(entries.size()) * kLegendRow + 8};
}

// The legend box with its top-left corner at (x0, y0).
void draw_legend_at(Canvas& canvas, int x0, int y0, const LegendEntries& entries, bool as_lines) {
  if (entries.empty()) return;
  const int row_h = kLegendRow, mark_w = kLegendMark;
  const auto [w, h] = legend_box(entries);
  canvas.fill_rect(x0, y0, w, h, kWhite, 0.85);
  canvas.rect(x0, y0, w, h, kGrid);
  for (size_t i = 0; i < entries.size(); ++i) {
    const int cy = y0 + 4 + static_cast<int>(i) * row_h + row_h / 2;
    if (as_lines)
      canvas.line(x0 + 5, cy, x0 + 5 + mark_w, cy, entries[i].second, 2);
    else
      canvas.disc(x0 + 5 + mark_w / 2.0, cy, 3.5, entries[i].second);
    canvas.text(x0 + 10 + mark_w, cy - Canvas::text_height() / 2, entries[i].first, kBlack);
  }
}

// Where a legend box goes: the first corner of the plot area (top right, top left, bottom
// right, bottom left) where crossed(x0, y0, x1, y1) says nothing is drawn; when every corner is
// taken, the plot area narrows and the legend stands to its right.
template <class Crossed>
void place_legend(Frame& f, int width, LegendBox box, int& x, int& y, Crossed crossed) {
  if (box.w == 0) return;
  const int xs[2] = {f.right - box.w - 8, f.left + 8}, ys[2] = {f.top + 8, f.bottom - box.h - 8};
  for (int corner = 0; corner < 4; ++corner) {
    x = xs[corner % 2], y = ys[corner / 2];
    if (!crossed(x, y, x + box.w, y + box.h)) return;
  }
  if (width - box.w - 24 - f.left >= 80) {
    f.right = width - box.w - 24;
    x = f.right + 12, y = f.top;
  } else {
    x = xs[0], y = ys[0];  // too narrow for a legend beside the plot
  }
}

Rgb curve_color(const std::vector<Curve>& curves, size_t k) {
  return curves[k].color.value_or(palette_color(static_cast<int64_t>(k)));
}

void check_size(const PlotOptions& o, const char* what) {
  AE_CHECK(o.width >= 160 && o.height >= 120 && o.width <= 8192 && o.height <= 8192, what,
           ": picture size ", o.width, "x", o.height, " must lie within 160x120 .. 8192x8192");
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  AE_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "nice_ticks: range [", lo, ", ", hi,
           "] must be finite with lo < hi");
  target = std::max(target, 2);
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double k = std::ceil(lo / step); k * step <= hi + step * 1e-9; k += 1) {
    const double v = k * step;
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);  // no "-0" or 1e-17 at zero
  }
  return ticks;
}

std::string tick_label(double value, double step) {
  char out[32];
  const double a = std::abs(value);
  if (a != 0 && (a >= 1e6 || a < 1e-4)) {
    std::snprintf(out, sizeof out, "%.3g", value);
    return out;
  }
  const int decimals =
      step >= 1 || step <= 0 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(out, sizeof out, "%.*f", decimals, value);
  return out;
}

io::Image plot_curves(const std::vector<Curve>& curves, const PlotOptions& o) {
  check_size(o, "plot_curves");
  AE_CHECK(!curves.empty(), "plot_curves: no curves");
  for (const Curve& c : curves)
    AE_CHECK(c.x.size() == c.y.size(), "plot_curves: curve '", c.name, "' has ", c.x.size(),
             " x values but ", c.y.size(), " y values");

  bool positive = true;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const Curve& c : curves)
    for (size_t i = 0; i < c.x.size(); ++i) {
      if (!std::isfinite(c.x[i]) || !std::isfinite(c.y[i])) continue;
      x_lo = std::min(x_lo, c.x[i]), x_hi = std::max(x_hi, c.x[i]);
      y_lo = std::min(y_lo, c.y[i]), y_hi = std::max(y_hi, c.y[i]);
      positive = positive && c.y[i] > 0;
    }
  const bool any = x_lo <= x_hi;
  if (!any) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  const bool log_y = any && positive &&
                     (o.y_scale == YScale::log ||
                      (o.y_scale == YScale::automatic && y_hi > 10 * y_lo));
  auto ty = [&](double y) { return log_y ? std::log10(y) : y; };
  y_lo = ty(y_lo), y_hi = ty(y_hi);
  if (!(x_hi > x_lo)) pad_range(x_lo, x_hi, 0);
  pad_range(y_lo, y_hi, 0.05);

  Canvas canvas(o.width, o.height);
  Frame f{72, o.title.empty() ? 28 : 48, o.width - 18, o.height - (o.x_label.empty() ? 28 : 44),
          x_lo, x_hi, y_lo, y_hi};
  const std::vector<Tick> y_ticks = log_y ? log_ticks(y_lo, y_hi, std::max(2, (f.bottom - f.top) / 50))
                                          : linear_ticks(y_lo, y_hi, std::max(2, (f.bottom - f.top) / 50));
  // The legend goes in a corner of the plot area that no curve crosses; when every corner is
  // crossed, the plot area narrows and the legend stands to its right.
  std::vector<std::pair<std::string, Rgb>> legend;
  for (size_t k = 0; k < curves.size(); ++k)
    if (!curves[k].name.empty()) legend.emplace_back(curves[k].name, curve_color(curves, k));
  auto point_ok = [&](const Curve& c, size_t i) {
    return std::isfinite(c.x[i]) && std::isfinite(c.y[i]) && (!log_y || c.y[i] > 0);
  };
  int legend_x = 0, legend_y = 0;
  place_legend(f, o.width, legend_box(legend), legend_x, legend_y, [&](int x0, int y0, int x1, int y1) {
    for (const Curve& c : curves)
      // Each segment sampled about every pixel, with the pen's width as margin.
      for (size_t i = 0; i < c.x.size(); ++i) {
        if (!point_ok(c, i)) continue;
        const double ax = f.px(c.x[i]), ay = f.py(ty(c.y[i]));
        const bool joined = i + 1 < c.x.size() && point_ok(c, i + 1);
        const double bx = joined ? f.px(c.x[i + 1]) : ax, by = joined ? f.py(ty(c.y[i + 1])) : ay;
        const int steps = 1 + static_cast<int>(std::min(1e5, std::max(std::abs(bx - ax), std::abs(by - ay))));
        for (int t = 0; t <= steps; ++t) {
          const double px = ax + (bx - ax) * t / steps, py = ay + (by - ay) * t / steps;
          if (px >= x0 - 4 && px <= x1 + 4 && py >= y0 - 4 && py <= y1 + 4) return true;
        }
      }
    return false;
  });
  const std::vector<Tick> x_ticks = linear_ticks(x_lo, x_hi, std::max(2, (f.right - f.left) / 80));
  draw_axes(canvas, f, x_ticks, y_ticks, o);

  for (size_t k = 0; k < curves.size(); ++k) {
    const Curve& c = curves[k];
    const Rgb color = curve_color(curves, k);
    bool have_prev = false;
    int px = 0, py = 0;
    for (size_t i = 0; i < c.x.size(); ++i) {
      if (!point_ok(c, i)) {
        have_prev = false;
        continue;
      }
      const int x = static_cast<int>(std::lround(f.px(c.x[i])));
      const int y = static_cast<int>(std::lround(f.py(ty(c.y[i]))));
      if (have_prev) canvas.line(px, py, x, y, color, 2);
      // A lone point (or a one-epoch curve) still shows as a dot.
      if (c.x.size() < 40 || !have_prev) canvas.disc(x + 0.5, y + 0.5, 2.5, color);
      px = x, py = y, have_prev = true;
    }
  }
  draw_legend_at(canvas, legend_x, legend_y, legend, true);
  return canvas.image();
}

io::Image plot_scatter(const std::vector<double>& x, const std::vector<double>& y,
                       const std::vector<int64_t>& labels, const PlotOptions& o) {
  check_size(o, "plot_scatter");
  AE_CHECK(x.size() == y.size(), "plot_scatter: ", x.size(), " x values but ", y.size(), " y values");
  AE_CHECK(labels.empty() || labels.size() == x.size(), "plot_scatter: ", labels.size(),
           " labels for ", x.size(), " points");

  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    x_lo = std::min(x_lo, x[i]), x_hi = std::max(x_hi, x[i]);
    y_lo = std::min(y_lo, y[i]), y_hi = std::max(y_hi, y[i]);
  }
  if (!(x_lo <= x_hi)) x_lo = -1, x_hi = 1, y_lo = -1, y_hi = 1;
  pad_range(x_lo, x_hi, 0.04);
  pad_range(y_lo, y_hi, 0.04);

  // Colours follow the rank of each label among the distinct labels, so classes 3 and 8 alone
  // still get two clearly different colours.
  std::map<int64_t, int64_t> rank;
  for (int64_t l : labels) rank.emplace(l, 0);
  int64_t next = 0;
  for (auto& [label, r] : rank) r = next++;

  Canvas canvas(o.width, o.height);
  Frame f{72, o.title.empty() ? 28 : 48, o.width - 18,
          o.height - (o.x_label.empty() ? 28 : 44), x_lo, x_hi, y_lo, y_hi};
  // The legend in a corner no point falls in, else beside the plot.
  std::vector<std::pair<std::string, Rgb>> legend;
  if (rank.size() <= 20)
    for (const auto& [label, r] : rank) legend.emplace_back(std::to_string(label), palette_color(r));
  int legend_x = 0, legend_y = 0;
  place_legend(f, o.width, legend_box(legend), legend_x, legend_y, [&](int x0, int y0, int x1, int y1) {
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
      const double px = f.px(x[i]), py = f.py(y[i]);
      if (px >= x0 - 4 && px <= x1 + 4 && py >= y0 - 4 && py <= y1 + 4) return true;
    }
    return false;
  });
  draw_axes(canvas, f, linear_ticks(x_lo, x_hi, std::max(2, (f.right - f.left) / 80)),
            linear_ticks(y_lo, y_hi, std::max(2, (f.bottom - f.top) / 50)), o);

  // Smaller, fainter points when there are many, so dense clusters stay readable.
  const double radius = x.size() > 5000 ? 1.4 : x.size() > 500 ? 2.0 : 3.0;
  const double alpha = x.size() > 5000 ? 0.45 : x.size() > 500 ? 0.65 : 0.9;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    const Rgb color = labels.empty() ? palette_color(0) : palette_color(rank[labels[i]]);
    canvas.disc(f.px(x[i]), f.py(y[i]), radius, color, alpha);
  }
  draw_legend_at(canvas, legend_x, legend_y, legend, false);
  return canvas.image();
}

io::Image plot_histograms(const std::vector<Histogram>& groups, const std::vector<Marker>& markers,
                          const PlotOptions& o, int bins) {
  check_size(o, "plot_histograms");
  AE_CHECK(!groups.empty() && bins >= 1 && bins <= 1000, "plot_histograms: ", groups.size(),
           " groups, ", bins, " bins");
  bool positive = true;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Histogram& g : groups)
    for (double v : g.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v), positive = positive && v > 0;
  for (const Marker& m : markers)
    if (std::isfinite(m.x)) lo = std::min(lo, m.x), hi = std::max(hi, m.x), positive = positive && m.x > 0;
  const bool any = lo <= hi;
  if (!any) lo = 0, hi = 1;
  const bool log_x = any && positive &&
                     (o.x_scale == YScale::log || (o.x_scale == YScale::automatic && hi > 100 * lo));
  auto tx = [&](double v) { return log_x ? std::log10(v) : v; };
  lo = tx(lo), hi = tx(hi);
  if (!(hi > lo)) pad_range(lo, hi, 0);
  // Counts per bin; the last bin holds its right edge.
  std::vector<std::vector<int64_t>> counts(groups.size(), std::vector<int64_t>(static_cast<size_t>(bins)));
  int64_t top = 1;
  for (size_t g = 0; g < groups.size(); ++g)
    for (double v : groups[g].values) {
      if (!std::isfinite(v) || (log_x && v <= 0)) continue;
      const int b = std::clamp(static_cast<int>((tx(v) - lo) / (hi - lo) * bins), 0, bins - 1);
      top = std::max(top, ++counts[g][static_cast<size_t>(b)]);
    }
  double y_lo = 0, y_hi = static_cast<double>(top) * 1.08;

  Canvas canvas(o.width, o.height);
  Frame f{72, o.title.empty() ? 28 : 48, o.width - 18, o.height - (o.x_label.empty() ? 28 : 44),
          lo, hi, y_lo, y_hi};
  LegendEntries legend;
  for (size_t g = 0; g < groups.size(); ++g)
    if (!groups[g].name.empty()) legend.emplace_back(groups[g].name, palette_color(static_cast<int64_t>(g)));
  for (const Marker& m : markers) legend.emplace_back(m.name, kBlack);
  int legend_x = 0, legend_y = 0;
  auto bar = [&](size_t g, int b, int& x0, int& x1, int& y0) {
    x0 = static_cast<int>(std::lround(f.px(lo + (hi - lo) * b / bins)));
    x1 = static_cast<int>(std::lround(f.px(lo + (hi - lo) * (b + 1) / bins)));
    y0 = static_cast<int>(std::lround(f.py(static_cast<double>(counts[g][static_cast<size_t>(b)]))));
  };
  place_legend(f, o.width, legend_box(legend), legend_x, legend_y, [&](int x0, int y0, int x1, int y1) {
    for (size_t g = 0; g < groups.size(); ++g)
      for (int b = 0; b < bins; ++b) {
        int bx0, bx1, by0;
        bar(g, b, bx0, bx1, by0);
        if (counts[g][static_cast<size_t>(b)] > 0 && bx1 >= x0 && bx0 <= x1 && by0 <= y1) return true;
      }
    for (const Marker& m : markers) {
      const double mx = f.px(tx(m.x));
      if (mx >= x0 - 3 && mx <= x1 + 3) return true;
    }
    return false;
  });
  const std::vector<Tick> x_ticks = log_x ? log_ticks(lo, hi, std::max(2, (f.right - f.left) / 80))
                                          : linear_ticks(lo, hi, std::max(2, (f.right - f.left) / 80));
  // Counts: whole-number ticks only.
  std::vector<Tick> y_ticks;
  for (const Tick& t : linear_ticks(y_lo, y_hi, std::max(2, (f.bottom - f.top) / 50)))
    if (t.at == std::floor(t.at)) y_ticks.push_back(t);
  draw_axes(canvas, f, x_ticks, y_ticks, o);
  for (size_t g = 0; g < groups.size(); ++g)
    for (int b = 0; b < bins; ++b) {
      if (counts[g][static_cast<size_t>(b)] == 0) continue;
      int x0, x1, y0;
      bar(g, b, x0, x1, y0);
      canvas.fill_rect(x0, y0, std::max(1, x1 - x0), f.bottom - y0, palette_color(static_cast<int64_t>(g)),
                       groups.size() > 1 ? 0.55 : 0.85);
    }
  for (const Marker& m : markers) {
    if (!std::isfinite(m.x) || (log_x && m.x <= 0)) continue;
    const int x = static_cast<int>(std::lround(f.px(tx(m.x))));
    for (int y = f.top; y < f.bottom; y += 8) canvas.line(x, y, x, std::min(f.bottom, y + 4), kBlack, 2);
  }
  draw_legend_at(canvas, legend_x, legend_y, legend, true);
  return canvas.image();
}

io::Image beside(const std::vector<io::Image>& images) {
  AE_CHECK(!images.empty(), "beside: no images");
  int width = 0, height = 0;
  for (const io::Image& im : images) {
    AE_CHECK(im.channels == 3, "beside: RGB images only, got ", im.channels, " channels");
    width += im.width, height = std::max(height, im.height);
  }
  Canvas canvas(width, height);
  int x0 = 0;
  for (const io::Image& im : images) {
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x) {
        const uint8_t* p = im.pixels.data() + (static_cast<size_t>(y) * im.width + x) * 3;
        canvas.blend(x0 + x, y, Rgb{p[0], p[1], p[2]});
      }
    x0 += im.width;
  }
  return canvas.image();
}

io::Image captioned_rows(const std::vector<std::string>& captions,
                         const std::vector<io::Image>& rows, int zoom) {
  AE_CHECK(!rows.empty() && captions.size() == rows.size(), "captioned_rows: ", rows.size(),
           " rows and ", captions.size(), " captions");
  AE_CHECK(zoom >= 1 && zoom <= 64, "captioned_rows: zoom ", zoom, " outside 1..64");
  int caption_w = 0, width = 0, height = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    AE_CHECK(rows[i].channels == 1 && rows[i].width > 0 && rows[i].height > 0,
             "captioned_rows: row ", i, " must be a non-empty gray image");
    caption_w = std::max(caption_w, Canvas::text_width(captions[i]));
    width = std::max(width, rows[i].width * zoom);
    height += rows[i].height * zoom;
  }
  const int margin = caption_w > 0 ? caption_w + 12 : 0;
  Canvas canvas(margin + width, height, kWhite);
  int y0 = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const io::Image& row = rows[i];
    for (int y = 0; y < row.height * zoom; ++y)
      for (int x = 0; x < row.width * zoom; ++x) {
        const uint8_t v = row.pixels[static_cast<size_t>(y / zoom) * row.width + x / zoom];
        canvas.blend(margin + x, y0 + y, Rgb{v, v, v});
      }
    canvas.text(6, y0 + (row.height * zoom - Canvas::text_height()) / 2, captions[i], kBlack);
    y0 += row.height * zoom;
  }
  return canvas.image();
}

}  // namespace ae::models
