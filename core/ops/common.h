// Helpers shared by the op definitions in core/ops/ (not part of the public API).
#pragma once
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae::detail {

inline const Backend& be(const Tensor& t) { return backend(t.device()); }
inline Stream st(const Tensor& t) { return stream(t.device()); }

inline Tensor empty_like(const Tensor& t, const Shape& shape) {
  return Tensor::empty(shape, t.dtype(), t.device());
}
inline Tensor empty_like(const Tensor& t) { return empty_like(t, t.shape()); }

// Same dtype and device, or an ae::Error naming the op and both tensors.
inline void check_compatible(const char* op, const Tensor& a, const Tensor& b) {
  AE_CHECK(a.defined() && b.defined(), op, ": undefined tensor");
  AE_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", a.str(), " vs ", b.str());
  AE_CHECK(a.device() == b.device(), op, ": device mismatch, ", a.str(), " vs ", b.str());
}

// Normalises a possibly negative axis of x, or throws naming the op.
inline int checked_axis(const char* op, const Tensor& x, int axis) {
  int nd = x.ndim();
  int a = axis < 0 ? axis + nd : axis;
  AE_CHECK(a >= 0 && a < nd, op, ": axis ", axis, " out of range for shape ", x.shape());
  return a;
}

// x viewed as (outer, n, inner) around `axis`.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};
inline AxisView axis_view(const Shape& s, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= s[i];
  v.n = s[axis];
  for (int i = axis + 1; i < s.ndim(); ++i) v.inner *= s[i];
  return v;
}

}  // namespace ae::detail
