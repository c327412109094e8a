#include "analysis/firing.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"

namespace ae::models {

void CodeFiring::add(const Tensor& codes) {
  AE_CHECK(codes.defined() && codes.ndim() == 2 && codes.size(1) > 0,
           "CodeFiring::add: codes must be a (rows, units) matrix, got ",
           codes.defined() ? codes.shape().str() : std::string("undefined"));
  const int64_t n = codes.size(0), k = codes.size(1);
  if (counts_.empty()) counts_.assign(static_cast<size_t>(k), 0);
  AE_CHECK(k == units(), "CodeFiring::add: a batch of ", k, " units, the first one had ", units());
  NoGradGuard no_grad;
  const std::vector<double> v = codes.to_vector();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      const double x = v[static_cast<size_t>(i * k + j)];
      AE_CHECK(std::isfinite(x), "CodeFiring::add: row ", i, ", unit ", j, ": ", x, " is not finite");
      counts_[static_cast<size_t>(j)] += x > threshold_;
    }
  samples_ += n;
}

std::vector<double> CodeFiring::frequencies() const {
  std::vector<double> f(counts_.size(), 0.0);
  if (samples_ == 0) return f;
  for (size_t j = 0; j < counts_.size(); ++j)
    f[j] = static_cast<double>(counts_[j]) / static_cast<double>(samples_);
  return f;
}

double CodeFiring::l0() const {
  if (samples_ == 0) return 0;
  double fired = 0;
  for (int64_t c : counts_) fired += static_cast<double>(c);
  return fired / static_cast<double>(samples_);
}

std::vector<int64_t> CodeFiring::dead() const {
  std::vector<int64_t> out;
  for (size_t j = 0; j < counts_.size(); ++j)
    if (counts_[j] == 0) out.push_back(static_cast<int64_t>(j));
  return out;
}

double CodeFiring::dead_fraction() const {
  return counts_.empty() ? 0.0 : static_cast<double>(dead().size()) / static_cast<double>(units());
}

double CodeFiring::dense_fraction(double share) const {
  if (counts_.empty()) return 0;
  int64_t dense = 0;
  for (double f : frequencies()) dense += f > share;
  return static_cast<double>(dense) / static_cast<double>(units());
}

}  // namespace ae::models
