#include "data/normalize.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/device.h"
#include "core/error.h"
#include "core/ops.h"
#include "kernels/backend.h"

namespace ae::models {

namespace {

Tensor vector_tensor(const std::vector<double>& v, const Tensor& like) {
  return Tensor::from_host(v, {static_cast<int64_t>(v.size())}, like.device()).to(like.dtype());
}

// Per-feature mean and population variance of x (m, f), in two passes so that a constant
// feature has a variance of exactly 0. Non-finite values are refused.
struct FeatureStats {
  std::vector<double> mean, var;  // (f)
};

// fn(v, m, f) over the values v of x (m, f) on the host, float or double, read where they are
// (a tensor on a device, or of another dtype, is copied to the host as float64 once), after every
// value was checked finite.
template <class Fn>
void with_checked_values(const Tensor& x, const char* op, Fn fn) {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(0) > 0 && x.size(1) > 0, op,
           ": x must be a non-empty (samples, features) matrix, got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  Tensor host = x.to(Device::cpu());
  if (host.dtype() != DType::f32 && host.dtype() != DType::f64) host = host.to(DType::f64);
  const int64_t m = x.size(0), f = x.size(1);
  auto run = [&](const auto* v) {
    for (int64_t i = 0; i < m * f; ++i)
      AE_CHECK(std::isfinite(v[i]), op, ": row ", i / f, ", feature ", i % f, ": ", v[i],
               " is not a finite number");
    fn(v, m, f);
  };
  if (host.dtype() == DType::f32)
    run(host.data_as<float>());
  else
    run(host.data_as<double>());
}

FeatureStats feature_stats(const Tensor& x, const char* op) {
  FeatureStats s;
  with_checked_values(x, op, [&](const auto* v, int64_t m, int64_t f) {
    s.mean.assign(static_cast<size_t>(f), 0.0);
    s.var.assign(static_cast<size_t>(f), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < f; ++j) s.mean[j] += v[i * f + j];
    for (double& mu : s.mean) mu /= static_cast<double>(m);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < f; ++j) {
        double d = v[i * f + j] - s.mean[j];
        s.var[j] += d * d;
      }
    for (double& var : s.var) var /= static_cast<double>(m);
  });
  return s;
}

}  // namespace

// --- normalisation --------------------------------------------------------------------------

const char* norm_kind_name(NormKind kind) {
  switch (kind) {
    case NormKind::min_max: return "min_max";
    case NormKind::standardize: return "standardize";
    case NormKind::pca: return "pca";
    case NormKind::mean_norm: return "mean_norm";
  }
  return "?";
}

NormKind parse_norm_kind(const std::string& name) {
  for (NormKind k : {NormKind::min_max, NormKind::standardize, NormKind::pca, NormKind::mean_norm})
    if (name == norm_kind_name(k)) return k;
  fail(cat("normalisation '", name, "': expected min_max, standardize, pca or mean_norm"));
}

namespace {

// min_max from each feature's range: a constant feature maps to 0 rather than dividing by zero.
Normalizer min_max_from(const std::vector<double>& lo, const std::vector<double>& hi) {
  Normalizer nz;
  nz.kind = NormKind::min_max;
  nz.shift = lo;
  nz.scale.resize(lo.size());
  for (size_t j = 0; j < lo.size(); ++j) nz.scale[j] = hi[j] > lo[j] ? 1.0 / (hi[j] - lo[j]) : 1.0;
  return nz;
}

// standardize or pca from each feature's mean and population variance over m samples.
Normalizer centred_from(NormKind kind, const std::vector<double>& mean,
                        const std::vector<double>& var, int64_t m) {
  Normalizer nz;
  nz.kind = kind;
  nz.shift = mean;
  const size_t f = mean.size();
  if (kind == NormKind::pca) {
    nz.scale.assign(f, 1.0 / std::sqrt(static_cast<double>(m)));
    return nz;
  }
  nz.scale.resize(f);
  for (size_t j = 0; j < f; ++j) {
    double sd = std::sqrt(var[j]);
    nz.scale[j] = sd > 0 ? 1.0 / sd : 1.0;  // a constant feature is only centred
  }
  return nz;
}

NormChoice choice_for_range(double lo, double hi) {
  const std::string range = cat("values in [", lo, ", ", hi, "]");
  if (lo >= 0 && hi <= 1) return {std::nullopt, range + ": kept as they are"};
  return {NormKind::standardize, range + ", outside [0, 1]: standardised per feature"};
}

}  // namespace

