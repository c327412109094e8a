// Every differentiable op of ae. Each is defined once, in core/ops/<family>.cpp, with its
// forward and its backward side by side; the forward dispatches to the tensor's backend.
//
// Shape rules are explicit, never silent: binary ops take equal shapes, or a 1-D bias of the
// last dimension's size on the right (row broadcast); anything else is an ae::Error that names
// the op and both shapes.
#pragma once
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace ae {

// --- elementwise: one kernel per list in kernels/types.h ----------------------------------------
Tensor unary(UnaryOp op, const Tensor& x, UnaryParams p = {});
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);

inline Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::log, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::square, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, x); }
inline Tensor abs(const Tensor& x) { return unary(UnaryOp::abs, x); }
inline Tensor pow(const Tensor& x, double exponent) { return unary(UnaryOp::pow, x, {exponent}); }
inline Tensor clamp(const Tensor& x, double lo, double hi) {
  return unary(UnaryOp::clamp, x, {lo, hi});
}
inline Tensor affine(const Tensor& x, double scale, double shift) {
  return unary(UnaryOp::affine, x, {scale, shift});
}
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, x); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, x); }
inline Tensor leaky_relu(const Tensor& x, double slope = 0.01) {
  return unary(UnaryOp::leaky_relu, x, {slope});
}
inline Tensor softplus(const Tensor& x) { return unary(UnaryOp::softplus, x); }
inline Tensor identity(const Tensor& x) { return unary(UnaryOp::identity, x); }

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }
// Tensor-scalar forms are the affine op.
inline Tensor add(const Tensor& a, double s) { return affine(a, 1, s); }
inline Tensor sub(const Tensor& a, double s) { return affine(a, 1, -s); }
inline Tensor mul(const Tensor& a, double s) { return affine(a, s, 0); }
inline Tensor div(const Tensor& a, double s) { return affine(a, 1 / s, 0); }

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// A clamp into (lo, hi) that keeps a gradient everywhere: the identity on
// [lo + margin, hi - margin]; past those bounds, by d, it approaches lo or hi as
// margin · d / (margin + |d|) (a softsign), so its derivative margin² / (margin + |d|)² falls off
// as 1/d², never to exactly 0 the way clamp's (and tanh's or softplus's, as e^{-d}) does, and a
// loss can still pull a value that ran far out back into range. Composed of clamp, abs and
// arithmetic, so it runs and differentiates on every backend. Needs margin > 0 and
// hi - lo > 2 margin.
inline Tensor soft_clamp(const Tensor& x, double lo, double hi, double margin) {
  const Tensor inner = clamp(x, lo + margin, hi - margin);
  const Tensor past = sub(x, inner);  // 0 inside, d outside
  return add(inner, mul(div(past, affine(abs(past), 1, margin)), margin));
}

// --- linear algebra -------------------------------------------------------------------------
// a (m, k) @ b (k, n) -> (m, n); trans_a / trans_b read a stored (k, m) / b stored (n, k).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
Tensor transpose(const Tensor& x);  // (rows, cols) -> (cols, rows)

// --- reductions -----------------------------------------------------------------------------
Tensor sum(const Tensor& x);                             // all elements -> shape ()
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);

// --- shape ----------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);     // shares storage
Tensor slice(const Tensor& x, int64_t start, int64_t stop);  // rows [start, stop) of dim 0
Tensor concat(const std::vector<Tensor>& xs, int axis);

// --- losses ---------------------------------------------------------------------------------
// How an elementwise loss is reduced. batch_mean sums over the features of each sample and
// averages over the batch (dim 0): the reduction every ae model uses.
enum class Reduction : uint8_t { none, sum, mean, batch_mean };

Tensor loss(LossOp op, const Tensor& pred, const Tensor& target, Reduction r);
inline Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::mean) {
  return loss(LossOp::squared_error, pred, target, r);
}
// ½ Σ (pred - target)²: the squared error of a Gaussian with unit variance (-log p up to a constant).
Tensor half_sse_loss(const Tensor& pred, const Tensor& target);
inline Tensor bce_loss(const Tensor& prob, const Tensor& target, Reduction r = Reduction::mean) {
  return loss(LossOp::bce, prob, target, r);
}
inline Tensor bce_with_logits_loss(const Tensor& logits, const Tensor& target,
                                   Reduction r = Reduction::mean) {
  return loss(LossOp::bce_with_logits, logits, target, r);
}
inline Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::mean) {
  return loss(LossOp::absolute_error, pred, target, r);
}
Tensor reduce(const Tensor& x, Reduction r);

// --- fused ops: one kernel where the unfused sequence would take several (core/ops/fused.cpp) --
// `act` is one of identity, sigmoid, tanh, relu, leaky_relu (slope p.a), softplus.
//
// A linear layer y = act(x op(W) + b): x (rows, in); W stored (out, in) when trans_w (the usual
// layer) or (in, out) when not (a tied decoder reusing its encoder's weight); b (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, UnaryOp act = UnaryOp::identity,
              UnaryParams p = {}, bool trans_w = true);
