#include "analysis/metrics.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <numeric>
#include <utility>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

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

CodeActivity code_activity(const Tensor& codes, double tolerance) {
  AE_CHECK(codes.defined() && codes.ndim() == 2 && codes.size(0) > 0 && codes.size(1) > 0,
           "code_activity: codes must be a non-empty (samples, units) matrix, got ",
           codes.defined() ? codes.shape().str() : std::string("undefined"));
  AE_CHECK(tolerance >= 0, "code_activity: tolerance ", tolerance, " is negative");
  const int64_t n = codes.size(0), k = codes.size(1);
  const std::vector<double> v = codes.to_vector();
  CodeActivity a;
  a.units = k;
  a.tolerance = tolerance;
  a.stddev.assign(k, 0.0);
  std::vector<double> mean(k, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      AE_CHECK(std::isfinite(v[i * k + j]), "code_activity: sample ", i, ", unit ", j, ": ",
               v[i * k + j], " is not finite");
      mean[j] += v[i * k + j];
    }
  for (double& m : mean) m /= static_cast<double>(n);
  // Two passes, so that a constant unit has a deviation of exactly 0.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) a.stddev[j] += (v[i * k + j] - mean[j]) * (v[i * k + j] - mean[j]);
  for (int64_t j = 0; j < k; ++j) {
    a.stddev[j] = std::sqrt(a.stddev[j] / static_cast<double>(n));
    if (a.stddev[j] <= tolerance) a.constant.push_back(j);
  }
  return a;
}

std::string unit_list(const std::vector<int64_t>& units, size_t max_runs) {
  std::string out;
  size_t runs = 0;
  for (size_t i = 0; i < units.size();) {
    size_t j = i;
    while (j + 1 < units.size() && units[j + 1] == units[j] + 1) ++j;
    if (runs++ == max_runs) return out + ", ...";
    out += cat(out.empty() ? "" : ", ", units[i]);
    if (j > i) out += cat("-", units[j]);
    i = j + 1;
  }
  return out;
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

namespace {

// Walks the scores from the highest down, one step per distinct score: step(tp, fp) gets the
// counts of positives and negatives at or above it.
template <class Step>
int64_t walk_thresholds(const std::vector<double>& scores, const std::vector<bool>& positive,
                        const char* what, Step step) {
  AE_CHECK(scores.size() == positive.size(), what, ": ", scores.size(), " scores for ",
           positive.size(), " labels");
  for (double s : scores) AE_CHECK(!std::isnan(s), what, ": a score is NaN");
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j)
      positive[order[j]] ? ++tp : ++fp;
    step(tp, fp);
    i = j;
  }
  return tp;
}

}  // namespace

