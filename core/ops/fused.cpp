// Fused ops: each forward is one kernel (plus the GEMM for linear); each backward one more.
#include "core/ops/common.h"
#include "kernels/fused_checks.h"

namespace ae {
using namespace detail;

namespace {
void check_matrix(const char* op, const Tensor& t, const char* what) {
  AE_CHECK(t.defined() && t.ndim() == 2, op, ": ", what, " must be 2-D, got ",
           t.defined() ? t.shape().str() : "undefined");
}
}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, UnaryOp act, UnaryParams p,
              bool trans_w) {
  fused::check_activation("linear", act);  // before the GEMM is queued
  check_matrix("linear", x, "x");
  check_matrix("linear", w, "W");
  check_compatible("linear", x, w);
  const int64_t in = trans_w ? w.size(1) : w.size(0);
  const int64_t out = trans_w ? w.size(0) : w.size(1);
  AE_CHECK(x.size(1) == in, "linear: x ", x.shape(), " does not fit W ", w.shape(),
           trans_w ? " (out, in)" : " (in, out)");
  if (b.defined()) {
    check_compatible("linear", x, b);
    AE_CHECK(b.ndim() == 1 && b.size(0) == out, "linear: bias ", b.shape(), " for ", out,
             " outputs");
  }
  const int64_t rows = x.size(0);
  Tensor y = empty_like(x, Shape{rows, out});
  be(x).gemm(x.dtype(), false, trans_w, rows, out, in, 1.0, x.data(), w.data(), 0.0, y.data(),
             st(x));
  be(x).bias_act_forward(act, x.dtype(), y.data(), b.defined() ? b.data() : nullptr, rows, out, p,
                         st(x));
  return record(y, "linear", {x, w, b}, [act, p, trans_w](const Tensor& dy, const Tensor& y, const Node& n) {
    const Tensor& x = n.inputs[0];
    const Tensor& w = n.inputs[1];
    const Tensor& b = n.inputs[2];
    Tensor dz = empty_like(y);
    Tensor db = n.needs_grad(2) ? empty_like(b) : Tensor();
    be(y).bias_act_backward(act, y.dtype(), y.data(), dy.data(), dz.data(),
                            db.defined() ? db.data() : nullptr, y.size(0), y.size(1), p, st(y));
    Tensor dx, dw;
    if (n.needs_grad(0)) dx = matmul(dz, w, false, !trans_w);
    if (Tensor into = grad_accumulator(n, 1); into.defined()) {
      // Added by the GEMM itself (beta = 1): no gradient tensor, no pass that zeroes it, no
      // separate addition into the optimizer's buffer.
      const int64_t rows = x.size(0), in = x.size(1), out = y.size(1);
      if (trans_w)
        be(x).gemm(x.dtype(), true, false, out, in, rows, 1.0, dz.data(), x.data(), 1.0,
                   into.data(), st(x));
      else
        be(x).gemm(x.dtype(), true, false, in, out, rows, 1.0, x.data(), dz.data(), 1.0,
                   into.data(), st(x));
    } else if (n.needs_grad(1)) {
      dw = trans_w ? matmul(dz, x, true, false) : matmul(x, dz, true, false);
    }
    return std::vector<Tensor>{dx, dw, db};
  });
}

Tensor kl_sparsity(const Tensor& h, double rho) {
  check_matrix("kl_sparsity", h, "the code h");
  AE_CHECK(rho > 0 && rho < 1, "kl_sparsity: the target rho must lie in (0, 1), got ", rho);
  AE_CHECK(h.size(0) > 0, "kl_sparsity: empty batch ", h.shape());
  Tensor rho_hat = empty_like(h, Shape{h.size(1)});
  Tensor loss = empty_like(h, Shape{});
  be(h).kl_sparsity_forward(h.dtype(), h.data(), h.size(0), h.size(1), rho, rho_hat.data(),
                            loss.data(), st(h));
  return record(loss, "kl_sparsity", {h}, [rho, rho_hat](const Tensor& dy, const Tensor&, const Node& n) {
    const Tensor& h = n.inputs[0];
    Tensor dh = empty_like(h);
    be(h).kl_sparsity_backward(h.dtype(), rho_hat.data(), dy.data(), h.size(0), h.size(1), rho,
                               dh.data(), st(h));
    return std::vector<Tensor>{dh};
  });
}

