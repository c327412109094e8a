// Matrix product (cuBLAS / CPU GEMM) and 2-D transpose.
#include "core/ops/common.h"

namespace ae {
using namespace detail;

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_compatible("matmul", a, b);
  AE_CHECK(a.ndim() == 2 && b.ndim() == 2, "matmul: needs 2-D operands, got ", a.shape(), " and ",
           b.shape());
  int64_t m = trans_a ? a.size(1) : a.size(0);
  int64_t k = trans_a ? a.size(0) : a.size(1);
  int64_t kb = trans_b ? b.size(1) : b.size(0);
  int64_t n = trans_b ? b.size(0) : b.size(1);
  AE_CHECK(k == kb, "matmul: inner dimensions differ, ", a.shape(), trans_a ? "ᵀ" : "", " @ ",
           b.shape(), trans_b ? "ᵀ" : "", " (", k, " vs ", kb, ")");
  Tensor y = empty_like(a, Shape{m, n});
  be(a).gemm(a.dtype(), trans_a, trans_b, m, n, k, 1.0, a.data(), b.data(), 0.0, y.data(), st(a));
  return record(y, "matmul", {a, b},
                [trans_a, trans_b](const Tensor& dy, const Tensor&, const Node& n) {
                  const Tensor& a = n.inputs[0];
                  const Tensor& b = n.inputs[1];
                  // With A' = op(A), B' = op(B): dA' = dy B'ᵀ and dB' = A'ᵀ dy, stored back in
                  // the operands' own layouts.
                  Tensor da, db;
                  if (n.needs_grad(0))
                    da = trans_a ? matmul(b, dy, trans_b, true) : matmul(dy, b, false, !trans_b);
                  if (n.needs_grad(1))
                    db = trans_b ? matmul(dy, a, true, trans_a) : matmul(a, dy, !trans_a, false);
                  return std::vector<Tensor>{da, db};
                });
}

Tensor transpose(const Tensor& x) {
  AE_CHECK(x.ndim() == 2, "transpose: needs a 2-D tensor, got ", x.shape());
  Tensor y = empty_like(x, Shape{x.size(1), x.size(0)});
  be(x).transpose(x.dtype(), x.data(), y.data(), x.size(0), x.size(1), st(x));
  return record(y, "transpose", {x}, [](const Tensor& dy, const Tensor&, const Node&) {
    return std::vector<Tensor>{transpose(dy)};
  });
}

}  // namespace ae