double average_precision(const std::vector<double>& scores, const std::vector<bool>& positive) {
  const int64_t n_pos = std::count(positive.begin(), positive.end(), true);
  AE_CHECK(n_pos > 0, "average_precision: needs at least one anomaly among ", positive.size(),
           " samples");
  double ap = 0;
  int64_t previous_tp = 0;
  walk_thresholds(scores, positive, "average_precision", [&](int64_t tp, int64_t fp) {
    ap += static_cast<double>(tp - previous_tp) / static_cast<double>(n_pos) *
          static_cast<double>(tp) / static_cast<double>(tp + fp);
    previous_tp = tp;
  });
  return ap;
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& positive) {
  const int64_t n_pos = std::count(positive.begin(), positive.end(), true);
  const int64_t n_neg = static_cast<int64_t>(positive.size()) - n_pos;
  AE_CHECK(n_pos > 0 && n_neg > 0, "roc_curve: needs anomalies and normal samples, got ", n_pos,
           " anomalies and ", n_neg, " normal samples");
  RocCurve c;
  c.false_positive_rate.push_back(0);
  c.true_positive_rate.push_back(0);
  walk_thresholds(scores, positive, "roc_curve", [&](int64_t tp, int64_t fp) {
    c.false_positive_rate.push_back(static_cast<double>(fp) / static_cast<double>(n_neg));
    c.true_positive_rate.push_back(static_cast<double>(tp) / static_cast<double>(n_pos));
  });
  return c;
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

namespace {

// k against the candidates each query has.
void check_k(const char* op, int64_t k, int64_t queries, int64_t database, bool leave_one_out) {
  AE_CHECK(!leave_one_out || queries <= database, op, ": leave_one_out needs the queries to be ",
           "the first database rows, got ", queries, " queries for ", database, " database rows");
  const int64_t candidates = leave_one_out ? database - 1 : database;
  AE_CHECK(k >= 1 && k <= candidates, op, ": k = ", k, " outside [1, ", candidates, "] (",
           database, " database rows", leave_one_out ? ", no query its own neighbour" : "",
           ")");
}

// The k smallest (distance, index) pairs offered so far for each query: one max-heap each, so
// a candidate is compared with the worst kept one. Pairs compare lexicographically, so equal
// distances keep the lower index whatever the order of the offers.
class NearestK {
 public:
  NearestK(int64_t queries, int64_t k) : k_(k), heaps_(static_cast<size_t>(queries)) {
    for (auto& h : heaps_) h.reserve(static_cast<size_t>(k));
  }

  void offer(int64_t query, double distance, int64_t index) {
    std::vector<Entry>& h = heaps_[static_cast<size_t>(query)];
    const Entry e{distance, index};
    if (static_cast<int64_t>(h.size()) < k_) {
      h.push_back(e);
      std::push_heap(h.begin(), h.end());
    } else if (e < h.front()) {
      std::pop_heap(h.begin(), h.end());
      h.back() = e;
      std::push_heap(h.begin(), h.end());
    }
  }

  Neighbours finish() {
    Neighbours n;
    n.k = k_;
    for (std::vector<Entry>& h : heaps_) {
      std::sort_heap(h.begin(), h.end());
      for (const Entry& e : h) n.distance.push_back(e.first), n.index.push_back(e.second);
    }
    return n;
  }

 private:
  using Entry = std::pair<double, int64_t>;
  int64_t k_;
  std::vector<std::vector<Entry>> heaps_;
};

}  // namespace

Neighbours nearest_neighbours(const Tensor& queries, const Tensor& database, int64_t k,
                              bool leave_one_out) {
  AE_CHECK(queries.defined() && database.defined() && queries.ndim() == 2 &&
               database.ndim() == 2 && queries.size(1) == database.size(1) && queries.size(1) > 0,
           "nearest_neighbours: queries ", queries.defined() ? queries.shape().str() : "undefined",
           " and database ", database.defined() ? database.shape().str() : "undefined",
           " must be (n, d) matrices of one width d > 0");
  AE_CHECK(queries.dtype() == database.dtype() && queries.device() == database.device(),
           "nearest_neighbours: queries ", queries.str(), " and database ", database.str(),
           " must share dtype and device");
  const int64_t nq = queries.size(0), nd = database.size(0);
  check_k("nearest_neighbours", k, nq, nd, leave_one_out);
  NoGradGuard no_grad;
  // ‖q‖² is the same for all of a query's candidates: it only shifts the reported distances.
  const std::vector<double> query_norms = sum(square(queries), 1).to_vector();
  // Blocks of database rows keep the (queries, block) products a few MB on the host.
  constexpr int64_t kBlock = 1024;
  NearestK best(nq, k);
  for (int64_t start = 0; start < nd; start += kBlock) {
    const int64_t stop = std::min(nd, start + kBlock), width = stop - start;
    const Tensor rows = slice(database, start, stop);
    const Tensor partial = add(mul(matmul(queries, rows, false, true), -2.0), sum(square(rows), 1));
    const std::vector<double> v = partial.to_vector();
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t index = start + j;
        if (leave_one_out && index == i) continue;
        const double d = query_norms[i] + v[i * width + j];
        AE_CHECK(std::isfinite(d), "nearest_neighbours: the distance of query ", i,
                 " to database row ", index, " is ", d, " (the values are not all finite)");
        best.offer(i, std::max(d, 0.0), index);
      }
  }
  return best.finish();
}

