// models::CodeFiring (analysis/firing.h): per-unit firing counts over code batches, and the
// sparsity figures that follow from them; and which codes run/diagnose.h counts as sparse.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analysis/firing.h"
#include "core/error.h"
#include "core/tensor.h"
#ifdef AE_CLI_PATH  // the run layer is built with the command line
#include "run/config.h"
#include "run/diagnose.h"
#include "run/prepare.h"
#endif

namespace ae {
namespace {

Tensor batch(const std::vector<double>& v, int64_t rows, int64_t units) {
  return Tensor::from_host(v, {rows, units}, Device::cpu());
}

// Four units over 10 samples in two batches: unit 0 never fires (a dead ReLU unit), unit 1 fires
// on every sample, unit 2 on exactly one (10%: not dense), unit 3 on two (20%: dense).
TEST(CodeFiring, CountsUnitsAboveTheThresholdOverBatches) {
  models::CodeFiring f;  // threshold 0, as for a ReLU code
  EXPECT_EQ(f.units(), 0);
  EXPECT_EQ(f.l0(), 0);
  EXPECT_EQ(f.dead_fraction(), 0);
  std::vector<double> first, second;
  for (int i = 0; i < 6; ++i) first.insert(first.end(), {0, 0.5, i == 0 ? 2.0 : 0, i < 2 ? 1.0 : -1});
  for (int i = 0; i < 4; ++i) second.insert(second.end(), {0, 3, 0, 0});
  f.add(batch(first, 6, 4));
  f.add(batch(second, 4, 4).to(DType::f32));
  EXPECT_EQ(f.samples(), 10);
  EXPECT_EQ(f.counts(), (std::vector<int64_t>{0, 10, 1, 2}));
  EXPECT_EQ(f.frequencies(), (std::vector<double>{0, 1, 0.1, 0.2}));
  EXPECT_DOUBLE_EQ(f.l0(), 1.3);  // 13 firings over 10 samples
  EXPECT_EQ(f.dead(), (std::vector<int64_t>{0}));
  EXPECT_DOUBLE_EQ(f.dead_fraction(), 0.25);
  EXPECT_DOUBLE_EQ(f.dense_fraction(), 0.5);      // units 1 and 3
  EXPECT_DOUBLE_EQ(f.dense_fraction(0.15), 0.5);
  EXPECT_DOUBLE_EQ(f.dense_fraction(0.05), 0.75);

  models::CodeFiring half(0.5);  // a sigmoid code: above the middle of its range
  half.add(batch({0.4, 0.6, 0.5, 0.9}, 2, 2));
  EXPECT_EQ(half.counts(), (std::vector<int64_t>{0, 2}));

  EXPECT_THROW(f.add(batch({1, 2, 3}, 1, 3)), Error);  // another width
  EXPECT_THROW(f.add(batch({0, NAN, 0, 0}, 1, 4)), Error);
  EXPECT_THROW(f.add(Tensor::from_host(std::vector<double>{1, 2}, {2}, Device::cpu())), Error);
}

#ifdef AE_CLI_PATH
// ReLU-type codes are sparse at 0; a sigmoid code under l1 or kl_sparsity at 0.5; others not.
TEST(CodeFiring, SparseCodesAndTheirThresholds) {
  auto threshold = [](const std::string& kind, const std::string& code, const std::string& penalty) {
    run::RunConfig c = run::preset(kind);
    if (!code.empty()) c.model.code_activation = code;
    if (!penalty.empty()) {
      c.model.penalty = penalty;
      c.model.penalty_weight = 0.1;
    }
    run::validate(c);
    return run::firing_threshold(run::model_spec(c, 16, 0, 1, "t"));
  };
  EXPECT_EQ(threshold("ae", "relu", ""), 0.0);
  EXPECT_EQ(threshold("ae", "leaky_relu", "l1"), 0.0);
  EXPECT_EQ(threshold("sparse", "", ""), 0.5);  // sigmoid under kl_sparsity
  EXPECT_EQ(threshold("ae", "sigmoid", "l1"), 0.5);
  EXPECT_FALSE(threshold("ae", "sigmoid", "").has_value());
  EXPECT_FALSE(threshold("ae", "tanh", "l1").has_value());
  EXPECT_FALSE(threshold("vae", "", "").has_value());
}
#endif

}  // namespace
}  // namespace ae
