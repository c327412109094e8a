// PNG output through libpng (when ae is built with it; AE_HAVE_PNG).
#pragma once
#include <cstdint>
#include <string>

#include "data/image.h"

namespace ae::io {

// Writes an 8-bit gray (channels 1) or RGB (channels 3) PNG, atomically. Without libpng this is
// a clear error. pixels: (height, width, channels) row-major.
void write_png(const std::string& path, int width, int height, int channels, const uint8_t* pixels);
void write_png(const std::string& path, const Image& image);

}  // namespace ae::io
