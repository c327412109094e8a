// Sources of rows (data/rows.h): the in-memory source walks the order the batch iterator always
// walked, and the block-shuffled order is a permutation that keeps each window's rows to its
// blocks.
#include <algorithm>
#include <numeric>
#include <set>

#include "data/dataset.h"
#include "data/rows.h"
#include "tests/common/testing.h"

namespace ae::models {
namespace {

// (n, f) float32 rows whose value j of row i is i * f + j: a row says which it is.
Tensor numbered_rows(int64_t n, int64_t f) {
  std::vector<float> v(static_cast<size_t>(n * f));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_host(v, {n, f}, Device::cpu());
}

std::vector<int64_t> row_ids(const Tensor& x) {
  const std::vector<float> v = x.to_floats();
  const int64_t f = x.size(1);
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < x.size(0); ++i) ids.push_back(static_cast<int64_t>(v[i * f]) / f);
  return ids;
}

TEST(Rows, InMemoryShuffledWalksTheBatchIteratorsOrder) {
  const Tensor x = numbered_rows(103, 3);
  BatchIterator it(x, 10, Device::cpu(), 7);
  InMemoryRows rows(x, Device::cpu(), RowOrder{OrderKind::shuffled, 7});
  for (int64_t epoch : {0, 1, 4}) {
    it.seek_epoch(epoch);
    rows.seek_epoch(epoch);
    Batch b;
    int64_t lo = 0;
    while (it.next(b)) {
      const int64_t hi = lo + b.x.size(0);
      EXPECT_EQ(rows.read(lo, hi).to_floats(), b.x.to_floats()) << "epoch " << epoch << " at " << lo;
      lo = hi;
    }
    EXPECT_EQ(lo, 103);
  }
}

TEST(Rows, ASliceOfABatchIsThoseRowsOfTheBatch) {
  const Tensor x = numbered_rows(50, 2);
  InMemoryRows rows(x, Device::cpu(), RowOrder{OrderKind::block_shuffled, 3, 4, 2});
  rows.seek_epoch(1);
  const std::vector<int64_t> whole = row_ids(rows.read(20, 40));
  const std::vector<int64_t> part = row_ids(rows.read(25, 31));  // a rank's slice
  EXPECT_EQ(part, std::vector<int64_t>(whole.begin() + 5, whole.begin() + 11));
  const std::vector<int64_t> order = epoch_order(50, {OrderKind::block_shuffled, 3, 4, 2}, 1);
  EXPECT_EQ(whole, std::vector<int64_t>(order.begin() + 20, order.begin() + 40));
}

TEST(Rows, SequentialOrderIsTheRowsAsStored) {
  InMemoryRows rows(numbered_rows(9, 2), Device::cpu(), RowOrder{OrderKind::sequential});
  for (int64_t epoch : {0, 3}) {
    rows.seek_epoch(epoch);
    EXPECT_EQ(row_ids(rows.read(2, 6)), (std::vector<int64_t>{2, 3, 4, 5}));
  }
}

TEST(BlockShuffle, EachWindowHoldsExactlyTheRowsOfItsBlocks) {
  // 103 rows in blocks of 10 (the last one of 3), 4 blocks a window: windows of 40, 40 and 23
  // rows, or 33 where the short block falls.
  const int64_t n = 103, block = 10, per_window = 4;
  BlockShuffle s(n, block, per_window, 11);
  EXPECT_EQ(s.blocks(), 11);
  EXPECT_EQ(s.windows(), 3);
  for (int64_t epoch : {0, 1, 2}) {
    s.seek_epoch(epoch);
    const std::vector<int64_t> order = s.epoch_order();
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(n);
    std::iota(all.begin(), all.end(), int64_t{0});
    EXPECT_EQ(sorted, all) << "epoch " << epoch << " is not a permutation";
    EXPECT_EQ(s.window_start(s.windows()), n);
    for (int64_t w = 0; w < s.windows(); ++w) {
      std::set<int64_t> expected;
      for (int64_t b : s.window_blocks(w))
        for (int64_t r = b * block; r < std::min(n, (b + 1) * block); ++r) expected.insert(r);
      const std::set<int64_t> got(order.begin() + s.window_start(w),
                                  order.begin() + s.window_start(w + 1));
      EXPECT_EQ(got, expected) << "epoch " << epoch << ", window " << w;
      EXPECT_EQ(s.window_of(s.window_start(w)), w);
      EXPECT_EQ(s.window_of(s.window_start(w + 1) - 1), w);
    }
  }
}

TEST(BlockShuffle, TheSameSeedAndEpochGiveTheSameOrderOthersAnother) {
  const std::vector<int64_t> a = epoch_order(500, {OrderKind::block_shuffled, 1, 16, 5}, 2);
  EXPECT_EQ(a, epoch_order(500, {OrderKind::block_shuffled, 1, 16, 5}, 2));
  EXPECT_NE(a, epoch_order(500, {OrderKind::block_shuffled, 1, 16, 5}, 3));
  EXPECT_NE(a, epoch_order(500, {OrderKind::block_shuffled, 2, 16, 5}, 2));
  // Rows are mixed inside a window: not left in their blocks' order.
  const std::vector<int64_t> b = epoch_order(500, {OrderKind::block_shuffled, 5, 50, 2}, 0);
  int64_t in_order = 0;
  for (size_t i = 1; i < b.size(); ++i) in_order += b[i] == b[i - 1] + 1;
  EXPECT_LT(in_order, 50);
}

TEST(BlockShuffle, BadSettingsAreOneLineErrors) {
  EXPECT_NE(ae::testing::error_of([] { BlockShuffle(10, 0, 2, 0); }).find("block_rows (0)"),
            std::string::npos);
  EXPECT_NE(ae::testing::error_of([] {
              InMemoryRows(numbered_rows(4, 2), Device::cpu(),
                           RowOrder{OrderKind::block_shuffled, 2, 0, 0});
            }).find("window_blocks (0)"),
            std::string::npos);
}

}  // namespace
}  // namespace ae::models
