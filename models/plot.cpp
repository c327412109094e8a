#include "models/plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "core/error.h"

namespace ae::models {
namespace {

// A 5x7 font for printable ASCII (32..126): 7 rows of 5 pixels each, top row first, '#' lit.
constexpr int kGlyphW = 5;
constexpr int kGlyphH = 7;
constexpr const char* kGlyphs[95] = {
    "..... ..... ..... ..... ..... ..... .....",  // ' '
    "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",  // !
    ".#.#. .#.#. ..... ..... ..... ..... .....",  // "
    ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",  // #
    "..#.. .#### #.#.. .###. ..#.# ####. ..#..",  // $
    "##... ##..# ...#. ..#.. .#... #..## ...##",  // %
    ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",  // &
    "..#.. ..#.. ..... ..... ..... ..... .....",  // '
    "...#. ..#.. .#... .#... .#... ..#.. ...#.",  // (
    ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",  // )
    "..... ..#.. #.#.# .###. #.#.# ..#.. .....",  // *
    "..... ..#.. ..#.. ##### ..#.. ..#.. .....",  // +
    "..... ..... ..... ..... .##.. ..#.. .#...",  // ,
    "..... ..... ..... ##### ..... ..... .....",  // -
    "..... ..... ..... ..... ..... .##.. .##..",  // .
    "..... ....# ...#. ..#.. .#... #.... .....",  // /
    ".###. #...# #..## #.#.# ##..# #...# .###.",  // 0
    "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",  // 1
    ".###. #...# ....# ...#. ..#.. .#... #####",  // 2
    "##### ...#. ..#.. ...#. ....# #...# .###.",  // 3
    "...#. ..##. .#.#. #..#. ##### ...#. ...#.",  // 4
    "##### #.... ####. ....# ....# #...# .###.",  // 5
    "..##. .#... #.... ####. #...# #...# .###.",  // 6
    "##### ....# ...#. ..#.. .#... .#... .#...",  // 7
    ".###. #...# #...# .###. #...# #...# .###.",  // 8
    ".###. #...# #...# .#### ....# ...#. .##..",  // 9
    "..... .##.. .##.. ..... .##.. .##.. .....",  // :
    "..... .##.. .##.. ..... .##.. ..#.. .#...",  // ;
    "...#. ..#.. .#... #.... .#... ..#.. ...#.",  // <
    "..... ..... ##### ..... ##### ..... .....",  // =
    ".#... ..#.. ...#. ....# ...#. ..#.. .#...",  // >
    ".###. #...# ....# ...#. ..#.. ..... ..#..",  // ?
    ".###. #...# ....# .##.# #.#.# #.#.# .###.",  // @
    ".###. #...# #...# ##### #...# #...# #...#",  // A
    "####. #...# #...# ####. #...# #...# ####.",  // B
    ".###. #...# #.... #.... #.... #...# .###.",  // C
    "###.. #..#. #...# #...# #...# #..#. ###..",  // D
    "##### #.... #.... ####. #.... #.... #####",  // E
    "##### #.... #.... ####. #.... #.... #....",  // F
    ".###. #...# #.... #.### #...# #...# .####",  // G
    "#...# #...# #...# ##### #...# #...# #...#",  // H
    ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // I
    "..### ...#. ...#. ...#. ...#. #..#. .##..",  // J
    "#...# #..#. #.#.. ##... #.#.. #..#. #...#",  // K
    "#.... #.... #.... #.... #.... #.... #####",  // L
    "#...# ##.## #.#.# #.#.# #...# #...# #...#",  // M
    "#...# #...# ##..# #.#.# #..## #...# #...#",  // N
    ".###. #...# #...# #...# #...# #...# .###.",  // O
    "####. #...# #...# ####. #.... #.... #....",  // P
    ".###. #...# #...# #...# #.#.# #..#. .##.#",  // Q
    "####. #...# #...# ####. #.#.. #..#. #...#",  // R
    ".#### #.... #.... .###. ....# ....# ####.",  // S
    "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",  // T
    "#...# #...# #...# #...# #...# #...# .###.",  // U
    "#...# #...# #...# #...# #...# .#.#. ..#..",  // V
    "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",  // W
    "#...# #...# .#.#. ..#.. .#.#. #...# #...#",  // X
    "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",  // Y
    "##### ....# ...#. ..#.. .#... #.... #####",  // Z
    ".###. .#... .#... .#... .#... .#... .###.",  // [
    "..... #.... .#... ..#.. ...#. ....# .....",  // backslash
    ".###. ...#. ...#. ...#. ...#. ...#. .###.",  // ]
    "..#.. .#.#. #...# ..... ..... ..... .....",  // ^
    "..... ..... ..... ..... ..... ..... #####",  // _
    ".#... ..#.. ..... ..... ..... ..... .....",  // `
    "..... ..... .###. ....# .#### #...# .####",  // a
    "#.... #.... #.##. ##..# #...# #...# ####.",  // b
    "..... ..... .###. #.... #.... #...# .###.",  // c
    "....# ....# .##.# #..## #...# #...# .####",  // d
    "..... ..... .###. #...# ##### #.... .###.",  // e
    "..##. .#..# .#... ###.. .#... .#... .#...",  // f
    "..... .#### #...# #...# .#### ....# .###.",  // g
    "#.... #.... #.##. ##..# #...# #...# #...#",  // h
    "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",  // i
    "...#. ..... ..##. ...#. ...#. #..#. .##..",  // j
    "#.... #.... #..#. #.#.. ##... #.#.. #..#.",  // k
    ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // l
    "..... ..... ##.#. #.#.# #.#.# #...# #...#",  // m
    "..... ..... #.##. ##..# #...# #...# #...#",  // n
    "..... ..... .###. #...# #...# #...# .###.",  // o
    "..... ..... ####. #...# ####. #.... #....",  // p
    "..... ..... .##.# #..## .#### ....# ....#",  // q
    "..... ..... #.##. ##..# #.... #.... #....",  // r
    "..... ..... .###. #.... .###. ....# ####.",  // s
    ".#... .#... ###.. .#... .#... .#..# ..##.",  // t
    "..... ..... #...# #...# #...# #..## .##.#",  // u
    "..... ..... #...# #...# #...# .#.#. ..#..",  // v
    "..... ..... #...# #...# #.#.# #.#.# .#.#.",  // w
    "..... ..... #...# .#.#. ..#.. .#.#. #...#",  // x
    "..... ..... #...# #...# .#### ....# .###.",  // y
    "..... ..... ##### ...#. ..#.. .#... #####",  // z
    "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",  // {
    "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",  // |
    ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",  // }
    "..... ..... .#... #.#.# ...#. ..... .....",  // ~
};

// Is pixel (col, row) of character c lit?
bool glyph_pixel(char c, int col, int row) {
  const int index = (c >= 32 && c <= 126) ? c - 32 : '?' - 32;
  return kGlyphs[index][row * (kGlyphW + 1) + col] == '#';
}

constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kAxis{60, 60, 60};
constexpr Rgb kGrid{226, 226, 226};
constexpr Rgb kWhite{255, 255, 255};

uint8_t mix(uint8_t under, uint8_t over, double alpha) {
  return static_cast<uint8_t>(std::lround(under + (over - under) * alpha));
}

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

// Ticks for a log10 axis spanning [lo, hi] in log10 units.
std::vector<Tick> log_ticks(double lo, double hi, int target) {
  std::vector<Tick> ticks;
  if (hi - lo >= 1.0) {
    // 1, 2 and 5 per decade over a short span; whole decades, thinned out, over a long one.
    const bool dense = hi - lo < 2.5;
    const int first = static_cast<int>(std::floor(lo)), last = static_cast<int>(std::ceil(hi));
    const int every = dense ? 1 : std::max(1, (last - first + target - 1) / target);
    for (int k = first; k <= last; k += every)
      for (double m : {1.0, 2.0, 5.0}) {
        if (m != 1.0 && !dense) continue;
        const double at = k + std::log10(m);
        if (at < lo || at > hi) continue;
        char label[32];
        std::snprintf(label, sizeof label, "%g", m * std::pow(10.0, k));
        ticks.push_back({at, label});
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
  if (!o.title.empty())
    canvas.text((canvas.width() - Canvas::text_width(o.title, 2)) / 2, 8, o.title, kBlack, 2);
  if (!o.x_label.empty())
    canvas.text((f.left + f.right - Canvas::text_width(o.x_label)) / 2, f.bottom + 24, o.x_label,
                kBlack);
  if (!o.y_label.empty())
    canvas.text(std::max(4, f.left - Canvas::text_width(o.y_label) / 2),
                f.top - Canvas::text_height() - 6, o.y_label, kBlack);
}

// A legend box in the plot area's top-right corner: a colour mark and a name per entry.
void draw_legend(Canvas& canvas, const Frame& f, const std::vector<std::pair<std::string, Rgb>>& entries,
                 bool as_lines) {
  if (entries.empty()) return;
  int text_w = 0;
  for (const auto& e : entries) text_w = std::max(text_w, Canvas::text_width(e.first));
  const int row_h = Canvas::text_height() + 6, mark_w = 18;
  const int w = mark_w + 14 + text_w, h = static_cast<int>(entries.size()) * row_h + 8;
  const int x0 = f.right - w - 8, y0 = f.top + 8;
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

void check_size(const PlotOptions& o, const char* what) {
  AE_CHECK(o.width >= 160 && o.height >= 120 && o.width <= 8192 && o.height <= 8192, what,
           ": picture size ", o.width, "x", o.height, " must lie within 160x120 .. 8192x8192");
}

}  // namespace

Rgb palette_color(int64_t i) {
  static constexpr std::array<Rgb, 10> kTableau10 = {{{31, 119, 180},
                                                      {255, 127, 14},
                                                      {44, 160, 44},
                                                      {214, 39, 40},
                                                      {148, 103, 189},
                                                      {140, 86, 75},
                                                      {227, 119, 194},
                                                      {127, 127, 127},
                                                      {188, 189, 34},
                                                      {23, 190, 207}}};
  const int64_t k = ((i % 10) + 10) % 10;
  return kTableau10[static_cast<size_t>(k)];
}

Canvas::Canvas(int width, int height, Rgb background) {
  AE_CHECK(width > 0 && height > 0 && width <= 16384 && height <= 16384, "Canvas: size ", width,
           "x", height, " must lie within 1x1 .. 16384x16384");
  image_.width = width;
  image_.height = height;
  image_.channels = 3;
  image_.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < image_.pixels.size(); i += 3) {
    image_.pixels[i] = background.r;
    image_.pixels[i + 1] = background.g;
    image_.pixels[i + 2] = background.b;
  }
}

void Canvas::blend(int x, int y, Rgb c, double alpha) {
  if (x < 0 || y < 0 || x >= image_.width || y >= image_.height || !(alpha > 0)) return;
  uint8_t* p = image_.pixels.data() + (static_cast<size_t>(y) * image_.width + x) * 3;
  if (alpha >= 1) {
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
    return;
  }
  p[0] = mix(p[0], c.r, alpha);
  p[1] = mix(p[1], c.g, alpha);
  p[2] = mix(p[2], c.b, alpha);
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c, double alpha) {
  for (int yy = std::max(0, y); yy < std::min(image_.height, y + h); ++yy)
    for (int xx = std::max(0, x); xx < std::min(image_.width, x + w); ++xx) blend(xx, yy, c, alpha);
}

void Canvas::rect(int x, int y, int w, int h, Rgb c) {
  if (w <= 0 || h <= 0) return;
  line(x, y, x + w - 1, y, c);
  line(x, y + h - 1, x + w - 1, y + h - 1, c);
  line(x, y, x, y + h - 1, c);
  line(x + w - 1, y, x + w - 1, y + h - 1, c);
}

void Canvas::line(int x0, int y0, int x1, int y1, Rgb c, int thickness) {
  // Far-off endpoints (a curve leaving the picture) are walked only while they could be visible.
  const int64_t limit = 4 * static_cast<int64_t>(std::max(image_.width, image_.height));
  if (std::abs(static_cast<int64_t>(x0)) > limit || std::abs(static_cast<int64_t>(x1)) > limit ||
      std::abs(static_cast<int64_t>(y0)) > limit || std::abs(static_cast<int64_t>(y1)) > limit)
    return;
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  int err = dx + dy;
  for (;;) {
    for (int oy = lo; oy <= hi; ++oy)
      for (int ox = lo; ox <= hi; ++ox) blend(x0 + ox, y0 + oy, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

void Canvas::disc(double cx, double cy, double radius, Rgb c, double alpha) {
  const int x_lo = static_cast<int>(std::floor(cx - radius)), x_hi = static_cast<int>(std::ceil(cx + radius));
  const int y_lo = static_cast<int>(std::floor(cy - radius)), y_hi = static_cast<int>(std::ceil(cy + radius));
  for (int y = y_lo; y <= y_hi; ++y)
    for (int x = x_lo; x <= x_hi; ++x) {
      // Coverage of the pixel centre, softened over one pixel at the rim.
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      const double cover = std::clamp(radius + 0.5 - d, 0.0, 1.0);
      blend(x, y, c, alpha * cover);
    }
}

void Canvas::text(int x, int y, std::string_view s, Rgb c, int scale) {
  for (size_t i = 0; i < s.size(); ++i) {
    const int gx = x + static_cast<int>(i) * (kGlyphW + 1) * scale;
    for (int row = 0; row < kGlyphH; ++row)
      for (int col = 0; col < kGlyphW; ++col)
        if (glyph_pixel(s[i], col, row)) fill_rect(gx + col * scale, y + row * scale, scale, scale, c);
  }
}

int Canvas::text_width(std::string_view s, int scale) {
  return s.empty() ? 0 : (static_cast<int>(s.size()) * (kGlyphW + 1) - 1) * scale;
}

int Canvas::text_height(int scale) { return kGlyphH * scale; }

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
  const std::vector<Tick> x_ticks = linear_ticks(x_lo, x_hi, std::max(2, (f.right - f.left) / 80));
  const std::vector<Tick> y_ticks = log_y ? log_ticks(y_lo, y_hi, std::max(2, (f.bottom - f.top) / 50))
                                          : linear_ticks(y_lo, y_hi, std::max(2, (f.bottom - f.top) / 50));
  draw_axes(canvas, f, x_ticks, y_ticks, o);

  std::vector<std::pair<std::string, Rgb>> legend;
  for (size_t k = 0; k < curves.size(); ++k) {
    const Curve& c = curves[k];
    const Rgb color = palette_color(static_cast<int64_t>(k));
    bool have_prev = false;
    int px = 0, py = 0;
    for (size_t i = 0; i < c.x.size(); ++i) {
      const bool ok = std::isfinite(c.x[i]) && std::isfinite(c.y[i]) && (!log_y || c.y[i] > 0);
      if (!ok) {
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
    if (!c.name.empty()) legend.emplace_back(c.name, color);
  }
  draw_legend(canvas, f, legend, true);
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
  std::vector<std::pair<std::string, Rgb>> legend;
  if (rank.size() <= 20)
    for (const auto& [label, r] : rank) legend.emplace_back(std::to_string(label), palette_color(r));
  draw_legend(canvas, f, legend, false);
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
