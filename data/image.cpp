#include "data/image.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ae::io {

Image tile_grid(const std::vector<const float*>& images, int img_h, int img_w, int cols, float lo,
                float hi, int pad, uint8_t pad_value) {
  AE_CHECK(!images.empty(), "tile_grid: no images");
  AE_CHECK(img_h > 0 && img_w > 0, "tile_grid: image size ", img_h, "x", img_w,
           " must be positive");
  AE_CHECK(cols > 0, "tile_grid: cols ", cols, " must be positive");
  AE_CHECK(pad >= 0, "tile_grid: pad ", pad, " must be non-negative");
  AE_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "tile_grid: value range [", lo, ", ",
           hi, "] must be finite with lo < hi");
  for (size_t i = 0; i < images.size(); ++i)
    AE_CHECK(images[i] != nullptr, "tile_grid: image ", i, " is null");

  const int64_t n = static_cast<int64_t>(images.size());
  const int64_t grid_cols = std::min<int64_t>(cols, n);
  const int64_t grid_rows = (n + grid_cols - 1) / grid_cols;
  const int64_t width = grid_cols * img_w + (grid_cols + 1) * pad;
  const int64_t height = grid_rows * img_h + (grid_rows + 1) * pad;
  // PNG and libpng stop at 2^31 - 1 per side; refuse before allocating a huge buffer.
  AE_CHECK(width <= 1000000 && height <= 1000000, "tile_grid: a ", grid_rows, "x", grid_cols,
           " grid of ", img_h, "x", img_w, " images is ", width, "x", height,
           " pixels, more than 1000000 per side");

  Image out;
  out.width = static_cast<int>(width);
  out.height = static_cast<int>(height);
  out.channels = 1;
  out.pixels.assign(static_cast<size_t>(width * height), pad_value);
  const float scale = 255.0f / (hi - lo);
  for (int64_t k = 0; k < n; ++k) {
    const float* img = images[k];  // (img_h, img_w)
    const int64_t x0 = pad + (k % grid_cols) * (img_w + pad);
    const int64_t y0 = pad + (k / grid_cols) * (img_h + pad);
    for (int64_t y = 0; y < img_h; ++y) {
      uint8_t* row = out.pixels.data() + (y0 + y) * width + x0;
      for (int64_t x = 0; x < img_w; ++x) {
        const float v = (img[y * img_w + x] - lo) * scale;
        // The negated comparison sends NaN to 0 along with values below lo.
        row[x] = !(v > 0.0f) ? 0 : v >= 255.0f ? 255 : static_cast<uint8_t>(std::lround(v));
      }
    }
  }
  return out;
}

}  // namespace ae::io
