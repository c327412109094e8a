#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace ae::models {

double quantile(std::vector<double> v, double q) {
  AE_CHECK(!v.empty(), "quantile: no values");
  AE_CHECK(q >= 0 && q <= 1, "quantile: q = ", q, " outside [0, 1]");
  for (double x : v) AE_CHECK(std::isfinite(x), "quantile: value ", x, " is not finite");
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  AE_CHECK(scores.size() == positive.size(), "roc_auc: ", scores.size(), " scores for ",
           positive.size(), " labels");
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of the positives' ranks, tied scores sharing their mean rank.
  double rank_sum = 0;
  int64_t n_pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (positive[order[k]]) rank_sum += mean_rank, ++n_pos;
    i = j;
  }
  const int64_t n_neg = static_cast<int64_t>(n) - n_pos;
  AE_CHECK(n_pos > 0 && n_neg > 0, "roc_auc: needs anomalies and normal samples, got ", n_pos,
           " anomalies and ", n_neg, " normal samples");
  const double u = rank_sum - static_cast<double>(n_pos) * static_cast<double>(n_pos + 1) / 2;
  return u / (static_cast<double>(n_pos) * static_cast<double>(n_neg));
}

double Confusion::precision() const {
  const int64_t flagged = true_positives + false_positives;
  return flagged > 0 ? static_cast<double>(true_positives) / static_cast<double>(flagged) : 0;
}

double Confusion::recall() const {
  const int64_t actual = true_positives + false_negatives;
  return actual > 0 ? static_cast<double>(true_positives) / static_cast<double>(actual) : 0;
}

double Confusion::f1() const {
  const double p = precision(), r = recall();
  return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

Confusion confusion_at(const std::vector<double>& scores, const std::vector<bool>& positive,
                       double threshold) {
  AE_CHECK(scores.size() == positive.size(), "confusion_at: ", scores.size(), " scores for ",
           positive.size(), " labels");
  Confusion c;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool flagged = scores[i] > threshold;
    if (flagged && positive[i]) ++c.true_positives;
    if (flagged && !positive[i]) ++c.false_positives;
    if (!flagged && !positive[i]) ++c.true_negatives;
    if (!flagged && positive[i]) ++c.false_negatives;
  }
  return c;
}

}  // namespace ae::models