// KL sparsity of a sigmoid code h (rows, cols) towards a target mean activation rho: a scalar,
// sum_j KL(rho || rho_hat_j) with rho_hat_j the batch mean of unit j (clamped by kRhoEps).
Tensor kl_sparsity(const Tensor& h, double rho);
// Contractive penalty ||J_x(h)||_F^2 of a layer h = act(x Wᵀ + b), W (code, in), averaged over the
// batch, in closed form from h and W (no Jacobian is formed): 1/rows sum_i sum_k act'(h_ik)^2 |W_k|^2.
Tensor contractive_penalty(const Tensor& h, const Tensor& w, UnaryOp act, UnaryParams p = {});
// The reparameterization trick: z = mu + exp(logvar / 2) * eps, eps the Philox normals of
// (seed, offset) (the same on every device), and the closed-form KL(q(z|x) || N(0, I)) summed over
// features and averaged over the batch, from one kernel. eps is recomputed in backward, not stored.
struct Reparameterized {
  Tensor z;   // (rows, cols)
  Tensor kl;  // scalar
};
Reparameterized reparameterize(const Tensor& mu, const Tensor& logvar, uint64_t seed,
                               uint64_t offset);

// --- sparse codes (core/ops/sparse.cpp) ------------------------------------------------------
// A sparse autoencoder's code holds few active latents per row. It is kept as (rows, width)
// slots, each naming one latent (kernels/backend.h, "sparse codes"), so that the decoder reads
// and the gradients touch only the latents that fired: a step costs the dense encoder GEMM plus
// O(rows · width · dim), not three dense GEMMs.

// Which latents of the pre-activations pre = x Wᵀ + b (rows, latents) fire.
struct SparseSelection {
  enum class Kind : uint8_t {
    topk,        // the k largest of each row (Gao et al. 2024), after ReLU
    batch_topk,  // the k · rows largest of the batch (Bussmann et al. 2024), after ReLU
    threshold,   // pre ≥ threshold (one value, shape (), or one per latent), pre > 0
    jumprelu,    // pre ≥ exp(log_threshold_i) (Rajamanoharan et al. 2024), learned thresholds
  };
  Kind kind = Kind::topk;
  int64_t k = 0;       // topk, batch_topk
  Tensor threshold;    // threshold: () or (latents), no gradient; jumprelu: log θ (latents)
  double bandwidth = 0.001;  // jumprelu: ε, the rectangle kernel's width of the STE
};

// Which latent each slot holds: int32 (rows, width) on the code's device, -1 for an empty slot.
// The grouping of the slots by latent (for per-latent gradient sums) is made once, on first use.
struct SparseIndex {
  std::shared_ptr<Storage> index;
  int64_t rows = 0, width = 0, latents = 0;
  const int32_t* data() const { return static_cast<const int32_t*>(index->data); }
  std::vector<int32_t> to_host() const;  // (rows · width), row-major, read once from the device
  struct Grouping {
    std::shared_ptr<Storage> offsets, order;  // int32 (latents + 1), int32 (rows · width)
  };
  const Grouping& grouping() const;

 private:
  mutable std::shared_ptr<Grouping> grouping_;
};

struct SparseCode {
  Tensor values;                            // (rows, width), in the graph
  std::shared_ptr<const SparseIndex> index;
  Tensor l0;       // jumprelu: () the mean number of active latents, differentiable in log θ
  Tensor kth;      // batch_topk: () the batch's k · rows-th largest pre-activation
  int64_t rows() const { return index->rows; }
  int64_t latents() const { return index->latents; }
};

// The code of x (rows, d) under W (latents, d), b (latents): `pre` must equal x Wᵀ + b, made
// once without a graph (sparse_preactivation), so several selections share one GEMM. The
// values' gradient reaches x, W, b (and log θ) only at the slots: dW and db by per-latent sums,
// dx through W's selected rows.
SparseCode sparse_code(const Tensor& pre, const Tensor& x, const Tensor& w, const Tensor& b,
                       const SparseSelection& selection);
// pre = x Wᵀ + b (rows, latents), outside the graph, written into `reuse` when it is a tensor of
// that shape, dtype and device (a buffer kept from step to step: a large block is not cached by
// the CPU allocator, and fresh pages cost a fault each), else into a new tensor.
Tensor sparse_preactivation(const Tensor& x, const Tensor& w, const Tensor& b,
                            const Tensor& reuse = {});
// y (rows, cols) += b (cols) in every row, in place, outside the graph.
void add_rows_(const Tensor& y, const Tensor& b);
// x̂ (rows, d) = Σ_slots z · W[latent, :] + b, W (latents, d) the dictionary, b (d) or undefined.
Tensor sparse_decode(const SparseCode& z, const Tensor& w, const Tensor& b);
// The code as a dense (rows, latents) matrix, outside the graph.
Tensor to_dense(const SparseCode& z);
// A dictionary's rows at unit norm, in place and outside the graph (kernels/backend.h): each row
// of w (rows, cols) scaled to norm 1; and each row of g (the gradient of w, unit rows) stripped
// of its component along its row of w, so that a step along g keeps the norms to first order.
void normalize_rows_(const Tensor& w);
void project_out_rows_(const Tensor& w, const Tensor& g);

}  // namespace ae