BitCodes binarize(const Tensor& x, const std::vector<double>& thresholds) {
  AE_CHECK(x.defined() && x.ndim() == 2, "binarize: expected (n, d), got ",
           x.defined() ? x.shape().str() : "undefined");
  const int64_t n = x.size(0), d = x.size(1);
  AE_CHECK(thresholds.size() == 1 || static_cast<int64_t>(thresholds.size()) == d, "binarize: ",
           thresholds.size(), " thresholds for ", d, " columns (one for all, or one each)");
  const std::vector<double> v = x.to_vector();
  BitCodes b;
  b.rows = n;
  b.bits = d;
  const int64_t words = b.words_per_row();
  b.words.assign(static_cast<size_t>(n * words), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double value = v[i * d + j];
      AE_CHECK(std::isfinite(value), "binarize: x[", i, ", ", j, "] is ", value);
      if (value > thresholds[thresholds.size() == 1 ? 0 : j])
        b.words[i * words + j / 64] |= uint64_t{1} << (j % 64);
    }
  return b;
}

Neighbours nearest_by_hamming(const BitCodes& queries, const BitCodes& database, int64_t k,
                              bool leave_one_out) {
  AE_CHECK(queries.bits == database.bits && queries.bits > 0, "nearest_by_hamming: queries of ",
           queries.bits, " bits, database of ", database.bits, " bits");
  const int64_t nq = queries.rows, nd = database.rows, words = queries.words_per_row();
  check_k("nearest_by_hamming", k, nq, nd, leave_one_out);
  NearestK best(nq, k);
  for (int64_t i = 0; i < nq; ++i) {
    const uint64_t* q = queries.words.data() + i * words;
    for (int64_t j = 0; j < nd; ++j) {
      if (leave_one_out && j == i) continue;
      const uint64_t* x = database.words.data() + j * words;
      int64_t differing = 0;
      for (int64_t w = 0; w < words; ++w) differing += std::popcount(q[w] ^ x[w]);
      best.offer(i, static_cast<double>(differing), j);
    }
  }
  return best.finish();
}

double precision_at_k(const Neighbours& neighbours, const std::vector<int64_t>& query_labels,
                      const std::vector<int64_t>& database_labels) {
  const int64_t nq = neighbours.queries(), k = neighbours.k;
  AE_CHECK(nq > 0, "precision_at_k: no queries");
  AE_CHECK(static_cast<int64_t>(query_labels.size()) == nq, "precision_at_k: ",
           query_labels.size(), " query labels for ", nq, " queries");
  int64_t hits = 0;
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t r = 0; r < k; ++r) {
      const int64_t index = neighbours.index[i * k + r];
      AE_CHECK(index >= 0 && index < static_cast<int64_t>(database_labels.size()),
               "precision_at_k: neighbour ", index, " of query ", i, " outside the ",
               database_labels.size(), " database labels");
      hits += database_labels[index] == query_labels[i];
    }
  return static_cast<double>(hits) / static_cast<double>(nq * k);
}

double chance_precision(const std::vector<int64_t>& query_labels,
                        const std::vector<int64_t>& database_labels) {
  AE_CHECK(!query_labels.empty() && !database_labels.empty(), "chance_precision: ",
           query_labels.size(), " query labels, ", database_labels.size(), " database labels");
  std::map<int64_t, int64_t> count;
  for (int64_t l : database_labels) ++count[l];
  double sum = 0;
  for (int64_t l : query_labels) {
    const auto it = count.find(l);
    sum += it == count.end() ? 0.0 : static_cast<double>(it->second);
  }
  return sum / static_cast<double>(query_labels.size()) /
         static_cast<double>(database_labels.size());
}

}  // namespace ae::models
