// Shape: up to 4 dimensions, row-major (the last dimension is contiguous).
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace ae {

class Shape {
 public:
  static constexpr int kMaxDims = 4;

  Shape() = default;  // a scalar: 0 dims, 1 element
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const;  // negative i counts from the end
  int64_t numel() const;
  std::vector<int64_t> dims() const { return {dims_.begin(), dims_.begin() + ndim_}; }
  std::string str() const;  // "(256, 784)"

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Shape& s);

}  // namespace ae
