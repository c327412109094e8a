#include "data/rows.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "core/ops.h"
#include "data/dataset.h"

namespace ae::models {

namespace {

// Epoch e draws from the window [e * 2^32, (e + 1) * 2^32) of the seed's Philox stream, as
// permutation(n, seed, e) does: first the block order, then each window's shuffle after it.
constexpr uint64_t epoch_offset(int64_t epoch) { return static_cast<uint64_t>(epoch) << 32; }

}  // namespace

// --- BlockShuffle ---------------------------------------------------------------------------

BlockShuffle::BlockShuffle(int64_t n, int64_t block_rows, int64_t window_blocks, uint64_t seed,
                           bool shuffle)
    : n_(n), block_rows_(block_rows), window_blocks_(window_blocks), blocks_(0), seed_(seed),
      shuffle_(shuffle) {
  AE_CHECK(n > 0 && block_rows > 0 && window_blocks > 0, "BlockShuffle: rows (", n,
           "), block_rows (", block_rows, ") and window_blocks (", window_blocks,
           ") must be positive");
  blocks_ = (n + block_rows - 1) / block_rows;
  // One epoch's draws (blocks - 1 for the block order, fewer than n for the windows) must stay
  // inside its 2^32 window of the stream.
  AE_CHECK(blocks_ + n <= (int64_t{1} << 32), "BlockShuffle: ", n, " rows in ", blocks_,
           " blocks need more than 2^32 random draws per epoch");
  seek_epoch(0);
}

int64_t BlockShuffle::block_size(int64_t b) const {
  return std::min(n_, (b + 1) * block_rows_) - b * block_rows_;
}

void BlockShuffle::seek_epoch(int64_t epoch) {
  AE_CHECK(epoch >= 0 && epoch < (int64_t{1} << 32), "BlockShuffle: epoch ", epoch,
           " outside [0, 2^32)");
  epoch_ = epoch;
  if (shuffle_) {
    blocks_order_ = permutation_at(blocks_, seed_, epoch_offset(epoch));
  } else {
    blocks_order_.resize(static_cast<size_t>(blocks_));
    std::iota(blocks_order_.begin(), blocks_order_.end(), int64_t{0});
  }
  window_start_.assign(1, 0);
  for (int64_t first = 0; first < blocks_; first += window_blocks_) {
    int64_t rows = 0;
    for (int64_t i = first; i < std::min(blocks_, first + window_blocks_); ++i)
      rows += block_size(blocks_order_[i]);
    window_start_.push_back(window_start_.back() + rows);
  }
}

int64_t BlockShuffle::window_of(int64_t position) const {
  AE_CHECK(position >= 0 && position < n_, "BlockShuffle: position ", position, " outside [0, ",
           n_, ")");
  const auto it = std::upper_bound(window_start_.begin(), window_start_.end(), position);
  return static_cast<int64_t>(it - window_start_.begin()) - 1;
}

std::vector<int64_t> BlockShuffle::window_blocks(int64_t w) const {
  AE_CHECK(w >= 0 && w < windows(), "BlockShuffle: window ", w, " outside [0, ", windows(), ")");
  const int64_t first = w * window_blocks_;
  return {blocks_order_.begin() + first,
          blocks_order_.begin() + std::min(blocks_, first + window_blocks_)};
}

std::vector<int64_t> BlockShuffle::window_shuffle(int64_t w) const {
  AE_CHECK(w >= 0 && w < windows(), "BlockShuffle: window ", w, " outside [0, ", windows(), ")");
  if (!shuffle_) return {};
  const int64_t rows = window_start_[w + 1] - window_start_[w];
  // After the block order's blocks - 1 draws; window w's rows - 1 draws start past every earlier
  // window's, so no two windows share a draw.
  const uint64_t offset = epoch_offset(epoch_) + static_cast<uint64_t>(blocks_) +
                          static_cast<uint64_t>(window_start_[w]);
  return permutation_at(rows, seed_, offset);
}

std::vector<int64_t> BlockShuffle::epoch_order() const {
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n_));
  for (int64_t w = 0; w < windows(); ++w) {
    std::vector<int64_t> laid;  // the window's rows, block after block
    for (int64_t b : window_blocks(w))
      for (int64_t r = b * block_rows_; r < b * block_rows_ + block_size(b); ++r) laid.push_back(r);
    const std::vector<int64_t> shuffle = window_shuffle(w);
    if (shuffle.empty()) order.insert(order.end(), laid.begin(), laid.end());
    for (int64_t i : shuffle) order.push_back(laid[i]);
  }
  return order;
}