Normalizer fit_normalizer(const Tensor& x, NormKind kind) {
  if (kind == NormKind::min_max) {
    std::vector<double> lo, hi;
    with_checked_values(x, "fit_normalizer", [&](const auto* v, int64_t m, int64_t f) {
      lo.assign(v, v + f);
      hi = lo;
      for (int64_t i = 1; i < m; ++i)
        for (int64_t j = 0; j < f; ++j) {
          lo[j] = std::min<double>(lo[j], v[i * f + j]);
          hi[j] = std::max<double>(hi[j], v[i * f + j]);
        }
    });
    return min_max_from(lo, hi);
  }
  if (kind == NormKind::mean_norm) {
    double norms = 0;
    int64_t rows = 0, f = 0;
    with_checked_values(x, "fit_normalizer", [&](const auto* v, int64_t m, int64_t features) {
      f = features;
      rows = std::min(m, kMeanNormRows);
      for (int64_t i = 0; i < rows; ++i) {
        double sq = 0;
        for (int64_t j = 0; j < f; ++j) sq += static_cast<double>(v[i * f + j]) * v[i * f + j];
        norms += std::sqrt(sq);
      }
    });
    const double mean = rows > 0 ? norms / static_cast<double>(rows) : 0;
    Normalizer nz;
    nz.kind = NormKind::mean_norm;
    nz.shift.assign(static_cast<size_t>(f), 0.0);
    nz.scale.assign(static_cast<size_t>(f), mean > 0 ? std::sqrt(static_cast<double>(f)) / mean : 1.0);
    return nz;
  }
  FeatureStats s = feature_stats(x, "fit_normalizer");
  return centred_from(kind, s.mean, s.var, x.size(0));
}

namespace {

std::pair<double, double> checked_range(const Tensor& x, const char* op) {
  double lo = INFINITY, hi = -INFINITY;
  with_checked_values(x, op, [&](const auto* v, int64_t m, int64_t f) {
    const auto [a, b] = std::minmax_element(v, v + m * f);
    lo = *a;
    hi = *b;
  });
  return {lo, hi};
}

}  // namespace

std::pair<double, double> value_range(const Tensor& x) { return checked_range(x, "value_range"); }

NormChoice choose_normalization(const Tensor& x) {
  const auto [lo, hi] = checked_range(x, "choose_normalization");
  return choice_for_range(lo, hi);
}

void FeatureMoments::add(const float* rows, int64_t n, int64_t features) {
  if (n <= 0) return;
  FeatureMoments b;
  b.count = n;
  const size_t f = static_cast<size_t>(features);
  b.mean.assign(f, 0.0);
  b.m2.assign(f, 0.0);
  b.lo.assign(rows, rows + f);
  b.hi = b.lo;
  for (int64_t i = 0; i < n; ++i) {
    const float* r = rows + i * features;
    for (size_t j = 0; j < f; ++j) {
      b.mean[j] += r[j];
      b.lo[j] = std::min<double>(b.lo[j], r[j]);
      b.hi[j] = std::max<double>(b.hi[j], r[j]);
    }
  }
  for (double& mu : b.mean) mu /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* r = rows + i * features;
    for (size_t j = 0; j < f; ++j) {
      const double d = r[j] - b.mean[j];
      b.m2[j] += d * d;
    }
  }
  merge(b);
}

void FeatureMoments::merge(const FeatureMoments& b) {
  if (b.count == 0) return;
  if (count == 0) {
    *this = b;
    return;
  }
  AE_CHECK(b.mean.size() == mean.size(), "FeatureMoments: merging ", b.mean.size(),
           " features into ", mean.size());
  const double na = static_cast<double>(count), nb = static_cast<double>(b.count), n = na + nb;
  for (size_t j = 0; j < mean.size(); ++j) {
    const double delta = b.mean[j] - mean[j];
    mean[j] += delta * (nb / n);
    m2[j] += b.m2[j] + delta * delta * (na * nb / n);
    lo[j] = std::min(lo[j], b.lo[j]);
    hi[j] = std::max(hi[j], b.hi[j]);
  }
  count += b.count;
}

Normalizer normalizer_from(const FeatureMoments& m, NormKind kind) {
  AE_CHECK(m.count > 0, "normalizer_from: no rows were seen");
  if (kind == NormKind::min_max) return min_max_from(m.lo, m.hi);
  AE_CHECK(kind != NormKind::mean_norm, "normalizer_from: mean_norm needs the rows' norms; fit it "
           "on a sample of the rows (fit_normalizer)");
  std::vector<double> var(m.m2.size());
  for (size_t j = 0; j < var.size(); ++j) var[j] = m.m2[j] / static_cast<double>(m.count);
  return centred_from(kind, m.mean, var, m.count);
}

NormChoice choose_normalization(const FeatureMoments& m) {
  AE_CHECK(m.count > 0, "choose_normalization: no rows were seen");
  return choice_for_range(*std::min_element(m.lo.begin(), m.lo.end()),
                          *std::max_element(m.hi.begin(), m.hi.end()));
}

std::pair<double, double> normalized_range(const FeatureMoments& m,
                                           const std::optional<Normalizer>& norm) {
  AE_CHECK(m.count > 0, "normalized_range: no rows were seen");
  double lo = INFINITY, hi = -INFINITY;
  for (size_t j = 0; j < m.lo.size(); ++j) {
    // y = (x - shift) * scale with scale > 0 keeps each feature's range in order; computed in
    // float32 as Normalizer::apply computes it.
    double a = m.lo[j], b = m.hi[j];
    if (norm) {
      const float shift = static_cast<float>(norm->shift[j]), scale = static_cast<float>(norm->scale[j]);
      a = (static_cast<float>(a) - shift) * scale;
      b = (static_cast<float>(b) - shift) * scale;
    }
    lo = std::min(lo, a);
    hi = std::max(hi, b);
  }
  return {lo, hi};
}

