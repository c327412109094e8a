// The one random stream of ae: Philox4x32-10 keyed by (seed, offset), bit-identical to cuRAND's
// Philox4_32_10 on the CPU and the GPU. A Generator hands out disjoint windows of the stream, so
// a run is reproducible from its seed and the generator's offset (saved in checkpoints).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ae {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }  // in 32-bit draws
  void set_offset(uint64_t offset) { offset_ = offset; }

  Tensor rand(const Shape& shape, DType dt = DType::f32, Device d = default_device());
  Tensor randn(const Shape& shape, DType dt = DType::f32, Device d = default_device());
  // Reserves n draws and returns the window's start; windows start on 4-draw boundaries.
  uint64_t advance(uint64_t n);

  // Data-parallel draws keyed by the row of the global batch. While a shard is set, a draw of
  // n = rows * k numbers (a row-major (rows, k) tensor: the noise of a rank's rows) reserves the
  // window the whole global batch takes, global_rows * k draws, and returns the position of
  // first_row in it, window + first_row * k: each row receives the draws it gets in a one-rank
  // run of the same batch, on whichever rank it is. Gaussian draws come in Box-Muller pairs
  // relative to the returned position, so first_row * k must be even (shard_rows in core/comm.h
  // starts every shard on an even row). advance() throws ae::Error when n is not a multiple of
  // rows.
  struct Shard {
    int64_t global_rows = 0;
    int64_t first_row = 0;
    int64_t rows = 0;  // > 0
  };
  void set_shard(const Shard& shard);
  void clear_shard() { shard_ = {}; }
  bool sharded() const { return shard_.rows > 0; }

 private:
  uint64_t seed_;
  uint64_t offset_;
  Shard shard_;
};

// Sets a generator's shard for the lifetime of the scope (none when rows == global_rows and
// first_row == 0, which draws exactly as without one).
class ShardScope {
 public:
  ShardScope(Generator& gen, const Generator::Shard& shard);
  ~ShardScope() { gen_.clear_shard(); }
  ShardScope(const ShardScope&) = delete;
  ShardScope& operator=(const ShardScope&) = delete;

 private:
  Generator& gen_;
};

}  // namespace ae
