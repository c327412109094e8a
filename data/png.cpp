#include "data/png.h"

#include <cstdio>
#include <vector>

#include "core/error.h"
#include "data/file.h"

#ifndef AE_HAVE_PNG
#define AE_HAVE_PNG 0
#endif
#if AE_HAVE_PNG
#include <png.h>
#endif

namespace ae::io {

#if AE_HAVE_PNG

namespace {

// libpng reports errors by longjmp; this state crosses that boundary, so it is plain data and
// nothing with a destructor lives between setjmp and the jump.
struct PngOutput {
  std::vector<uint8_t>* bytes;
  char error[256];
};

void on_write(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<PngOutput*>(png_get_io_ptr(png));
  try {
    out->bytes->insert(out->bytes->end(), data, data + n);
  } catch (...) {
    png_error(png, "out of memory");  // exceptions must not cross libpng's C frames
  }
}

void on_flush(png_structp) {}

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* out = static_cast<PngOutput*>(png_get_error_ptr(png));
  std::snprintf(out->error, sizeof out->error, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

// Encodes into out->bytes; false with out->error set on failure.
bool encode_png(int width, int height, int channels, const uint8_t* pixels, PngOutput* out) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, out, on_error, on_warning);
  if (png == nullptr) {
    std::snprintf(out->error, sizeof out->error, "cannot create the libpng writer");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(out->error, sizeof out->error, "cannot create the libpng info struct");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, on_write, on_flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(width) * static_cast<size_t>(channels);
  for (int y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(pixels + static_cast<size_t>(y) * stride));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

void write_png(const std::string& path, int width, int height, int channels,
               const uint8_t* pixels) {
  AE_CHECK(channels == 1 || channels == 3, path, ": write_png: channels is ", channels,
           ", expected 1 (gray) or 3 (RGB)");
  // libpng's default limit is 1000000 pixels per side.
  AE_CHECK(width > 0 && height > 0 && width <= 1000000 && height <= 1000000, path,
           ": write_png: size ", width, "x", height, " must be 1..1000000 per side");
  AE_CHECK(pixels != nullptr, path, ": write_png: null pixels");
  std::vector<uint8_t> bytes;
  PngOutput out{&bytes, {}};
  AE_CHECK(encode_png(width, height, channels, pixels, &out), path,
           ": PNG encoding failed: ", out.error);
  write_file_atomic(path, bytes);
}

#else

void write_png(const std::string& path, int width, int height, int channels,
               const uint8_t* pixels) {
  fail(cat(path, ": cannot write PNG: ae was built without libpng"));
}

#endif

void write_png(const std::string& path, const Image& image) {
  AE_CHECK(image.pixels.size() == static_cast<size_t>(image.width) *
                                      static_cast<size_t>(image.height) *
                                      static_cast<size_t>(image.channels),
           path, ": write_png: ", image.width, "x", image.height, "x", image.channels,
           " image has ", image.pixels.size(), " pixel bytes");
  write_png(path, image.width, image.height, image.channels, image.pixels.data());
}

}  // namespace ae::io
