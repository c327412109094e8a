#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "data/file.h"
#include "data/image.h"
#include "data/png.h"
#include "tests/common/io_testing.h"

#if AE_HAVE_PNG
#include <png.h>
#endif

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

TEST(IoImage, GridGeometryAndPadding) {
  // Five 2x3 images, 2 per row, 1 pixel of padding: 3 rows, 2*3+3 = 9 wide, 3*2+4 = 10 high.
  std::vector<std::vector<float>> imgs(5, std::vector<float>(6));
  for (int k = 0; k < 5; ++k)
    for (int i = 0; i < 6; ++i) imgs[k][i] = static_cast<float>(k * 10 + i);
  std::vector<const float*> ptrs;
  for (const auto& im : imgs) ptrs.push_back(im.data());
  const Image g = tile_grid(ptrs, 2, 3, 2, 0.0f, 255.0f, 1, 77);
  EXPECT_EQ(g.width, 9);
  EXPECT_EQ(g.height, 10);
  EXPECT_EQ(g.channels, 1);
  ASSERT_EQ(g.pixels.size(), 90u);
  auto at = [&](int y, int x) { return static_cast<int>(g.pixels[y * 9 + x]); };
  EXPECT_EQ(at(0, 0), 77);  // border
  EXPECT_EQ(at(1, 1), 0);   // image 0, pixel (0, 0)
  EXPECT_EQ(at(2, 3), 5);   // image 0, pixel (1, 2)
  EXPECT_EQ(at(1, 4), 77);  // gap between columns
  EXPECT_EQ(at(1, 5), 10);  // image 1, pixel (0, 0)
  EXPECT_EQ(at(4, 1), 20);  // image 2 starts the second row at y = 1 + 2 + 1
  EXPECT_EQ(at(7, 1), 40);  // image 4, third row
  EXPECT_EQ(at(7, 5), 77);  // the empty sixth slot keeps the pad value
  EXPECT_EQ(at(9, 8), 77);
}

TEST(IoImage, ValuesMapFromRangeAndClamp) {
  const std::vector<float> v = {
      -1.0f,     -0.5f,   0.0f, 0.5f, 1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN(),
      -INFINITY, INFINITY};
  const Image g = tile_grid({v.data()}, 1, 9, 8, -1.0f, 1.0f, 0);
  EXPECT_EQ(g.width, 9);  // fewer images than cols: the grid shrinks to one column
  EXPECT_EQ(g.height, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{0, 64, 128, 191, 255, 255, 0, 0, 255}));
}

TEST(IoImage, BadArgumentsAreErrors) {
  const float x[4] = {};
  EXPECT_EQ(error_of([&] { tile_grid({}, 2, 2, 1, 0, 1, 0); }), "tile_grid: no images");
  EXPECT_EQ(error_of([&] { tile_grid({x}, 0, 2, 1, 0, 1, 0); }),
            "tile_grid: image size 0x2 must be positive");
  EXPECT_EQ(error_of([&] { tile_grid({x}, 2, 2, 0, 0, 1, 0); }),
            "tile_grid: cols 0 must be positive");
  EXPECT_EQ(error_of([&] { tile_grid({x}, 2, 2, 1, 0, 1, -1); }),
            "tile_grid: pad -1 must be non-negative");
  EXPECT_EQ(error_of([&] { tile_grid({x}, 2, 2, 1, 1, 1, 0); }),
            "tile_grid: value range [1, 1] must be finite with lo < hi");
  EXPECT_EQ(error_of([&] {
              tile_grid({x, nullptr}, 2, 2, 1, 0, 1, 0);
            }),
            "tile_grid: image 1 is null");
  EXPECT_TRUE(contains(error_of([&] { tile_grid({x}, 2000000, 1, 1, 0, 1, 0); }),
                       "pixels, more than 1000000 per side"));
}

#if AE_HAVE_PNG

// Decodes a PNG with libpng's simplified API into its native format.
struct Decoded {
  png_image info;
  std::vector<uint8_t> pixels;
};

Decoded decode_png(const std::string& path) {
  Decoded d{};
  d.info.version = PNG_IMAGE_VERSION;
  EXPECT_NE(png_image_begin_read_from_file(&d.info, path.c_str()), 0) << d.info.message;
  d.pixels.resize(PNG_IMAGE_SIZE(d.info));
  EXPECT_NE(png_image_finish_read(&d.info, nullptr, d.pixels.data(), 0, nullptr), 0)
      << d.info.message;
  return d;
}

TEST(IoImage, GrayPngRoundTrip) {
  TempDir dir;
  const std::string path = dir.path("grid.png");
  std::vector<float> a(28 * 28), b(28 * 28);
  for (int i = 0; i < 28 * 28; ++i) {
    a[i] = static_cast<float>(i % 28) / 27.0f;
    b[i] = 1.0f - a[i];
  }
  const Image g = tile_grid({a.data(), b.data(), a.data()}, 28, 28, 2, 0.0f, 1.0f, 2, 128);
  write_png(path, g);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"grid.png"});

  const Bytes raw = test::read_raw(path);
  ASSERT_GT(raw.size(), 33u);
  const Bytes signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_EQ(Bytes(raw.begin(), raw.begin() + 8), signature);
  EXPECT_EQ(std::string(raw.begin() + 12, raw.begin() + 16), "IHDR");

  const Decoded d = decode_png(path);
  EXPECT_EQ(d.info.width, static_cast<png_uint_32>(g.width));
  EXPECT_EQ(d.info.height, static_cast<png_uint_32>(g.height));
  EXPECT_EQ(d.info.format, static_cast<png_uint_32>(PNG_FORMAT_GRAY));
  EXPECT_EQ(d.pixels, g.pixels);
}

TEST(IoImage, RgbPngRoundTrip) {
  TempDir dir;
  const std::string path = dir.path("rgb.png");
  std::vector<uint8_t> px(5 * 3 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 17);
  write_png(path, 5, 3, 3, px.data());
  const Decoded d = decode_png(path);
  EXPECT_EQ(d.info.width, 5u);
  EXPECT_EQ(d.info.height, 3u);
  EXPECT_EQ(d.info.format, static_cast<png_uint_32>(PNG_FORMAT_RGB));
  EXPECT_EQ(d.pixels, px);
}

TEST(IoImage, PngArgumentErrors) {
  TempDir dir;
  const std::string p = dir.path("x.png");
  const uint8_t px[4] = {};
  EXPECT_EQ(error_of([&] { write_png(p, 2, 2, 2, px); }),
            p + ": write_png: channels is 2, expected 1 (gray) or 3 (RGB)");
  EXPECT_EQ(error_of([&] { write_png(p, 0, 2, 1, px); }),
            p + ": write_png: size 0x2 must be 1..1000000 per side");
  EXPECT_EQ(error_of([&] {
              write_png(p, Image{2, 2, 1, {1, 2, 3}});
            }),
            p + ": write_png: 2x2x1 image has 3 pixel bytes");
  EXPECT_TRUE(dir.list().empty());
}

#else

TEST(IoImage, PngWithoutLibpngIsAClearError) {
  const uint8_t px[1] = {};
  EXPECT_EQ(error_of([&] { write_png("/tmp/x.png", 1, 1, 1, px); }),
            "/tmp/x.png: cannot write PNG: ae was built without libpng");
}

#endif

}  // namespace
}  // namespace ae::io
