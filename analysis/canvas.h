// An RGB picture drawn with plain integer rasterisation: lines, discs with alpha, rectangles and a
// built-in 5x7 bitmap font; and the palette the plots colour their series with.
#pragma once
#include <cstdint>
#include <string_view>

#include "data/image.h"

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

}  // namespace ae::models