Tensor Normalizer::apply(const Tensor& x) const {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == features(), "Normalizer(",
           norm_kind_name(kind), "): expected (n, ", features(), "), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  return DeviceNormalizer(*this, x.device(), x.dtype()).apply(x);
}

DeviceNormalizer::DeviceNormalizer(const Normalizer& norm, Device device, DType dtype)
    : kind_(norm.kind) {
  AE_CHECK(norm.scale.size() == norm.shift.size(), "Normalizer(", norm_kind_name(norm.kind),
           "): ", norm.shift.size(), " shifts but ", norm.scale.size(), " scales");
  shift_ = Tensor::from_host(norm.shift, {norm.features()}, device).to(dtype);
  scale_ = Tensor::from_host(norm.scale, {norm.features()}, device).to(dtype);
}

void DeviceNormalizer::check_rows(const Tensor& x) const {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == features(), "Normalizer(",
           norm_kind_name(kind_), "): expected (n, ", features(), "), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  AE_CHECK(x.device() == device() && x.dtype() == dtype(), "Normalizer(", norm_kind_name(kind_),
           "): rows on ", x.device().str(), " in ", dtype_name(x.dtype()), ", but its statistics are on ",
           device().str(), " in ", dtype_name(dtype()));
}

Tensor DeviceNormalizer::apply(const Tensor& x) const {
  check_rows(x);
  return mul(sub(x, shift_), scale_);
}

void DeviceNormalizer::apply_in_place(Tensor& x) const {
  check_rows(x);
  const Backend& be = backend(x.device());
  const int64_t rows = x.size(0), cols = x.size(1);
  // The kernels of apply()'s sub and mul, writing over their input: the same values.
  be.binary_forward(BinaryOp::sub, x.dtype(), x.data(), shift_.data(), x.data(), rows, cols,
                    Broadcast::row, stream(x.device()));
  be.binary_forward(BinaryOp::mul, x.dtype(), x.data(), scale_.data(), x.data(), rows, cols,
                    Broadcast::row, stream(x.device()));
}

void Normalizer::apply_in_place(Tensor& x) const {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == features(), "Normalizer(",
           norm_kind_name(kind), "): expected (n, ", features(), "), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  DeviceNormalizer(*this, x.device(), x.dtype()).apply_in_place(x);
}

Tensor Normalizer::invert(const Tensor& y) const {
  AE_CHECK(y.defined() && y.ndim() == 2 && y.size(1) == features(), "Normalizer(",
           norm_kind_name(kind), ")::invert: expected (n, ", features(), "), got ",
           y.defined() ? y.shape().str() : std::string("undefined"));
  std::vector<double> inv(scale.size());
  for (size_t j = 0; j < scale.size(); ++j) inv[j] = 1.0 / scale[j];
  return add(mul(y, vector_tensor(inv, y)), vector_tensor(shift, y));
}

Dataset Normalizer::apply(const Dataset& d) const {
  Dataset out = d;
  out.x = apply(d.x);
  return out;
}

std::vector<io::SafeTensor> Normalizer::to_safetensors(const std::string& prefix) const {
  const int64_t n = static_cast<int64_t>(shift.size());
  return {io::safetensor_f64(prefix + "shift", {n}, shift.data()),
          io::safetensor_f64(prefix + "scale", {n}, scale.data())};
}

std::map<std::string, std::string> Normalizer::metadata(const std::string& prefix) const {
  return {{prefix + "kind", norm_kind_name(kind)}};
}

Normalizer Normalizer::load(const io::SafeTensorsFile& file, const std::string& prefix) {
  const io::SafeTensor* shift = file.find(prefix + "shift");
  const io::SafeTensor* scale = file.find(prefix + "scale");
  auto kind = file.metadata.find(prefix + "kind");
  AE_CHECK(shift && scale && kind != file.metadata.end(), "Normalizer::load: missing '", prefix,
           "shift', '", prefix, "scale' or metadata '", prefix, "kind'");
  Normalizer nz;
  nz.kind = parse_norm_kind(kind->second);
  nz.shift = io::safetensor_to_f64(*shift);
  nz.scale = io::safetensor_to_f64(*scale);
  AE_CHECK(nz.shift.size() == nz.scale.size() && !nz.shift.empty(), "Normalizer::load: '",
           prefix, "shift' has ", nz.shift.size(), " values, '", prefix, "scale' ",
           nz.scale.size());
  return nz;
}

// --- feature selection ---------------------------------------------------------------------

std::vector<int64_t> highest_variance_features(const Tensor& x, int64_t k) {
  AE_CHECK(x.defined() && x.ndim() == 2 && k > 0 && k <= x.size(1),
           "highest_variance_features: k = ", k, " for x ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  std::vector<double> var = feature_stats(x, "highest_variance_features").var;
  const int64_t f = x.size(1);
  std::vector<int64_t> order(f);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return var[a] > var[b]; });
  order.resize(k);
  return order;
}

}  // namespace ae::models
