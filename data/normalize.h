// Per-feature statistics of a data set: normalisers fitted on the training split and saved with
// the model, what `--normalize auto` chooses, one-pass moments for streamed data, and the
// highest-variance features.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/safetensors.h"

namespace ae::models {

// --- normalisation --------------------------------------------------------------------------
// y = (x - shift) * scale, per feature. Fitted on one set (the training split) and applied
// unchanged to any other, so validation data never leaks into the statistics.
enum class NormKind : uint8_t {
  min_max,     // per feature: (x - min) / (max - min), the training set maps to [0, 1] (a
               // constant feature maps to 0)
  standardize, // per feature: zero mean, unit variance (constant features are only centred)
  pca,         // per feature: centred, scaled by 1/sqrt(m) (m samples), so that Xᵀ X is the
               // covariance: the normalisation under which a linear autoencoder spans the PCA
               // subspace
  mean_norm,   // one scale for every feature, no shift: y = x · √d / E‖x‖ (d features), so that
               // the rows' mean norm is √d; E‖x‖ over the first kMeanNormRows rows. The inputs
               // of a sparse autoencoder (Gao et al. 2024, "Scaling and evaluating sparse
               // autoencoders"), whose hyperparameters then carry over between models
};
// The rows mean_norm's E‖x‖ is estimated on (the first ones of the training split).
inline constexpr int64_t kMeanNormRows = 10000;

struct Normalizer {
  NormKind kind = NormKind::standardize;
  std::vector<double> shift;  // (features)
  std::vector<double> scale;  // (features)

  int64_t features() const { return static_cast<int64_t>(shift.size()); }
  // (n, features) -> (n, features) on x's device and dtype; recorded by autograd like any op.
  Tensor apply(const Tensor& x) const;
  // apply's values written over x itself (rows of the caller's own, which nothing else reads):
  // no second copy of the data is made. Not recorded by autograd.
  void apply_in_place(Tensor& x) const;
  // The inverse map: y / scale + shift.
  Tensor invert(const Tensor& y) const;
  Dataset apply(const Dataset& d) const;  // a copy of d with x normalised

  // The statistics as F64 safetensors "<prefix>shift" and "<prefix>scale", and the kind as
  // metadata "<prefix>kind"; load() reads them back exactly.
  std::vector<io::SafeTensor> to_safetensors(const std::string& prefix = "norm.") const;
  std::map<std::string, std::string> metadata(const std::string& prefix = "norm.") const;
  static Normalizer load(const io::SafeTensorsFile& file, const std::string& prefix = "norm.");
};

// A normaliser's shift and scale on one device in one dtype, copied there once, when it is made
// (one upload each, which waits for the device): apply() then only queues its two ops.
// Normalizer::apply uploads both on every call, which suits a data set normalised once; a source
// that normalises every batch (StreamedRows, data/stream.h) keeps one of these, so that its
// batches' copies and the device's work overlap.
class DeviceNormalizer {
 public:
  DeviceNormalizer(const Normalizer& norm, Device device, DType dtype);
  // (n, features) of the dtype on the device -> the result of Normalizer::apply, bit for bit.
  // ae::Error (one line) for another shape, device or dtype.
  Tensor apply(const Tensor& x) const;
  // The same values written over x (Normalizer::apply_in_place).
  void apply_in_place(Tensor& x) const;
  Device device() const { return shift_.device(); }
  DType dtype() const { return shift_.dtype(); }
  int64_t features() const { return shift_.size(0); }

 private:
  void check_rows(const Tensor& x) const;  // (n, features) on the device, in the dtype

  NormKind kind_;
  Tensor shift_, scale_;  // (features)
};

const char* norm_kind_name(NormKind kind);  // "min_max", "standardize", "pca", "mean_norm"
NormKind parse_norm_kind(const std::string& name);
// Statistics of x (n, features), computed in float64 on the host.
Normalizer fit_normalizer(const Tensor& x, NormKind kind);

// What `--normalize auto` makes of a training set x (n, features): data already in [0, 1]
// (pixels, probabilities, binary features) stays as it is, so that a Bernoulli decoder with
// cross-entropy fits it; anything else is standardised per feature, so that no feature's unit
// dwarfs another's. `reason` says why, with the range found ("values in [0, 255], outside
// [0, 1]"). Non-finite values are refused as in fit_normalizer.
struct NormChoice {
  std::optional<NormKind> kind;  // empty: left as it is
  std::string reason;
};
NormChoice choose_normalization(const Tensor& x);
// The smallest and largest value of x (n, features), read where it is on the host; non-finite
// values are refused as in fit_normalizer.
std::pair<double, double> value_range(const Tensor& x);

// Per-feature statistics gathered in one pass over blocks of rows (data streamed from a file):
// the count, mean, sum of squared deviations (m2) and range, in float64. Each block's mean and
// m2 are computed in two passes over the block, then merged into the totals by Chan, Golub and
// LeVeque's formula (Chan et al. 1979, "Updating formulae and a pairwise algorithm for computing
// sample variances"): delta = mean_b - mean_a, mean = mean_a + delta n_b / n,
// m2 = m2_a + m2_b + delta^2 n_a n_b / n, which stays accurate where sums of squares cancel
// (values of 1e8 + small noise). For data in memory fit_normalizer's two passes are used.
struct FeatureMoments {
  int64_t count = 0;
  std::vector<double> mean, m2, lo, hi;  // (features)

  // rows (n, features) float32 values, all finite (the readers check them).
  void add(const float* rows, int64_t n, int64_t features);
  void merge(const FeatureMoments& other);
};
// The normaliser of `kind` from statistics gathered by FeatureMoments (the formulas of
// fit_normalizer, with the population variance m2 / count); not mean_norm, which needs the rows'
// norms (fit_normalizer on a sample of the rows).
Normalizer normalizer_from(const FeatureMoments& m, NormKind kind);
// What `--normalize auto` makes of the data the statistics describe (as choose_normalization).
NormChoice choose_normalization(const FeatureMoments& m);
// The range of the data once normalised by `norm` (none: as it is), from each feature's range.
std::pair<double, double> normalized_range(const FeatureMoments& m,
                                           const std::optional<Normalizer>& norm);

// --- feature selection ---------------------------------------------------------------------
// The k features with the largest variance, by decreasing variance (ties: lower index first).
std::vector<int64_t> highest_variance_features(const Tensor& x, int64_t k);

}  // namespace ae::models
