// Shape ops: reshape and slice are views of the same storage; concat copies.
#include "core/ops/common.h"

namespace ae {
using namespace detail;

namespace {
Tensor view(const Tensor& x, const Shape& shape, size_t byte_offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->offset = x.impl()->offset + byte_offset;
  impl->shape = shape;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  AE_CHECK(x.defined(), "reshape: undefined tensor");
  AE_CHECK(shape.numel() == x.numel(), "reshape: ", x.shape(), " (", x.numel(),
           " elements) to ", shape, " (", shape.numel(), " elements)");
  if (shape == x.shape()) return x;
  return record(view(x, shape, 0), "reshape", {x},
                [](const Tensor& dy, const Tensor&, const Node& n) {
                  return std::vector<Tensor>{reshape(dy, n.inputs[0].shape())};
                });
}

Tensor slice(const Tensor& x, int64_t start, int64_t stop) {
  AE_CHECK(x.defined() && x.ndim() >= 1, "slice: needs at least 1 dim");
  int64_t rows = x.size(0);
  AE_CHECK(0 <= start && start <= stop && stop <= rows, "slice: rows [", start, ", ", stop,
           ") out of range for shape ", x.shape());
  std::vector<int64_t> dims = x.shape().dims();
  dims[0] = stop - start;
  int64_t row_elems = rows ? x.numel() / rows : 0;
  Tensor y = view(x, Shape(dims), start * row_elems * dtype_size(x.dtype()));
  return record(y, "slice", {x}, [start, row_elems](const Tensor& dy, const Tensor&, const Node& n) {
    const Tensor& x = n.inputs[0];
    Tensor dx = Tensor::zeros(x.shape(), x.dtype(), x.device());
    be(x).copy_block(x.dtype(), dy.data(), row_elems,
                     static_cast<char*>(dx.data()) + start * row_elems * dtype_size(x.dtype()),
                     row_elems, dy.size(0), row_elems, st(x));
    return std::vector<Tensor>{dx};
  });
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  AE_CHECK(!xs.empty(), "concat: no tensors");
  const Tensor& first = xs[0];
  int a = checked_axis("concat", first, axis);
  int64_t total = 0;
  for (const Tensor& x : xs) {
    check_compatible("concat", first, x);
    bool same = x.ndim() == first.ndim();
    for (int i = 0; same && i < x.ndim(); ++i) same = i == a || x.size(i) == first.size(i);
    AE_CHECK(same, "concat: shapes ", first.shape(), " and ", x.shape(), " differ off axis ", a);
    total += x.size(a);
  }
  std::vector<int64_t> dims = first.shape().dims();
  dims[a] = total;
  Tensor y = empty_like(first, Shape(dims));
  // Each input is an (outer, n_i * inner) block placed at a column offset of y's (outer, total * inner).
  AxisView v = axis_view(first.shape(), a);
  const size_t es = dtype_size(first.dtype());
  int64_t col = 0;
  std::vector<int64_t> offsets;
  for (const Tensor& x : xs) {
    int64_t w = x.size(a) * v.inner;
    be(x).copy_block(x.dtype(), x.data(), w, static_cast<char*>(y.data()) + col * es,
                     total * v.inner, v.outer, w, st(x));
    offsets.push_back(col);
    col += w;
  }
  return record(y, "concat", xs, [a, v, total, offsets](const Tensor& dy, const Tensor&, const Node& n) {
    std::vector<Tensor> dxs;
    const size_t es = dtype_size(dy.dtype());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!n.needs_grad(i)) {
        dxs.emplace_back();
        continue;
      }
      const Tensor& x = n.inputs[i];
      int64_t w = x.size(a) * v.inner;
      Tensor dx = empty_like(x);
      be(x).copy_block(x.dtype(), static_cast<const char*>(dy.data()) + offsets[i] * es,
                       total * v.inner, dx.data(), w, v.outer, w, st(x));
      dxs.push_back(dx);
    }
    return dxs;
  });
}

}  // namespace ae
