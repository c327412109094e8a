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

 private:
  uint64_t seed_;
  uint64_t offset_;
};

}  // namespace ae