std::vector<int64_t> epoch_order(int64_t n, const RowOrder& order, int64_t epoch) {
  switch (order.kind) {
    case OrderKind::shuffled: return permutation(n, order.seed, static_cast<uint64_t>(epoch));
    case OrderKind::block_shuffled: {
      BlockShuffle s(n, order.block_rows, order.window_blocks, order.seed);
      s.seek_epoch(epoch);
      return s.epoch_order();
    }
    case OrderKind::sequential: break;
  }
  std::vector<int64_t> identity(static_cast<size_t>(n));
  std::iota(identity.begin(), identity.end(), int64_t{0});
  return identity;
}

// --- InMemoryRows ---------------------------------------------------------------------------

InMemoryRows::InMemoryRows(const Tensor& x, Device device, RowOrder order)
    : device_(device), order_(order) {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(0) > 0, "InMemoryRows: the data must be ",
           "(samples, features) with samples > 0, got ", x.defined() ? x.shape().str() : "undefined");
  host_ = x.to(Device::cpu());
  if (order.kind == OrderKind::block_shuffled)  // checks the order's settings now
    BlockShuffle(x.size(0), order.block_rows, order.window_blocks, order.seed);
}

void InMemoryRows::seek_epoch(int64_t epoch) {
  AE_CHECK(epoch >= 0, "InMemoryRows: epoch ", epoch, " is negative");
  wanted_ = epoch;
}

Tensor InMemoryRows::read(int64_t lo, int64_t hi) {
  const int64_t n = size();
  AE_CHECK(0 <= lo && lo < hi && hi <= n, "InMemoryRows: rows [", lo, ", ", hi,
           ") outside [0, ", n, ")");
  const size_t row_bytes = host_.nbytes() / static_cast<size_t>(n);
  // The rows of [lo, hi) of `order`, gathered on the host.
  auto gather = [&](const std::vector<int64_t>& order, int64_t lo, int64_t hi) {
    Tensor rows = Tensor::empty(Shape{hi - lo, host_.size(1)}, host_.dtype(), Device::cpu());
    const char* src = static_cast<const char*>(host_.data());
    char* dst = static_cast<char*>(rows.data());
    for (int64_t i = lo; i < hi; ++i)
      std::memcpy(dst + (i - lo) * row_bytes, src + order[i] * row_bytes, row_bytes);
    return rows;
  };
  // Gathered per read, not per epoch, where the rows stay on the host (the data is then held
  // once, not twice: docs/scale.md#memory), and for the block-shuffled order, whose comparison
  // with a streamed file asks for the same.
  if (order_.kind == OrderKind::block_shuffled ||
      (order_.kind == OrderKind::shuffled && device_ == Device::cpu())) {
    if (epoch_ != wanted_ || block_order_.empty()) {
      block_order_ = epoch_order(n, order_, wanted_);
      epoch_ = wanted_;
    }
    return gather(block_order_, lo, hi).to(device_);
  }
  // The sequential order is the same every epoch: its copy on the device is kept.
  const bool same = epoch_x_.defined() && (epoch_ == wanted_ || order_.kind == OrderKind::sequential);
  if (!same) {
    if (order_.kind == OrderKind::sequential) {
      epoch_x_ = host_.to(device_);
    } else {
      // The rows in the epoch's order, gathered on the host, then one copy to the device.
      epoch_x_ = Tensor();  // the last epoch's rows go first
      epoch_x_ = gather(epoch_order(n, order_, wanted_), 0, n).to(device_);
    }
    epoch_ = wanted_;
  }
  return slice(epoch_x_, lo, hi);
}

}  // namespace ae::models
