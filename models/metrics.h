// Anomaly-detection statistics (used by `ae score`): a threshold from the training scores, and how well the scores
// separate known anomalies from normal samples.
#pragma once
#include <cstdint>
#include <vector>

namespace ae::models {

// The q-quantile of v (q in [0, 1]) with linear interpolation between order statistics, as
// numpy.quantile does by default. v must be non-empty and finite.
double quantile(std::vector<double> v, double q);

// The area under the ROC curve of `scores` (higher: more anomalous) for the labels `positive`:
// the probability that a random positive scores above a random negative, ties counting half
// (the Mann-Whitney U statistic over n_pos * n_neg). Needs at least one of each.
double roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

struct Confusion {
  int64_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
  double precision() const;  // 0 when nothing is flagged
  double recall() const;     // 0 when there are no positives
  double f1() const;
};

// Samples with a score above the threshold are flagged as anomalies.
Confusion confusion_at(const std::vector<double>& scores, const std::vector<bool>& positive,
                       double threshold);

}  // namespace ae::models
