#include "core/shape.h"

#include "core/error.h"

namespace ae {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::vector<int64_t>(dims)) {}

Shape::Shape(const std::vector<int64_t>& dims) {
  AE_CHECK(dims.size() <= kMaxDims, "Shape: ", dims.size(), " dims, at most ", kMaxDims);
  for (size_t i = 0; i < dims.size(); ++i) {
    AE_CHECK(dims[i] >= 0, "Shape: dimension ", i, " is negative (", dims[i], ")");
    dims_[i] = dims[i];
  }
  ndim_ = static_cast<int>(dims.size());
}

int64_t Shape::operator[](int i) const {
  int j = i < 0 ? i + ndim_ : i;
  AE_CHECK(j >= 0 && j < ndim_, "Shape", str(), ": no dimension ", i);
  return dims_[j];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < ndim_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + ")";
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::ostream& operator<<(std::ostream& out, const Shape& s) { return out << s.str(); }

}  // namespace ae