Tensor contractive_penalty(const Tensor& h, const Tensor& w, UnaryOp act, UnaryParams p) {
  fused::check_activation("contractive_penalty", act);
  check_matrix("contractive_penalty", h, "the code h");
  check_matrix("contractive_penalty", w, "W");
  check_compatible("contractive_penalty", h, w);
  AE_CHECK(h.size(1) == w.size(0), "contractive_penalty: code ", h.shape(), " does not fit W ",
           w.shape(), " (code, in)");
  AE_CHECK(h.size(0) > 0, "contractive_penalty: empty batch ", h.shape());
  Tensor w_sq = empty_like(w, Shape{w.size(0)});
  Tensor loss = empty_like(h, Shape{});
  be(h).contractive_forward(act, h.dtype(), h.data(), w.data(), h.size(0), w.size(0), w.size(1), p,
                            w_sq.data(), loss.data(), st(h));
  return record(loss, "contractive_penalty", {h, w},
                [act, p, w_sq](const Tensor& dy, const Tensor&, const Node& n) {
                  const Tensor& h = n.inputs[0];
                  const Tensor& w = n.inputs[1];
                  Tensor dh = n.needs_grad(0) ? empty_like(h) : Tensor();
                  Tensor dw = n.needs_grad(1) ? empty_like(w) : Tensor();
                  be(h).contractive_backward(act, h.dtype(), h.data(), w.data(), w_sq.data(),
                                             dy.data(), h.size(0), w.size(0), w.size(1), p,
                                             dh.defined() ? dh.data() : nullptr,
                                             dw.defined() ? dw.data() : nullptr, st(h));
                  return std::vector<Tensor>{dh, dw};
                });
}

Reparameterized reparameterize(const Tensor& mu, const Tensor& logvar, uint64_t seed,
                               uint64_t offset) {
  check_matrix("reparameterize", mu, "mu");
  check_compatible("reparameterize", mu, logvar);
  AE_CHECK(mu.shape() == logvar.shape(), "reparameterize: mu ", mu.shape(), " and logvar ",
           logvar.shape(), " differ");
  AE_CHECK(mu.size(0) > 0, "reparameterize: empty batch ", mu.shape());
  const int64_t rows = mu.size(0), cols = mu.size(1);
  Tensor z = empty_like(mu);
  Tensor kl = empty_like(mu, Shape{});
  be(mu).reparameterize_forward(mu.dtype(), mu.data(), logvar.data(), z.data(), kl.data(), rows,
                                cols, seed, offset, st(mu));
  // Two outputs, two nodes: each backward passes its own upstream gradient and a null for the other.
  auto backward = [seed, offset](bool from_z) {
    return [seed, offset, from_z](const Tensor& dy, const Tensor&, const Node& n) {
      const Tensor& mu = n.inputs[0];
      const Tensor& logvar = n.inputs[1];
      Tensor dmu = n.needs_grad(0) ? empty_like(mu) : Tensor();
      Tensor dlogvar = n.needs_grad(1) ? empty_like(logvar) : Tensor();
      be(mu).reparameterize_backward(mu.dtype(), mu.data(), logvar.data(),
                                     from_z ? dy.data() : nullptr, from_z ? nullptr : dy.data(),
                                     mu.size(0), mu.size(1), seed, offset,
                                     dmu.defined() ? dmu.data() : nullptr,
                                     dlogvar.defined() ? dlogvar.data() : nullptr, st(mu));
      return std::vector<Tensor>{dmu, dlogvar};
    };
  };
  return {record(z, "reparameterize", {mu, logvar}, backward(true)),
          record(kl, "gaussian_kl", {mu, logvar}, backward(false))};
}

}  // namespace ae
