#include "analysis/anomaly.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/pca.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae::models {
namespace {

constexpr int64_t kBatch = 1024;  // rows per pass through the model

// f(batch) over x in batches of kBatch rows, each result on the host in float32, concatenated.
template <class F>
Tensor in_batches(Model& model, const Tensor& x, F f) {
  NoGradGuard no_grad;
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(0) > 0, "expected rows (n, features), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < x.size(0); start += kBatch) {
    const Tensor batch = slice(x, start, std::min(x.size(0), start + kBatch));
    parts.push_back(
        f(batch.to(model.device()).to(model.dtype())).to(Device::cpu()).to(DType::f32));
  }
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

std::vector<double> host_values(const Tensor& x) {
  return x.to(Device::cpu()).to(DType::f64).to_vector();
}

const io::SafeTensor& entry(const io::SafeTensorsFile& file, const std::string& name) {
  const io::SafeTensor* t = file.find(name);
  AE_CHECK(t != nullptr, "anomaly scorer: the checkpoint has no tensor '", name, "'");
  return *t;
}

}  // namespace

Tensor reconstruct_all(Model& model, const Tensor& x) {
  return in_batches(model, x, [&](const Tensor& b) { return model.reconstruct(b); });
}

Tensor code_all(Model& model, const Tensor& x) {
  return in_batches(model, x, [&](const Tensor& b) { return model.code(b); });
}

AnomalyScorer AnomalyScorer::fit(Model& model, const Tensor& train) {
  AE_CHECK(train.defined() && train.ndim() == 2 && train.size(0) >= 1 && train.size(1) >= 1,
           "anomaly scorer: needs training rows (n, features), got ",
           train.defined() ? train.shape().str() : std::string("undefined"));
  const int64_t n = train.size(0), f = train.size(1);
  AnomalyScorer s;

  // Each feature's mean squared reconstruction error.
  const std::vector<double> x = host_values(train);
  const std::vector<double> r = host_values(reconstruct_all(model, train));
  s.feature_error.assign(static_cast<size_t>(f), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) {
      const double e = r[i * f + j] - x[i * f + j];
      s.feature_error[j] += e * e;
    }
  double mean_error = 0;
  for (double& e : s.feature_error) mean_error += (e /= static_cast<double>(n));
  mean_error /= static_cast<double>(f);
  const double floor = std::max(1e-6 * mean_error, std::numeric_limits<double>::min());
  for (double& e : s.feature_error) e = std::max(e, floor);

  // The codes' mean and the pseudo-inverse of their covariance (1 / (n − 1); one row has no
  // spread, and T² is 0).
  const Tensor codes = code_all(model, train);
  const int64_t k = codes.size(1);
  const std::vector<double> h = host_values(codes);
  s.code_mean.assign(static_cast<size_t>(k), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < k; ++a) s.code_mean[a] += h[i * k + a];
  for (double& m : s.code_mean) m /= static_cast<double>(n);
  std::vector<double> cov(static_cast<size_t>(k * k), 0.0);
  std::vector<double> d(static_cast<size_t>(k));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t a = 0; a < k; ++a) d[a] = h[i * k + a] - s.code_mean[a];
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = a; b < k; ++b) cov[a * k + b] += d[a] * d[b];
  }
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = a; b < k; ++b) cov[b * k + a] = cov[a * k + b] /= static_cast<double>(std::max<int64_t>(n - 1, 1));
  const SymmetricEigen eig = symmetric_eigen(cov, k);
  s.code_precision.assign(static_cast<size_t>(k * k), 0.0);
  const double largest = eig.values.empty() ? 0 : eig.values[0];
  for (int64_t c = 0; c < k; ++c) {
    if (!(eig.values[c] > 1e-9 * largest)) continue;
    const double inv = 1.0 / eig.values[c];
    const double* v = eig.vectors.data() + c * k;
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) s.code_precision[a * k + b] += inv * v[a] * v[b];
  }

  // The training rows' means of both statistics, from the passes above.
  const Parts p = s.statistics(x, r, h);
  double q = 0, t2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    q += p.q[i];
    t2 += p.t2[i];
  }
  q /= static_cast<double>(n);
  t2 /= static_cast<double>(n);
  // A model that reconstructs every training row exactly, or whose codes do not vary, leaves
  // that statistic out rather than dividing by zero.
  s.q_mean = q > 0 ? q : 1;
  s.t2_mean = t2 > 0 ? t2 : 1;
  return s;
}

