// The PNG pictures of the commands. Samples that are pictures are drawn as pictures (originals
// above reconstructions, samples, denoising rows); a table gets what a tabular user reads: the
// reconstruction error per feature, the anomaly-score histogram with its threshold, and the ROC
// curve when the anomalies are known. Also the loss curve and the latent scatter.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/image.h"
#include "run/run_folder.h"

namespace ae::run {

// How one sample is drawn: an h x w picture with c channels (stored channels last, each drawn
// as its own gray panel), or, for a table, not as a picture at all (h == 0).
struct PictureShape {
  int64_t h = 0, w = 0, c = 1;
  bool is_image() const { return h > 0; }
};
// The picture shape of samples of `features` values: `setting` (--image-shape "HxW" or
// "HxWxC", whose product must be `features`), else the data's own (image_h x image_w x
// image_c, from IDX, NPY or NPZ files of 2-D samples, or 3-D ones with their channels last),
// else a square of side 8 or more (64, 784, ... features); otherwise the samples are rows of a
// table. An unreadable or mismatched setting is an error.
PictureShape picture_shape(const std::string& setting, int64_t image_h, int64_t image_w,
                           int64_t image_c, int64_t features);

// Draws one picture: runs `draw`, which writes `path`. A picture must not fail a command whose
// work is done: an error (too large a picture, no libpng) becomes the returned one-line note,
// "no <path>: <why>"; "" when it was written.
std::string try_picture(const std::string& path, const std::function<void()>& draw);

// A row of samples for a grid: x (n, features) in data space, any device.
struct PictureRow {
  std::string caption;
  Tensor x;
};

// Rows of samples, `cols` per grid row, every value mapped from [lo, hi] to black..white; lo
// and hi default to the range of all the rows' values. Written as PNG. The picture's size is
// checked before anything is allocated: past 8192 pixels a side it is an error.
void write_rows_png(const std::string& path, const std::vector<PictureRow>& rows,
                    const PictureShape& shape, int64_t cols, double lo = 0, double hi = 0);

// The mean over rows of (reconstruction − x)² per feature: x and reconstruction (n, features),
// any device; (features) on the host.
std::vector<double> feature_error(const Tensor& x, const Tensor& reconstruction);

// Per-feature errors (each (features)) as curves against the feature's column, from 1.
void write_feature_error_png(const std::string& path,
                             const std::vector<std::pair<std::string, std::vector<double>>>& errors,
                             const std::string& title);

// One way of scoring anomalies: per-sample scores and the threshold above which a sample is
// flagged.
struct ScoredMethod {
  std::string name;
  std::vector<double> scores;
  double threshold = 0;
};
// The first method's score histogram with its threshold (normal samples and anomalies apart
// when `positive` is given) and, with `positive`, every method's ROC curve with its AUC, side by
// side.
void write_scores_png(const std::string& path, const std::vector<ScoredMethod>& methods,
                      const std::vector<bool>& positive, const std::string& title);

// The per-epoch curves of the loss terms (train and validation).
void write_loss_png(const std::string& path, const std::vector<EpochMetrics>& history,
                    const std::vector<std::string>& terms, const std::string& title);

// A sparse autoencoder's latents: the histogram of log10 of each latent's firing frequency (its
// count in `fired` over `samples` rows), the latents that never fired in a bin of their own at
// the left, labelled with their number.
void write_firing_png(const std::string& path, const std::vector<int64_t>& fired, int64_t samples,
                      const std::string& title);
// A sparse autoencoder's L0 and FVU over the epochs (the sparsity figures of `history`), side
// by side.
void write_sparsity_png(const std::string& path, const std::vector<EpochMetrics>& history,
                        const std::string& title);

// Codes (n, k) as a 2-D scatter coloured by label: the code itself for k = 2, its first two
// principal components for k > 2, the code against the sample index for k = 1.
void write_latent_png(const std::string& path, const Tensor& codes,
                      const std::vector<int64_t>& labels, const std::string& title);

}  // namespace ae::run
