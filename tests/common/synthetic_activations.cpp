#include "tests/common/synthetic_activations.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace ae::testing {
namespace {

// t with P(N(0, 1) > t) = p, by bisection on the upper tail erfc(t / √2) / 2 (decreasing in t).
double upper_quantile(double p) {
  if (p >= 1) return -std::numeric_limits<double>::infinity();
  double lo = -40, hi = 40;
  for (int it = 0; it < 200 && hi - lo > 1e-13; ++it) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

void check_config(const SyntheticActivationsConfig& c) {
  AE_CHECK(c.features >= 1 && c.dims >= 1 && c.rows >= 1, "synthetic activations: features ",
           c.features, ", dims ", c.dims, ", rows ", c.rows, " must all be >= 1");
  AE_CHECK(c.group >= 1, "synthetic activations: group ", c.group, " must be >= 1");
  AE_CHECK(c.correlation >= 0 && c.correlation <= 1, "synthetic activations: correlation ",
           c.correlation, " must be in [0, 1]");
  AE_CHECK(c.magnitude_noise >= 0 && std::isfinite(c.magnitude_noise),
           "synthetic activations: magnitude_noise ", c.magnitude_noise, " must be >= 0");
  AE_CHECK(c.noise_std >= 0 && std::isfinite(c.noise_std), "synthetic activations: noise_std ",
           c.noise_std, " must be >= 0");
}

}  // namespace

std::vector<double> zipf_firing_probability(int64_t features, double mean_l0, double exponent) {
  AE_CHECK(features >= 1, "zipf_firing_probability: features ", features, " must be >= 1");
  AE_CHECK(mean_l0 > 0 && mean_l0 <= static_cast<double>(features),
           "synthetic activations: mean_l0 ", mean_l0, " must be in (0, features = ", features,
           "]");
  AE_CHECK(exponent >= 0 && std::isfinite(exponent), "synthetic activations: zipf_exponent ",
           exponent, " must be >= 0");
  const auto n = static_cast<size_t>(features);
  std::vector<double> w(n), suffix(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) w[i] = std::pow(static_cast<double>(i + 1), -exponent);
  for (size_t i = n; i-- > 0;) suffix[i] = suffix[i + 1] + w[i];
  // The weights fall with i, so the capped features are a prefix: with the first k at 1, the
  // rest share mean_l0 - k in proportion to their weights.
  constexpr double kSlack = 1e-12;
  for (size_t k = 0; k < n; ++k) {
    const double c = (mean_l0 - static_cast<double>(k)) / suffix[k];
    if (c * w[k] <= 1 + kSlack && (k == 0 || c * w[k - 1] >= 1 - kSlack)) {
      std::vector<double> p(n);
      for (size_t i = 0; i < n; ++i) p[i] = std::min(1.0, c * w[i]);
      return p;
    }
  }
  return std::vector<double>(n, 1.0);  // mean_l0 == features
}

Tensor random_directions(int64_t n, int64_t d, Generator& gen) {
  AE_CHECK(n >= 1 && d >= 1, "random_directions: n ", n, " and d ", d, " must be >= 1");
  const Device cpu = Device::cpu();
  std::vector<double> v = gen.randn({n, d}, DType::f64, cpu).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double* row = v.data() + i * d;
    double norm = 0;
    for (int64_t j = 0; j < d; ++j) norm += row[j] * row[j];
    norm = std::sqrt(norm);
    for (int64_t j = 0; j < d; ++j) row[j] /= norm;
  }
  return Tensor::from_host(v, {n, d}, cpu).to(DType::f32);
}

SyntheticActivations make_synthetic_activations(const SyntheticActivationsConfig& config) {
  check_config(config);
  const int64_t f = config.features, d = config.dims, rows = config.rows;
  const int64_t groups = (f + config.group - 1) / config.group;
  SyntheticActivations out;
  out.firing_probability = zipf_firing_probability(f, config.mean_l0, config.zipf_exponent);
  std::vector<double> threshold(static_cast<size_t>(f));
  for (int64_t i = 0; i < f; ++i) threshold[i] = upper_quantile(out.firing_probability[i]);

  const Device cpu = Device::cpu();
  Generator gen(config.seed);
  out.dictionary = random_directions(f, d, gen);
  const std::vector<float> unit = out.dictionary.to_floats();  // the rows x is made of

  const double shared = std::sqrt(config.correlation), own = std::sqrt(1 - config.correlation);
  std::vector<float> x(static_cast<size_t>(rows * d), 0.0f);
  SparseCodes& codes = out.codes;
  codes.row_start.assign(1, 0);
  std::vector<int64_t> fired(static_cast<size_t>(f), 0);
  std::vector<double> acc(static_cast<size_t>(d));
  // Rows in blocks: per block, the latents (block, groups + F), then one magnitude draw per
  // firing, then the noise (block, d).
  constexpr int64_t kBlock = 2048;
  for (int64_t start = 0; start < rows; start += kBlock) {
    const int64_t block = std::min(rows, start + kBlock) - start;
    const Tensor latent_t = gen.randn({block, groups + f}, DType::f32, cpu);
    const float* latent = latent_t.data_as<float>();
    const size_t first = codes.feature.size();
    for (int64_t r = 0; r < block; ++r) {
      const float* g = latent + r * (groups + f);
      const float* e = g + groups;
      for (int64_t i = 0; i < f; ++i)
        if (shared * g[i / config.group] + own * e[i] > threshold[i])
          codes.feature.push_back(static_cast<int32_t>(i));
      codes.row_start.push_back(static_cast<int64_t>(codes.feature.size()));
    }
    const auto active = static_cast<int64_t>(codes.feature.size() - first);
    std::vector<float> n_t;
    if (active > 0) n_t = gen.randn({active}, DType::f32, cpu).to_floats();
    for (int64_t k = 0; k < active; ++k)
      codes.magnitude.push_back(std::max(
          static_cast<float>(1 + config.magnitude_noise * n_t[k]), 0.05f));
    Tensor noise_t;
    if (config.noise_std > 0) noise_t = gen.randn({block, d}, DType::f32, cpu);
    const float* noise = noise_t.defined() ? noise_t.data_as<float>() : nullptr;
    for (int64_t r = 0; r < block; ++r) {
      const int64_t row = start + r;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = codes.row_start[row]; k < codes.row_start[row + 1]; ++k) {
        const int32_t i = codes.feature[k];
        ++fired[i];
        const float* fi = unit.data() + static_cast<int64_t>(i) * d;
        for (int64_t j = 0; j < d; ++j) acc[j] += static_cast<double>(codes.magnitude[k]) * fi[j];
      }
      float* xr = x.data() + row * d;
      for (int64_t j = 0; j < d; ++j)
        xr[j] = static_cast<float>(acc[j] + (noise ? config.noise_std * noise[r * d + j] : 0.0));
    }
  }
  out.x = Tensor::from_host(x, {rows, d}, cpu);
  out.firing_frequency.resize(static_cast<size_t>(f));
  for (int64_t i = 0; i < f; ++i)
    out.firing_frequency[i] = static_cast<double>(fired[i]) / static_cast<double>(rows);
  out.true_l0 = static_cast<double>(codes.feature.size()) / static_cast<double>(rows);
  return out;
}

}  // namespace ae::testing
