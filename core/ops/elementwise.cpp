// Elementwise ops: unary (y = f(x)) and binary (a op b, with an optional row-broadcast bias).
#include "core/ops/common.h"

namespace ae {
using namespace detail;

Tensor unary(UnaryOp op, const Tensor& x, UnaryParams p) {
  AE_CHECK(x.defined(), op_name(op), ": undefined tensor");
  Tensor y = empty_like(x);
  be(x).unary_forward(op, x.dtype(), x.data(), y.data(), x.numel(), p, st(x));
  return record(y, op_name(op), {x}, [op, p](const Tensor& dy, const Tensor& y, const Node& n) {
    const Tensor& x = n.inputs[0];
    Tensor dx = empty_like(x);
    be(x).unary_backward(op, x.dtype(), x.data(), y.data(), dy.data(), dx.data(), x.numel(), p,
                         st(x));
    return std::vector<Tensor>{dx};
  });
}

namespace {

// The layout of b against a: equal shapes, or a 1-D bias over a's last dimension.
Broadcast broadcast_of(BinaryOp op, const Tensor& a, const Tensor& b) {
  check_compatible(op_name(op), a, b);
  if (a.shape() == b.shape()) return Broadcast::none;
  AE_CHECK(a.ndim() >= 2 && b.ndim() == 1 && b.size(0) == a.size(-1), op_name(op),
           ": shapes ", a.shape(), " and ", b.shape(),
           " do not match (equal shapes, or a bias of the last dimension's size on the right)");
  return Broadcast::row;
}

// The gradient of a bias that was broadcast over rows: the column sums of g.
Tensor unbroadcast(const Tensor& g, Broadcast bc, const Shape& b_shape) {
  if (bc == Broadcast::none) return g;
  return sum(reshape(g, Shape{g.numel() / b_shape[0], b_shape[0]}), 0);
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  Broadcast bc = broadcast_of(op, a, b);
  int64_t cols = bc == Broadcast::row ? b.numel() : a.numel();
  int64_t rows = cols ? a.numel() / cols : 0;
  Tensor y = empty_like(a);
  be(a).binary_forward(op, a.dtype(), a.data(), b.data(), y.data(), rows, cols, bc, st(a));
  return record(y, op_name(op), {a, b}, [op, bc](const Tensor& dy, const Tensor& y, const Node& n) {
    const Tensor& a = n.inputs[0];
    const Tensor& b = n.inputs[1];
    Tensor da, db;
    switch (op) {
      case BinaryOp::add:
        da = dy;
        if (n.needs_grad(1)) db = unbroadcast(dy, bc, b.shape());
        break;
      case BinaryOp::sub:
        da = dy;
        if (n.needs_grad(1)) db = neg(unbroadcast(dy, bc, b.shape()));
        break;
      case BinaryOp::mul:
        if (n.needs_grad(0)) da = mul(dy, b);
        if (n.needs_grad(1)) db = unbroadcast(mul(dy, a), bc, b.shape());
        break;
      case BinaryOp::div:  // y = a / b: da = dy / b, db = -dy * y / b
        if (n.needs_grad(0)) da = div(dy, b);
        if (n.needs_grad(1)) db = neg(unbroadcast(div(mul(dy, y), b), bc, b.shape()));
        break;
    }
    return std::vector<Tensor>{da, db};
  });
}

}  // namespace ae
