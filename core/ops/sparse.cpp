// Sparse codes: selection of the latents that fire, the decoder over them, and gradients that
// touch only those latents (kernels/backend.h, "sparse codes").
#include <algorithm>
#include <cmath>

#include "core/ops/common.h"

namespace ae {
using namespace detail;

namespace {

std::shared_ptr<Storage> int_buffer(int64_t count, Device d) {
  return std::make_shared<Storage>(static_cast<size_t>(std::max<int64_t>(count, 1)) * 4, d);
}

std::vector<int32_t> read_ints(const Storage& s, int64_t count) {
  std::vector<int32_t> out(static_cast<size_t>(count));
  if (count == 0) return out;
  const Backend& b = backend(s.device);
  b.copy(out.data(), s.data, out.size() * 4, CopyKind::device_to_host, stream(s.device));
  b.synchronize(stream(s.device));
  return out;
}

void check_matrix(const char* op, const Tensor& t, const char* what) {
  AE_CHECK(t.defined() && t.ndim() == 2, op, ": ", what, " must be 2-D, got ",
           t.defined() ? t.shape().str() : "undefined");
}

void check_sparse_kernels(const char* op, const Tensor& t) {
  AE_CHECK(be(t).topk_rows != nullptr, op, ": the ", be(t).name,
           " backend has no sparse-code kernels");
}

// The values' backward: the gradient of pre at each slot, then x, W, b (and log θ) from it.
std::vector<Tensor> code_backward(const Tensor& dv, const Tensor& values, const SparseIndex& idx,
                                  const Tensor& x_at, const SparseSelection::Kind kind,
                                  double bandwidth, const Node& n) {
  const Tensor& x = n.inputs[0];
  const Tensor& w = n.inputs[1];
  const Tensor& b = n.inputs[2];
  const int64_t rows = idx.rows, width = idx.width, latents = idx.latents, dim = x.size(1);
  // pre reaches a value only where the latent fired (value > 0): ReLU's derivative at the value.
  Tensor dpre = empty_like(values);
  be(values).unary_backward(UnaryOp::relu, values.dtype(), values.data(), values.data(),
                            dv.data(), dpre.data(), values.numel(), {}, st(values));
  const SparseIndex::Grouping& g = idx.grouping();
  const auto* offsets = static_cast<const int32_t*>(g.offsets->data);
  const auto* order = static_cast<const int32_t*>(g.order->data);
  Tensor dx, dw, db, dlog_theta;
  if (n.needs_grad(0)) {
    dx = empty_like(x);
    be(x).sparse_decode(x.dtype(), dpre.data(), idx.data(), rows, width, w.data(), dim, nullptr,
                        dx.data(), st(x));
  }
  Tensor w_into = grad_accumulator(n, 1);
  Tensor b_into = grad_accumulator(n, 2);
  if (!w_into.defined() && n.needs_grad(1)) dw = empty_like(w);
  if (!b_into.defined() && n.needs_grad(2)) db = empty_like(b);
  void* w_out = w_into.defined() ? w_into.data() : dw.defined() ? dw.data() : nullptr;
  void* b_out = b_into.defined() ? b_into.data() : db.defined() ? db.data() : nullptr;
  // One call for both, accumulating (beta 1) into an optimizer's buffer or writing (beta 0) a
  // fresh gradient; when only one of them accumulates, the other is written by a second call.
  const bool same_beta = w_into.defined() == b_into.defined();
  if (w_out && b_out && same_beta) {
    be(x).sparse_outer_grad(x.dtype(), dpre.data(), offsets, order, width, x.data(), latents, dim,
                            w_into.defined() ? 1.0 : 0.0, w_out, b_out, st(x));
  } else {
    if (w_out)
      be(x).sparse_outer_grad(x.dtype(), dpre.data(), offsets, order, width, x.data(), latents,
                              dim, w_into.defined() ? 1.0 : 0.0, w_out, nullptr, st(x));
    if (b_out)
      be(x).sparse_outer_grad(x.dtype(), dpre.data(), offsets, order, width, x.data(), latents,
                              0, b_into.defined() ? 1.0 : 0.0, nullptr, b_out, st(x));
  }
  if (kind == SparseSelection::Kind::jumprelu && n.needs_grad(3)) {
    const Tensor& log_theta = n.inputs[3];
    Tensor per_slot = empty_like(values);
    be(x).jumprelu_threshold_grad(x.dtype(), dv.data(), nullptr, x_at.data(), idx.data(), rows,
                                  width, log_theta.data(), bandwidth, per_slot.data(), st(x));
    dlog_theta = empty_like(log_theta);
    be(x).sparse_outer_grad(x.dtype(), per_slot.data(), offsets, order, width, nullptr, latents,
                            0, 0.0, nullptr, dlog_theta.data(), st(x));
  }
  std::vector<Tensor> grads{dx, dw, db};
  if (kind == SparseSelection::Kind::jumprelu) grads.push_back(dlog_theta);
  return grads;
}

}  // namespace

std::vector<int32_t> SparseIndex::to_host() const { return read_ints(*index, rows * width); }

const SparseIndex::Grouping& SparseIndex::grouping() const {
  if (!grouping_) {
    auto g = std::make_shared<Grouping>();
    g->offsets = int_buffer(latents + 1, index->device);
    g->order = int_buffer(rows * width, index->device);
    backend(index->device)
        .group_by_latent(data(), rows * width, latents, static_cast<int32_t*>(g->offsets->data),
                         static_cast<int32_t*>(g->order->data), stream(index->device));
    grouping_ = std::move(g);
  }
  return *grouping_;
}

Tensor sparse_preactivation(const Tensor& x, const Tensor& w, const Tensor& b,
                            const Tensor& reuse) {
  const char* op = "sparse_preactivation";
  check_matrix(op, x, "x");
  check_matrix(op, w, "W");
  check_compatible(op, x, w);
  check_compatible(op, x, b);
  AE_CHECK(x.size(1) == w.size(1) && b.ndim() == 1 && b.size(0) == w.size(0), op, ": x ",
           x.shape(), ", W ", w.shape(), " and b ", b.shape(), " do not fit x Wᵀ + b");
  const int64_t rows = x.size(0), latents = w.size(0);
  // b in every row, then the GEMM adds x Wᵀ onto it (beta = 1): one pass over the (rows,
  // latents) result besides the GEMM's, where a GEMM and a bias epilogue would take two.
  const Shape shape{rows, latents};
  Tensor pre = reuse.defined() && reuse.shape() == shape && reuse.dtype() == x.dtype() &&
                       reuse.device() == x.device()
                   ? reuse
                   : empty_like(x, shape);
  be(x).expand(x.dtype(), b.data(), pre.data(), 1, rows, latents, 1.0, st(x));
  be(x).gemm(x.dtype(), false, true, rows, latents, x.size(1), 1.0, x.data(), w.data(), 1.0,
             pre.data(), st(x));
  return pre;
}

SparseCode sparse_code(const Tensor& pre, const Tensor& x, const Tensor& w, const Tensor& b,
                       const SparseSelection& s) {
  const char* op = "sparse_code";
  check_matrix(op, pre, "pre");
  check_matrix(op, x, "x");
  check_matrix(op, w, "W");
  check_compatible(op, pre, x);
  check_compatible(op, x, w);
  check_compatible(op, x, b);
  check_sparse_kernels(op, x);
  const int64_t rows = pre.size(0), latents = pre.size(1);
  AE_CHECK(x.size(0) == rows && w.size(0) == latents && w.size(1) == x.size(1) &&
               b.ndim() == 1 && b.size(0) == latents,
           op, ": pre ", pre.shape(), ", x ", x.shape(), ", W ", w.shape(), " and b ", b.shape(),
           " do not fit pre = x Wᵀ + b");
  AE_CHECK(latents < (int64_t(1) << 31), op, ": ", latents, " latents exceed the int32 index");
  using Kind = SparseSelection::Kind;
  const Backend& B = be(x);
  auto idx = std::make_shared<SparseIndex>();
  idx->rows = rows;
  idx->latents = latents;
  SparseCode code;
  Tensor values, x_at;
  Tensor threshold;  // device buffer for the threshold kinds
  bool per_latent = false;
  double band = 0;
  switch (s.kind) {
    case Kind::topk: {
      AE_CHECK(s.k >= 1 && s.k <= latents, op, ": k = ", s.k, " must lie in [1, ", latents,
               "] (the latents)");
      idx->width = s.k;
      idx->index = int_buffer(rows * s.k, x.device());
      values = empty_like(x, Shape{rows, s.k});
      B.topk_rows(x.dtype(), pre.data(), rows, latents, s.k, values.data(),
                  static_cast<int32_t*>(idx->index->data), st(x));
      break;
    }
    case Kind::batch_topk: {
      AE_CHECK(s.k >= 1 && s.k <= latents, op, ": k = ", s.k, " must lie in [1, ", latents,
               "] (the latents)");
      AE_CHECK(rows > 0, op, ": batch_topk needs a non-empty batch");
      threshold = empty_like(x, Shape{});
      B.kth_largest(x.dtype(), pre.data(), rows * latents, s.k * rows, threshold.data(), st(x));
      code.kth = threshold;
      break;
    }
    case Kind::threshold:
      AE_CHECK(s.threshold.defined() &&
                   (s.threshold.numel() == 1 ||
                    (s.threshold.ndim() == 1 && s.threshold.size(0) == latents)),
               op, ": the threshold must hold one value or one per latent (", latents, "), got ",
               s.threshold.defined() ? s.threshold.shape().str() : "none");
      check_compatible(op, x, s.threshold);
      threshold = s.threshold.detach();
      per_latent = s.threshold.numel() != 1 || latents == 1;
      break;
    case Kind::jumprelu: {
      AE_CHECK(s.threshold.defined() && s.threshold.ndim() == 1 && s.threshold.size(0) == latents,
               op, ": jumprelu needs log θ of shape (", latents, "), got ",
               s.threshold.defined() ? s.threshold.shape().str() : "none");
      AE_CHECK(s.bandwidth > 0, op, ": the bandwidth ε must be positive, got ", s.bandwidth);
      check_compatible(op, x, s.threshold);
      NoGradGuard no_grad;
      threshold = exp(s.threshold.detach());
      per_latent = true;
      band = s.bandwidth / 2;
      break;
    }
  }
  if (s.kind != Kind::topk) {
    auto counts_buf = int_buffer(rows, x.device());
    B.threshold_count(x.dtype(), pre.data(), rows, latents, threshold.data(), per_latent, band,
                      static_cast<int32_t*>(counts_buf->data), st(x));
    const std::vector<int32_t> counts = read_ints(*counts_buf, rows);
    const int64_t width =
        std::max<int64_t>(1, counts.empty() ? 1 : *std::max_element(counts.begin(), counts.end()));
    AE_CHECK(rows * width < (int64_t(1) << 31), op, ": ", rows, " rows of ", width,
             " active latents exceed the int32 slot index; use a smaller batch");
    idx->width = width;
    idx->index = int_buffer(rows * width, x.device());
    values = empty_like(x, Shape{rows, width});
    if (s.kind == Kind::jumprelu) x_at = empty_like(x, Shape{rows, width});
    B.threshold_select(x.dtype(), pre.data(), rows, latents, threshold.data(), per_latent, band,
                       width, values.data(), x_at.defined() ? x_at.data() : nullptr,
                       static_cast<int32_t*>(idx->index->data), st(x));
  }
  code.index = idx;
  const Kind kind = s.kind;
  const double bandwidth = s.bandwidth;
  std::vector<Tensor> inputs{x, w, b};
  if (kind == Kind::jumprelu) inputs.push_back(s.threshold);
  code.values = record(values, "sparse_code", inputs,
                       [idx, x_at, kind, bandwidth](const Tensor& dv, const Tensor& y,
                                                    const Node& n) {
                         return code_backward(dv, y, *idx, x_at, kind, bandwidth, n);
                       });
  if (kind == Kind::jumprelu) {
    Tensor l0 = empty_like(x, Shape{});
    B.jumprelu_l0(x.dtype(), values.data(), rows * idx->width, rows, l0.data(), st(x));
    code.l0 = record(l0, "jumprelu_l0", {s.threshold},
                     [idx, x_at, bandwidth](const Tensor& dl0, const Tensor&, const Node& n) {
                       const Tensor& log_theta = n.inputs[0];
                       const SparseIndex::Grouping& g = idx->grouping();
                       Tensor per_slot = empty_like(log_theta, Shape{idx->rows, idx->width});
                       be(log_theta).jumprelu_threshold_grad(
                           log_theta.dtype(), nullptr, dl0.data(), x_at.data(), idx->data(),
                           idx->rows, idx->width, log_theta.data(), bandwidth, per_slot.data(),
                           st(log_theta));
                       Tensor d = empty_like(log_theta);
                       be(log_theta).sparse_outer_grad(
                           log_theta.dtype(), per_slot.data(),
                           static_cast<const int32_t*>(g.offsets->data),
                           static_cast<const int32_t*>(g.order->data), idx->width, nullptr,
                           idx->latents, 0, 0.0, nullptr, d.data(), st(log_theta));
                       return std::vector<Tensor>{d};
                     });
  }
  return code;
}

Tensor sparse_decode(const SparseCode& z, const Tensor& w, const Tensor& b) {
  const char* op = "sparse_decode";
  AE_CHECK(z.index && z.values.defined(), op, ": undefined code");
  check_matrix(op, w, "W");
  check_compatible(op, z.values, w);
  check_sparse_kernels(op, w);
  const SparseIndex& idx = *z.index;
  AE_CHECK(w.size(0) == idx.latents, op, ": W ", w.shape(), " for a code of ", idx.latents,
           " latents (W is (latents, dim))");
  const int64_t dim = w.size(1);
  if (b.defined()) {
    check_compatible(op, w, b);
    AE_CHECK(b.ndim() == 1 && b.size(0) == dim, op, ": bias ", b.shape(), " for ", dim,
             " outputs");
  }
  Tensor y = empty_like(w, Shape{idx.rows, dim});
  be(w).sparse_decode(w.dtype(), z.values.data(), idx.data(), idx.rows, idx.width, w.data(), dim,
                      b.defined() ? b.data() : nullptr, y.data(), st(w));
  auto index = z.index;
  return record(y, "sparse_decode", {z.values, w, b},
                [index](const Tensor& dy, const Tensor&, const Node& n) {
                  const SparseIndex& idx = *index;
                  const Tensor& values = n.inputs[0];
                  const Tensor& w = n.inputs[1];
                  const int64_t dim = w.size(1);
                  Tensor dv, dw, db;
                  if (n.needs_grad(0)) {
                    dv = empty_like(values);
                    be(w).sparse_decode_backward(w.dtype(), dy.data(), idx.data(), idx.rows,
                                                 idx.width, w.data(), dim, dv.data(), st(w));
                  }
                  Tensor into = grad_accumulator(n, 1);
                  if (!into.defined() && n.needs_grad(1)) dw = empty_like(w);
                  if (into.defined() || dw.defined()) {
                    const SparseIndex::Grouping& g = idx.grouping();
                    be(w).sparse_outer_grad(w.dtype(), values.data(),
                                            static_cast<const int32_t*>(g.offsets->data),
                                            static_cast<const int32_t*>(g.order->data),
                                            idx.width, dy.data(), idx.latents, dim,
                                            into.defined() ? 1.0 : 0.0,
                                            into.defined() ? into.data() : dw.data(), nullptr,
                                            st(w));
                  }
                  if (n.needs_grad(2)) db = sum(dy, 0);
                  return std::vector<Tensor>{dv, dw, db};
                });
}

Tensor to_dense(const SparseCode& z) {
  AE_CHECK(z.index && z.values.defined(), "to_dense: undefined code");
  const SparseIndex& idx = *z.index;
  Tensor y = empty_like(z.values, Shape{idx.rows, idx.latents});
  be(y).sparse_to_dense(y.dtype(), z.values.data(), idx.data(), idx.rows, idx.width, idx.latents,
                        y.data(), st(y));
  return y;
}

void add_rows_(const Tensor& y, const Tensor& b) {
  check_matrix("add_rows_", y, "y");
  check_compatible("add_rows_", y, b);
  AE_CHECK(b.ndim() == 1 && b.size(0) == y.size(1), "add_rows_: b ", b.shape(), " for rows of ",
           y.size(1));
  be(y).binary_forward(BinaryOp::add, y.dtype(), y.data(), b.data(), y.data(), y.size(0),
                       y.size(1), Broadcast::row, st(y));
}

void normalize_rows_(const Tensor& w) {
  check_matrix("normalize_rows_", w, "W");
  be(w).row_normalize(w.dtype(), w.data(), w.size(0), w.size(1), st(w));
}

void project_out_rows_(const Tensor& w, const Tensor& g) {
  check_matrix("project_out_rows_", w, "W");
  check_compatible("project_out_rows_", w, g);
  AE_CHECK(w.shape() == g.shape(), "project_out_rows_: W ", w.shape(), " and its gradient ",
           g.shape(), " differ");
  be(w).row_project_out(w.dtype(), w.data(), g.data(), w.size(0), w.size(1), st(w));
}

}  // namespace ae
