// ae::io::Array: plain host data as the file readers return it, before the models layer turns it
// into a Tensor. Row-major float32 with its shape, e.g. (10000, 28, 28) for the MNIST test images.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ae::io {

struct Array {
  std::vector<int64_t> shape;  // outermost first; empty for a scalar
  std::vector<float> data;     // product(shape) values, row-major

  // shape[0], or 1 for a scalar: the number of samples.
  int64_t rows() const;
  // Product of the remaining dims (1 for a 1-d array): one sample flattened, 784 for MNIST.
  int64_t cols() const;
  // Product of all dims.
  int64_t numel() const;
};

// "(10000, 28, 28)": how messages print a shape.
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace ae::io
