// How often each code unit fires: an accumulator over code batches, for sparse codes (ReLU-type,
// or a code under an L1 or KL sparsity penalty; run/diagnose.h decides which and at what
// threshold). A unit fires on a sample when its value is above the threshold (0 for a ReLU
// code). From the counts follow the field's sparsity figures: L0 (the mean number of units firing
// per sample), the dead units (never fired on the samples seen) and the dense ones (firing on more
// than a given share of them, 10% by default), and each unit's firing frequency.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ae::models {

class CodeFiring {
 public:
  explicit CodeFiring(double threshold = 0) : threshold_(threshold) {}

  // Adds a batch of codes (rows, units), any dtype or device (a device batch is copied to the
  // host once). Every batch must have the first one's units; values must be finite.
  void add(const Tensor& codes);

  double threshold() const { return threshold_; }
  int64_t units() const { return static_cast<int64_t>(counts_.size()); }
  int64_t samples() const { return samples_; }
  const std::vector<int64_t>& counts() const { return counts_; }  // (units) samples fired on
  std::vector<double> frequencies() const;  // (units) counts / samples; 0 before any sample
  double l0() const;                        // Σ counts / samples; 0 before any sample
  std::vector<int64_t> dead() const;        // units that never fired, ascending
  double dead_fraction() const;             // dead units / units; 0 before any batch
  // The share of units firing on more than `share` of the samples.
  double dense_fraction(double share = 0.1) const;

 private:
  double threshold_;
  int64_t samples_ = 0;
  std::vector<int64_t> counts_;
};

}  // namespace ae::models
