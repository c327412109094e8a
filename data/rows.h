// Where Trainer::fit takes its rows from: a RowSource hands out the rows of an epoch by their
// positions in the epoch's order, so that the trainer (or a data-parallel rank, which takes its
// slice of each global batch) asks for exactly the rows it trains on, and a source that streams a
// file larger than memory keeps only a bounded window of it.
//
// The order of epoch e is fixed by (seed, e) and the RowOrder:
//   shuffled        every row in permutation(n, seed, e) (data/dataset.h): the order ae has always
//                   used for data in memory;
//   block_shuffled  the rows cut into blocks of block_rows consecutive rows (the last may be
//                   shorter); the blocks in a seeded random order; consecutive runs of
//                   window_blocks of those blocks form windows, and the rows of each window in a
//                   seeded random order. A reader that holds one or two windows walks the epoch,
//                   reading whole blocks; the same order over the same rows in memory gives the
//                   same batches (BlockShuffle below);
//   sequential      0, 1, ..., n - 1 every epoch (validation).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ae::models {

enum class OrderKind : uint8_t { shuffled, block_shuffled, sequential };

struct RowOrder {
  OrderKind kind = OrderKind::shuffled;
  uint64_t seed = 0;
  int64_t block_rows = 0;     // block_shuffled: rows per block (> 0)
  int64_t window_blocks = 0;  // block_shuffled: blocks per window (> 0)
};

// The rows of one epoch, by position in the epoch's order. Reads go forward within an epoch:
// the lo of a read is never below the lo of the read before it (a streaming source forgets the
// rows before it), and any sub-range of a batch may be read (a rank's slice).
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual int64_t size() const = 0;      // rows per epoch, n > 0
  virtual int64_t features() const = 0;  // columns of every row
  // Starts `epoch` (from 0) at position 0; any epoch, in any sequence (a resumed run).
  virtual void seek_epoch(int64_t epoch) = 0;
  // The rows at positions [lo, hi) of the current epoch's order, (hi - lo, features), on the
  // source's device and in its dtype; 0 <= lo < hi <= size(). The tensor may be a view of the
  // source's buffers that the next read replaces: use it before reading again.
  virtual Tensor read(int64_t lo, int64_t hi) = 0;
  // The most rows one read may ask for (a streamed file: what its windows hold for sure).
  virtual int64_t max_read() const { return size(); }
};

// The block-shuffled order of n rows (see above) for one epoch, computed a window at a time:
// memory grows with the number of blocks (8 bytes each) and the rows of one window, not with n.
class BlockShuffle {
 public:
  // shuffle false: the blocks and the rows in their stored order (the sequential order, read a
  // window at a time).
  BlockShuffle(int64_t n, int64_t block_rows, int64_t window_blocks, uint64_t seed,
               bool shuffle = true);
  void seek_epoch(int64_t epoch);

  int64_t size() const { return n_; }
  int64_t blocks() const { return blocks_; }
  int64_t block_rows() const { return block_rows_; }
  int64_t windows() const { return static_cast<int64_t>(window_start_.size()) - 1; }
  int64_t window_of(int64_t position) const;           // the window holding a position
  int64_t window_start(int64_t w) const { return window_start_[w]; }  // its first position
  // The blocks of window w, in the order they are laid out in it; block b holds the rows
  // [b * block_rows, min(n, (b + 1) * block_rows)).
  std::vector<int64_t> window_blocks(int64_t w) const;
  // The rows at the window's positions, as offsets into the window's blocks laid out one after
  // the other (the order of window_blocks(w)): position window_start(w) + i holds offset
  // shuffle[i].
  std::vector<int64_t> window_shuffle(int64_t w) const;  // empty: the identity (not shuffled)
  // The whole epoch's order: position p holds row order[p] (for data in memory).
  std::vector<int64_t> epoch_order() const;

 private:
  int64_t block_size(int64_t b) const;

  int64_t n_, block_rows_, window_blocks_, blocks_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = 0;
  std::vector<int64_t> blocks_order_;  // (blocks) the epoch's block order
  std::vector<int64_t> window_start_;  // (windows + 1) first position of each window, then n
};

// The order of epoch `epoch` over n rows, whole (any kind).
std::vector<int64_t> epoch_order(int64_t n, const RowOrder& order, int64_t epoch);

// Rows already in memory: x (n, features) in the dtype the model trains in. For a device other
// than the host, each epoch's rows are gathered on the host in the epoch's order and copied to
// `device` once; reads are row slices of that copy. On the host, and for the block-shuffled
// order (there to compare with a streamed file), each read gathers its own rows instead, so that
// the data is held once, not twice. Either way a read returns the same rows, so results are those
// of earlier versions bit for bit. Any positions may be read in any order.
class InMemoryRows : public RowSource {
 public:
  InMemoryRows(const Tensor& x, Device device, RowOrder order = {});
  int64_t size() const override { return host_.size(0); }
  int64_t features() const override { return host_.size(1); }
  void seek_epoch(int64_t epoch) override;
  Tensor read(int64_t lo, int64_t hi) override;

 private:
  Tensor host_;    // (n, features) on the host
  Device device_;
  RowOrder order_;
  int64_t epoch_ = -1;  // the epoch gathered in epoch_x_
  int64_t wanted_ = 0;  // the epoch seek_epoch asked for
  Tensor epoch_x_;      // (n, features) on device_, in the epoch's order
  std::vector<int64_t> block_order_;  // (n) the epoch's order, where each read gathers its rows
};

}  // namespace ae::models
