// Losses: an elementwise kernel l(pred, target) followed by a reduction. The target is data:
// no gradient flows to it.
#include "core/ops/common.h"

namespace ae {
using namespace detail;

Tensor reduce(const Tensor& x, Reduction r) {
  switch (r) {
    case Reduction::none: return x;
    case Reduction::sum: return sum(x);
    case Reduction::mean: return mean(x);
    case Reduction::batch_mean:
      AE_CHECK(x.ndim() >= 1 && x.size(0) > 0, "batch_mean: needs a non-empty batch, got ",
               x.shape());
      return sum(x) * (1.0 / static_cast<double>(x.size(0)));
  }
  fail("reduce: unknown reduction");
}

Tensor loss(LossOp op, const Tensor& pred, const Tensor& target, Reduction r) {
  check_compatible(op_name(op), pred, target);
  AE_CHECK(pred.shape() == target.shape(), op_name(op), ": prediction ", pred.shape(),
           " and target ", target.shape(), " differ");
  AE_CHECK(!target.requires_grad(), op_name(op),
           ": the target requires grad; losses differentiate the prediction only (detach it)");
  Tensor y = empty_like(pred);
  be(pred).loss_forward(op, pred.dtype(), pred.data(), target.data(), y.data(), pred.numel(),
                        st(pred));
  Tensor elementwise = record(y, op_name(op), {pred, target},
                              [op](const Tensor& dy, const Tensor&, const Node& n) {
                                const Tensor& p = n.inputs[0];
                                const Tensor& t = n.inputs[1];
                                Tensor dp = empty_like(p);
                                be(p).loss_backward(op, p.dtype(), p.data(), t.data(), dy.data(),
                                                    dp.data(), p.numel(), st(p));
                                return std::vector<Tensor>{dp, Tensor()};
                              });
  return reduce(elementwise, r);
}

Tensor half_sse_loss(const Tensor& pred, const Tensor& target) {
  return loss(LossOp::squared_error, pred, target, Reduction::sum) * 0.5;
}

}  // namespace ae
