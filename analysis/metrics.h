// Anomaly-detection statistics (used by `ae score`): a threshold from the training scores, and how well the scores
// separate known anomalies from normal samples. Retrieval (used by `ae retrieve`): the nearest
// database items of each query in code space, and how many of them share the query's label.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ae::models {

// The q-quantile of v (q in [0, 1]) with linear interpolation between order statistics, as
// numpy.quantile does by default. v must be non-empty and finite.
double quantile(std::vector<double> v, double q);

// The area under the ROC curve of `scores` (higher: more anomalous) for the labels `positive`:
// the probability that a random positive scores above a random negative, ties counting half
// (the Mann-Whitney U statistic over n_pos * n_neg). Needs at least one of each.
double roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

// Average precision of `scores` for the labels `positive`: Σ_n (R_n − R_{n−1}) P_n over the
// thresholds at each distinct score, from the highest down, where P_n and R_n are the precision
// and recall of flagging every score >= the n-th threshold (tied scores enter together). This
// is scikit-learn's average_precision_score; it needs at least one positive.
double average_precision(const std::vector<double>& scores, const std::vector<bool>& positive);

// The ROC curve: the false and true positive rates of flagging every score >= t, for each
// distinct score t from the highest down, starting at (0, 0) and ending at (1, 1). Needs
// anomalies and normal samples.
struct RocCurve {
  std::vector<double> false_positive_rate, true_positive_rate;
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& positive);

struct Confusion {
  int64_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
  double precision() const;  // 0 when nothing is flagged
  double recall() const;     // 0 when there are no positives
  double f1() const;
};

// Samples with a score above the threshold are flagged as anomalies.
Confusion confusion_at(const std::vector<double>& scores, const std::vector<bool>& positive,
                       double threshold);

// --- code activity --------------------------------------------------------------------------
// Which code units carry nothing over a set of samples: a unit is constant when the standard
// deviation of its value over the samples is at most `tolerance` (a dead ReLU unit, a saturated
// sigmoid, a VAE latent the KL term switched off). For a VAE's posterior means, Burda, Grosse and
// Salakhutdinov (2016, "Importance Weighted Autoencoders", §5.2) count a unit active when that
// variance exceeds 0.01: a tolerance of 0.1.
struct CodeActivity {
  int64_t units = 0;
  double tolerance = 0;
  std::vector<double> stddev;     // (units) population standard deviation over the samples
  std::vector<int64_t> constant;  // the constant units, ascending
};
// codes (n, units), n >= 1, finite; any dtype or device (read on the host in float64).
CodeActivity code_activity(const Tensor& codes, double tolerance);
// "0-3, 7, 9-12": ascending unit indices with runs shortened, at most max_runs runs, then ", ...".
std::string unit_list(const std::vector<int64_t>& units, size_t max_runs = 8);

// --- retrieval ------------------------------------------------------------------------------
// The k nearest database rows of each query, nearest first. Equal distances go to the lower
// database index, so the result does not depend on how the search was split up.
struct Neighbours {
  int64_t k = 0;
  std::vector<int64_t> index;    // (queries, k) row-major: database rows
  std::vector<double> distance;  // (queries, k): their distances to the query
  int64_t queries() const { return k > 0 ? static_cast<int64_t>(index.size()) / k : 0; }
};

// By squared Euclidean distance between the rows of queries (nq, d) and database (nd, d), of one
// dtype and device: ‖q‖² + ‖x‖² − 2 q·x, the products computed there as GEMMs over blocks of the
// database (on the CPU equal rows tie exactly and small integers give exact distances). A
// negative result of rounding counts as 0. `leave_one_out`: query i is database row i (the queries are
// the first rows of the database) and never its own neighbour. 1 <= k <= nd (nd - 1 leaving one
// out). A distance that is not finite is an error.
Neighbours nearest_neighbours(const Tensor& queries, const Tensor& database, int64_t k,
                              bool leave_one_out = false);

// Codes as bits, for semantic hashing: bit j of row i is set when x[i, j] > threshold.
struct BitCodes {
  int64_t rows = 0, bits = 0;
  std::vector<uint64_t> words;  // (rows, words_per_row()): bit j in word j / 64, bit j % 64
  int64_t words_per_row() const { return (bits + 63) / 64; }
};
// x (n, d), any dtype or device; `thresholds` holds one value for every column or d values.
BitCodes binarize(const Tensor& x, const std::vector<double>& thresholds);

// By Hamming distance (the number of differing bits), as nearest_neighbours.
Neighbours nearest_by_hamming(const BitCodes& queries, const BitCodes& database, int64_t k,
                              bool leave_one_out = false);

// Precision@k: the mean over queries of the share of their k neighbours whose database label
// equals the query's label.
double precision_at_k(const Neighbours& neighbours, const std::vector<int64_t>& query_labels,
                      const std::vector<int64_t>& database_labels);

// What precision@k retrieval at random has on average: the mean over queries of the share of
// the database that carries the query's label.
double chance_precision(const std::vector<int64_t>& query_labels,
                        const std::vector<int64_t>& database_labels);

}  // namespace ae::models
