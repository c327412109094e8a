// Shared pieces of the model tests: MNIST digits (the test set in AE_MNIST_DIR), a small
// trainer configuration, and a few statistics read on the host.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "data/dataset.h"
#include "train/trainer.h"

namespace ae::models::test {

// The test set is there, gzipped (as downloaded) or not (load_mnist reads either).
inline bool have_mnist() {
  const std::string images = std::string(AE_MNIST_DIR) + "/t10k-images-idx3-ubyte";
  return std::filesystem::exists(images + ".gz") || std::filesystem::exists(images);
}

// Rows [start, start + n) of the MNIST test set, pixels in [0, 1], float32 on the CPU. The file
// is read once per process.
inline Tensor mnist_rows(int64_t start, int64_t n) {
  static const Dataset digits = load_mnist(AE_MNIST_DIR);
  return slice(digits.x, start, start + n).clone();
}

// Adam, batches of 64, no validation-driven stopping: what most behaviour tests train with.
inline TrainerConfig quick_trainer(int64_t epochs, double lr = 3e-3, uint64_t shuffle_seed = 1) {
  TrainerConfig c;
  c.epochs = epochs;
  c.batch_size = 64;
  c.optimizer.kind = OptimizerKind::adam;
  c.optimizer.lr = lr;
  c.shuffle_seed = shuffle_seed;
  return c;
}

// Prints a measured quantity beside the test's output, so a run shows the numbers behind a claim.
inline void measured(const std::string& what) { std::printf("[ measured ] %s\n", what.c_str()); }

inline double mean_of(const Tensor& t) { return mean(t).item(); }
inline double mean_abs(const Tensor& t) { return mean(abs(t)).item(); }

// Σ over features of (a − b)², averaged over rows.
inline double batch_sse(const Tensor& a, const Tensor& b) {
  return reduce(square(a - b), Reduction::batch_mean).item();
}

}  // namespace ae::models::test

// First line of a test that reads MNIST: a machine without the data skips it, saying why.
#define AE_SKIP_WITHOUT_MNIST()                   \
  if (!::ae::models::test::have_mnist())          \
  GTEST_SKIP() << "no MNIST test set in " << AE_MNIST_DIR