AnomalyScorer::Parts AnomalyScorer::parts(Model& model, const Tensor& x) const {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == features() && x.size(0) > 0,
           "anomaly scorer: expected rows (n, ", features(), "), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  const Tensor codes = code_all(model, x);
  const int64_t k = code_width();
  AE_CHECK(codes.size(1) == k, "anomaly scorer: fitted on codes of width ", k, ", the model's are ",
           codes.size(1));
  return statistics(host_values(x), host_values(reconstruct_all(model, x)), host_values(codes));
}

AnomalyScorer::Parts AnomalyScorer::statistics(const std::vector<double>& xv,
                                               const std::vector<double>& r,
                                               const std::vector<double>& h) const {
  const int64_t f = features(), k = code_width();
  const int64_t n = static_cast<int64_t>(xv.size()) / f;
  Parts p{std::vector<double>(static_cast<size_t>(n)), std::vector<double>(static_cast<size_t>(n))};
  std::vector<double> d(static_cast<size_t>(k));
  for (int64_t i = 0; i < n; ++i) {
    double q = 0;
    for (int64_t j = 0; j < f; ++j) {
      const double e = r[i * f + j] - xv[i * f + j];
      q += e * e / feature_error[j];
    }
    for (int64_t a = 0; a < k; ++a) d[a] = h[i * k + a] - code_mean[a];
    double t2 = 0;
    for (int64_t a = 0; a < k; ++a) {
      double row = 0;
      for (int64_t b = 0; b < k; ++b) row += code_precision[a * k + b] * d[b];
      t2 += d[a] * row;
    }
    p.q[i] = q;
    p.t2[i] = std::max(t2, 0.0);
  }
  return p;
}

std::vector<double> AnomalyScorer::score(Model& model, const Tensor& x) const {
  const Parts p = parts(model, x);
  std::vector<double> s(p.q.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = p.q[i] / q_mean + p.t2[i] / t2_mean;
  return s;
}

std::vector<io::SafeTensor> AnomalyScorer::to_safetensors(const std::string& prefix) const {
  const double means[2] = {q_mean, t2_mean};
  return {io::safetensor_f64(prefix + "feature_error", {features()}, feature_error.data()),
          io::safetensor_f64(prefix + "code_mean", {code_width()}, code_mean.data()),
          io::safetensor_f64(prefix + "code_precision", {code_width(), code_width()},
                             code_precision.data()),
          io::safetensor_f64(prefix + "means", {2}, means)};
}

bool AnomalyScorer::present(const io::SafeTensorsFile& file, const std::string& prefix) {
  return file.find(prefix + "feature_error") != nullptr;
}

AnomalyScorer AnomalyScorer::load(const io::SafeTensorsFile& file, const std::string& prefix) {
  AnomalyScorer s;
  s.feature_error = io::safetensor_to_f64(entry(file, prefix + "feature_error"));
  s.code_mean = io::safetensor_to_f64(entry(file, prefix + "code_mean"));
  s.code_precision = io::safetensor_to_f64(entry(file, prefix + "code_precision"));
  const std::vector<double> means = io::safetensor_to_f64(entry(file, prefix + "means"));
  const size_t k = s.code_mean.size();
  AE_CHECK(!s.feature_error.empty() && k > 0 && s.code_precision.size() == k * k &&
               means.size() == 2,
           "anomaly scorer: '", prefix, "feature_error' has ", s.feature_error.size(),
           " values, '", prefix, "code_mean' ", k, ", '", prefix, "code_precision' ",
           s.code_precision.size(), " (expected ", k * k, "), '", prefix, "means' ", means.size(),
           " (expected 2)");
  for (double e : s.feature_error)
    AE_CHECK(std::isfinite(e) && e > 0, "anomaly scorer: '", prefix,
             "feature_error' holds ", e, "; every value must be positive and finite");
  AE_CHECK(std::isfinite(means[0]) && means[0] > 0 && std::isfinite(means[1]) && means[1] > 0,
           "anomaly scorer: '", prefix, "means' holds ", means[0], ", ", means[1],
           "; both must be positive and finite");
  s.q_mean = means[0];
  s.t2_mean = means[1];
  return s;
}

}  // namespace ae::models
