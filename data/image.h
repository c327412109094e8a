// 8-bit images and the grid used for reconstruction and sample pictures.
#pragma once
#include <cstdint>
#include <vector>

namespace ae::io {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;             // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // (height, width, channels), row-major
};

// Tiles grayscale images into one picture: `cols` per row (fewer if there are fewer images),
// `pad` pixels of pad_value around and between them. Each value maps linearly from [lo, hi] to
// 0..255 and is clamped; NaN shows as 0. images[i]: (img_h, img_w) row-major.
Image tile_grid(const std::vector<const float*>& images, int img_h, int img_w, int cols, float lo,
                float hi, int pad, uint8_t pad_value = 0);

}  // namespace ae::io
