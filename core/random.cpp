#include "core/random.h"

namespace ae {

uint64_t Generator::advance(uint64_t n) {
  uint64_t start = offset_;
  offset_ += (n + 3) / 4 * 4;  // whole Philox blocks, so each window starts on a block
  return start;
}

Tensor Generator::rand(const Shape& shape, DType dt, Device d) {
  return Tensor::rand(shape, seed_, advance(shape.numel()), dt, d);
}

Tensor Generator::randn(const Shape& shape, DType dt, Device d) {
  return Tensor::randn(shape, seed_, advance(shape.numel()), dt, d);
}

}  // namespace ae
