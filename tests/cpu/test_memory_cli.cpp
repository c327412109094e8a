// `ae train` without --stream holds its data once: the .npy payload is read straight into the
// tensor the trainer reads, split into training and validation rows and normalised in that same
// memory, and batches are gathered from it. Measured as the child's peak RSS (wait4) against a
// run on a tiny file with the same model, which holds everything that does not grow with the data.
#include <string>

#include <gtest/gtest.h>

#include "tests/common/child_rss.h"
#include "tests/common/io_testing.h"
#include "tests/common/large_npy.h"
#include "tests/cpu/test_models_util.h"

#ifdef AE_CLI_PATH
namespace ae::models {
namespace {

TEST(MemoryCli, TrainingInMemoryHoldsTheFileOnce) {
  const int64_t features = 256, rows = 65536;  // 64 MiB of float32
  const double file_mib = static_cast<double>(rows * features * 4) / (1 << 20);
  io::test::TempDir dir;
  testing::write_structured_npy(dir.path("tiny.npy"), 1000, features);
  testing::write_structured_npy(dir.path("big.npy"), rows, features);
  // Standardised (not kept as they are, which --normalize auto would do with values in [0, 1])
  // and split for validation: the normalisation and the split both act on the data.
  auto train = [&](const std::string& data, const std::string& out) {
    const auto [status, peak_kib] = testing::run_ae(
        {"train", "--data", dir.path(data), "--model", "ae", "--hidden", "32", "--code", "8",
         "--epochs", "1", "--batch-size", "1024", "--normalize", "standardize", "--validation",
         "0.1", "--no-pictures", "-q", "--out", dir.path(out)},
        dir.path(out + ".log"));
    EXPECT_EQ(status, 0) << testing::read_log(dir.path(out + ".log"));
    return peak_kib / 1024.0;
  };
  const double baseline_mib = train("tiny.npy", "tiny");
  const double peak_mib = train("big.npy", "big");
  test::measured(cat("ae train on a ", file_mib, " MiB .npy: peak RSS ", peak_mib, " MiB; on ",
                     "1000 rows ", baseline_mib, " MiB; (peak - that) / file = ",
                     (peak_mib - baseline_mib) / file_mib));
  // The file's values once (the training buffer), plus the validation rows' scratch copy while
  // they are moved behind the training rows (a tenth of the file), a batch and the rows of the
  // code check: about 1.15x the file. 1.5x leaves room for the allocator and the page cache's
  // rounding, and is broken by any second whole copy of the data (before this design every
  // step made one: 5.6x).
  EXPECT_LT(peak_mib, baseline_mib + 1.5 * file_mib);
}

}  // namespace
}  // namespace ae::models
#endif
