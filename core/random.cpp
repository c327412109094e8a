#include "core/random.h"

#include "core/error.h"

namespace ae {

uint64_t Generator::advance(uint64_t n) {
  uint64_t start = offset_;
  uint64_t window = n;
  uint64_t position = 0;
  if (sharded()) {
    const auto rows = static_cast<uint64_t>(shard_.rows);
    AE_CHECK(n % rows == 0, "Generator: a draw of ", n, " numbers for a shard of ", shard_.rows,
             " rows (a sharded draw must be a whole number per row)");
    const uint64_t per_row = n / rows;
    window = per_row * static_cast<uint64_t>(shard_.global_rows);
    position = per_row * static_cast<uint64_t>(shard_.first_row);
  }
  offset_ += (window + 3) / 4 * 4;  // whole Philox blocks, so each window starts on a block
  return start + position;
}

void Generator::set_shard(const Shard& shard) {
  AE_CHECK(shard.rows > 0 && shard.first_row >= 0 && shard.first_row + shard.rows <= shard.global_rows,
           "Generator: shard of rows [", shard.first_row, ", ", shard.first_row + shard.rows,
           ") of a global batch of ", shard.global_rows);
  shard_ = shard;
}

ShardScope::ShardScope(Generator& gen, const Generator::Shard& shard) : gen_(gen) {
  if (shard.rows != shard.global_rows) gen_.set_shard(shard);
}

Tensor Generator::rand(const Shape& shape, DType dt, Device d) {
  return Tensor::rand(shape, seed_, advance(shape.numel()), dt, d);
}

Tensor Generator::randn(const Shape& shape, DType dt, Device d) {
  return Tensor::randn(shape, seed_, advance(shape.numel()), dt, d);
}

}  // namespace ae
