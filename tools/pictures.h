// The PNG pictures of the commands: sample grids (originals above reconstructions, samples,
// denoising rows), the loss curve and the latent scatter.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/io/image.h"
#include "tools/run_folder.h"

namespace ae::cli {

// How one sample is drawn: an image_h x image_w picture, or, for data that is not pictures, a
// strip one value wide per feature.
struct PictureShape {
  int64_t h = 0, w = 0;
  int64_t repeat = 1;  // each picture row drawn this many times (strips get some height)
};
PictureShape picture_shape(int64_t image_h, int64_t image_w, int64_t features);

// A row of samples for a grid: x (n, features) in data space, any device.
struct PictureRow {
  std::string caption;
  Tensor x;
};

// Rows of samples, `cols` per grid row, every value mapped from [lo, hi] to black..white; lo
// and hi default to the range of all the rows' values. Written as PNG.
void write_rows_png(const std::string& path, const std::vector<PictureRow>& rows,
                    const PictureShape& shape, int64_t cols, double lo = 0, double hi = 0);

// The per-epoch curves of the loss terms (train and validation).
void write_loss_png(const std::string& path, const std::vector<EpochMetrics>& history,
                    const std::vector<std::string>& terms, const std::string& title);

// Codes (n, k) as a 2-D scatter coloured by label: the code itself for k = 2, its first two
// principal components for k > 2, the code against the sample index for k = 1.
void write_latent_png(const std::string& path, const Tensor& codes,
                      const std::vector<int64_t>& labels, const std::string& title);

}  // namespace ae::cli
