// Data sets larger than memory: the rows of a .npy file, or of a folder of .npy or .safetensors
// shards, read in blocks while the model trains, never whole. Resident memory is bounded by the
// buffer (StreamOptions::buffer_bytes), whatever the file's size:
//
//   RowFiles      the shards, each header checked when opened; rows read by range with pread
//                 (no memory map, whose pages would count as resident), converted to float32
//   StreamedRows  a RowSource over them: the block-shuffled order of data/rows.h, walked by a
//                 background thread that reads the next window of blocks while the trainer
//                 consumes the current one (two windows of buffer_bytes / 2 each)
//   stream_moments  the normalisation statistics in one pass (FeatureMoments, data/dataset.h)
//
// The validation split of a streamed file is by block: every k-th block (k = round(1 / fraction))
// from a seeded first one is held out (BlockSplit).
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/normalize.h"
#include "data/file.h"
#include "data/rows.h"

namespace ae::models {

// The rows of a .npy file, or of a folder of shards sorted by name: all .npy files, or all
// .safetensors files (the tensor `key` in each; with no key, the one named "x", else its only
// tensor), with the same
// features (dims 1... of every shard alike). Every header is read and checked when opened, before
// any value; a shard that does not fit is a one-line error naming it. Dim 0 is the row, the rest
// are flattened (3-d and 4-d shards are pictures, channels last). Values as read_npy converts them
// (float16 and bfloat16 widened exactly, safetensors F16 and BF16 too; float64 rounded to
// float32; integers exactly representable).
class RowFiles {
 public:
  explicit RowFiles(const std::string& path, const std::string& key = "");
  ~RowFiles();
  RowFiles(const RowFiles&) = delete;
  RowFiles& operator=(const RowFiles&) = delete;

  const std::string& path() const { return path_; }
  int64_t rows() const { return rows_; }
  int64_t features() const { return features_; }
  int64_t image_h() const { return image_h_; }  // 3-d and 4-d shards: the picture's height, else 0
  int64_t image_w() const { return image_w_; }
  int64_t image_c() const { return image_c_; }  // 4-d shards (rows, h, w, c): the channels, else 1
  int64_t shards() const { return static_cast<int64_t>(shards_.size()); }
  uint64_t data_bytes() const;  // the values' bytes in all shards

  // Rows [first, first + count) into out (count, features) float32. Thread-safe. A non-finite
  // value is an error naming the file, its row (from 0 in that file) and the feature.
  void read(int64_t first, int64_t count, float* out) const;

 private:
  struct Shard;
  std::string path_;
  std::vector<std::unique_ptr<Shard>> shards_;
  int64_t rows_ = 0, features_ = 0, image_h_ = 0, image_w_ = 0, image_c_ = 1;
};

// Every row of RowFiles(path, key) in memory, converted as it reads them, a block at a time (no
// second copy of the file is held): a Dataset as load_npy gives (3-d and 4-d shards are pictures).
Dataset load_rows(const std::string& path, const std::string& key = "");

// Which blocks of a file a source walks: all of them (every == 0), or, of a split that holds out
// every `every`-th block from block `phase` on, the held-out ones or the rest.
struct BlockSplit {
  int64_t every = 0;
  int64_t phase = 0;
  bool held_out = false;

