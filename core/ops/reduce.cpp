// Sums and means over all elements or along one axis; their adjoint broadcasts back (expand).
#include "core/ops/common.h"

namespace ae {
using namespace detail;

namespace {

Tensor reduce_axis(const char* op, const Tensor& x, int axis, bool keepdim, bool average) {
  int a = checked_axis(op, x, axis);
  AxisView v = axis_view(x.shape(), a);
  std::vector<int64_t> dims = x.shape().dims();
  if (keepdim) dims[a] = 1;
  else dims.erase(dims.begin() + a);
  double scale = average ? 1.0 / static_cast<double>(v.n) : 1.0;
  AE_CHECK(!average || v.n > 0, op, ": mean over an empty axis of ", x.shape());
  Tensor y = empty_like(x, Shape(dims));
  be(x).reduce_sum(x.dtype(), x.data(), y.data(), v.outer, v.n, v.inner, scale, st(x));
  return record(y, op, {x}, [v, scale](const Tensor& dy, const Tensor&, const Node& n) {
    const Tensor& x = n.inputs[0];
    Tensor dx = empty_like(x);
    be(x).expand(x.dtype(), dy.data(), dx.data(), v.outer, v.n, v.inner, scale, st(x));
    return std::vector<Tensor>{dx};
  });
}

Tensor reduce_all(const char* op, const Tensor& x, bool average) {
  AE_CHECK(x.defined(), op, ": undefined tensor");
  AE_CHECK(!average || x.numel() > 0, op, ": mean of an empty tensor ", x.shape());
  return reduce_axis(op, reshape(x, Shape{x.numel()}), 0, false, average);  // shape ()
}

}  // namespace

Tensor sum(const Tensor& x) { return reduce_all("sum", x, false); }
Tensor mean(const Tensor& x) { return reduce_all("mean", x, true); }
Tensor sum(const Tensor& x, int axis, bool keepdim) { return reduce_axis("sum", x, axis, keepdim, false); }
Tensor mean(const Tensor& x, int axis, bool keepdim) {
  return reduce_axis("mean", x, axis, keepdim, true);
}

}  // namespace ae
