// The data path that holds a file once: .npy values read straight into the caller's memory (in
// chunks when they need converting), rows partitioned in place or into one copy, and a
// normaliser applied in place, each the same values as the copying way.
#include <gtest/gtest.h>

#include <numeric>

#include "core/autograd.h"
#include "core/ops.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "data/npy.h"
#include "tests/common/io_testing.h"

namespace ae::models {
namespace {

TEST(DataInPlace, NpyValuesThatNeedConvertingAreReadInChunks) {
  io::test::TempDir dir;
  // int64 values over more than one 1 MiB conversion chunk (8 bytes each), not a multiple of it.
  const int64_t rows = 50001, cols = 3;
  std::vector<int64_t> values(static_cast<size_t>(rows * cols));
  std::iota(values.begin(), values.end(), int64_t{-1000});
  io::write_npy(dir.path("i8.npy"), {rows, cols}, values.data());
  const Dataset d = load_npy(dir.path("i8.npy"));
  ASSERT_EQ(d.size(), rows);
  const std::vector<float> got = d.x.to_floats();
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(values[i])) << i;
}

TEST(DataInPlace, PartitionInPlaceAndByCopyGiveTheSameParts) {
  Dataset d;
  const int64_t n = 10, f = 3;
  std::vector<float> v(static_cast<size_t>(n * f));
  std::iota(v.begin(), v.end(), 0.0f);
  d.x = Tensor::from_host(v, {n, f}, Device::cpu());
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(100 + i);
  d.name = "rows";
  const std::vector<std::vector<int64_t>> parts{{0, 2, 3, 7, 9}, {1, 8}, {4, 5, 6}};
  const std::vector<Dataset> copied = partition(d, parts, Arrange::copy);
  EXPECT_EQ(d.x.to_floats(), v);  // left as it was
  const std::vector<Dataset> moved = partition(d, parts, Arrange::in_place);
  for (size_t k = 0; k < parts.size(); ++k) {
    const Dataset expected = select(Dataset{Tensor::from_host(v, {n, f}, Device::cpu()),
                                            d.labels, 0, 0, 1, "rows", {}},
                                    parts[k]);
    EXPECT_EQ(copied[k].x.to_floats(), expected.x.to_floats()) << k;
    EXPECT_EQ(moved[k].x.to_floats(), expected.x.to_floats()) << k;
    EXPECT_EQ(moved[k].labels, expected.labels) << k;
  }
  // In place: the parts are views of d's own memory.
  EXPECT_EQ(moved[0].x.data(), d.x.data());
  EXPECT_THROW(partition(d, {{0, 1}, {2}}, Arrange::copy), Error);  // rows left out
}

TEST(DataInPlace, NormalisingInPlaceGivesApplysValues) {
  const Tensor x = Tensor::randn({257, 5}, 3, 0) * 4.0 + 2.0;
  for (NormKind kind : {NormKind::min_max, NormKind::standardize, NormKind::pca}) {
    const Normalizer norm = fit_normalizer(x, kind);
    NoGradGuard no_grad;
    Tensor y = x.clone();
    norm.apply_in_place(y);
    EXPECT_EQ(y.to_floats(), norm.apply(x).to_floats()) << norm_kind_name(kind);
  }
}

}  // namespace
}  // namespace ae::models