  int64_t count(int64_t file_blocks) const;             // blocks this part holds
  int64_t file_block(int64_t i) const;                  // the file block of its i-th block
};

// The parts {training, validation} of a split holding out a fraction of file_blocks:
// k = round(1 / fraction) (>= 2) and a phase in [0, k) drawn from the seed. Both parts must hold
// a block; `name` names the data in errors.
std::pair<BlockSplit, BlockSplit> block_split(int64_t file_blocks, double validation_fraction,
                                              uint64_t seed, const std::string& name);

struct StreamOptions {
  // The two windows of rows held at once (float32), in bytes: the bound on the data's resident
  // memory. A window holds as many whole blocks as half of it takes (at least one).
  int64_t buffer_bytes = int64_t{256} << 20;
  int64_t block_bytes = int64_t{1} << 20;  // float32 bytes per block (at least one row)
  bool shuffle = true;                     // block-shuffled epochs; false: sequential
  uint64_t seed = 0;                       // of the block-shuffled order
  BlockSplit part;                         // the file's blocks this source walks
  Device device = Device::cpu();           // where read() puts the rows
  DType dtype = DType::f32;                // and in which dtype
  std::optional<Normalizer> normalizer;    // applied to each read, in float32 on `device`
};

// A RowSource over a part of RowFiles, read ahead by a background thread. read() waits only when
// the reader has not caught up; an error of the reader (a bad value, a failed read) is thrown
// by the read() that needed the rows. A read may span at most two windows (one batch must fit
// in the buffer's half). On a GPU the rows are gathered into page-locked host buffers and copied
// asynchronously in ae's stream order, so the host gathers the next batch while the device
// still computes on the last (the copy itself is ordered with the kernels on that one stream).
class StreamedRows : public RowSource {
 public:
  StreamedRows(std::shared_ptr<const RowFiles> files, StreamOptions options);
  ~StreamedRows() override;
  StreamedRows(const StreamedRows&) = delete;
  StreamedRows& operator=(const StreamedRows&) = delete;

  int64_t size() const override { return rows_; }
  int64_t features() const override { return files_->features(); }
  void seek_epoch(int64_t epoch) override;
  Tensor read(int64_t lo, int64_t hi) override;
  // Rows that span at most two windows wherever they start: every window but the last holds at
  // least window_blocks - 1 full blocks and one row.
  int64_t max_read() const override {
    return std::min(rows_, std::max<int64_t>(1, (window_blocks_ - 1) * block_rows_ + 1));
  }

  int64_t block_rows() const { return block_rows_; }
  int64_t window_blocks() const { return window_blocks_; }
  // The order of this source over its own rows (its blocks laid end to end): the same order
  // over the same rows held in memory (InMemoryRows) gives the same batches.
  RowOrder order() const;
  // The source's rows [first, first + count) in stored order (its blocks laid end to end), read
  // now, in float32, not normalised: for tests and samples (pictures).
  Tensor stored_rows(int64_t first, int64_t count) const;

 private:
  struct Slot {
    int64_t window = -1;  // -1: free
    bool ready = false;
    std::vector<float> rows;      // (window rows, features) its blocks laid end to end
    std::vector<int64_t> shuffle; // the window's order (empty: as laid)
  };
  void start_reader();
  void reader();
  void fill(Slot& slot, const std::vector<int64_t>& blocks) const;
  int64_t file_row(int64_t block) const { return options_.part.file_block(block) * block_rows_; }
  int64_t block_size(int64_t block) const;

  std::shared_ptr<const RowFiles> files_;
  StreamOptions options_;
  int64_t block_rows_ = 0, window_blocks_ = 0, blocks_ = 0, rows_ = 0;
  std::optional<BlockShuffle> plan_;  // changed by seek_epoch only while the reader waits
  // options_.normalizer's statistics on `device` in float32, copied there once (each read then
  // queues its two ops without an upload, which would wait for the device).
  std::optional<DeviceNormalizer> normalizer_;

  // On a GPU: two page-locked host buffers that reads gather into, alternately, each copied to
  // the device asynchronously; a buffer is filled again once its event says its copy is done.
  struct Staging {
    void* host = nullptr;
    size_t bytes = 0;
    void* event = nullptr;
  };
  Staging staging_[2];
  int next_staging_ = 0;

  std::mutex mutex_;
  std::condition_variable changed_;
  Slot slots_[2];
  int64_t next_window_ = 0;  // the next window the reader fills
  bool filling_ = false;     // the reader is filling a slot (outside the lock)
  bool stop_ = false;
  std::exception_ptr error_;
  int64_t last_lo_ = 0;
  std::thread thread_;
};

// The statistics of every row of a source's epoch 0, read once in order (its rows must not be
// normalised). Errors are those of its reads.
FeatureMoments stream_moments(RowSource& rows);

}  // namespace ae::models
