#include "models/penalties.h"

#include <cmath>

#include "core/error.h"

namespace ae::models {

namespace {

// Σ over the selected parameters of elementwise(p), times lambda; a zero scalar when none.
template <class F>
Tensor sum_over(const std::vector<Parameter>& params, double lambda, bool include_biases,
                const char* name, F elementwise) {
  AE_CHECK(!params.empty(), name, ": no parameters");
  Tensor total;
  for (const Parameter& p : params) {
    if (!p.is_weight && !include_biases) continue;
    Tensor s = sum(elementwise(p.value));
    total = total.defined() ? total + s : s;
  }
  const Tensor& any = params.front().value;
  if (!total.defined()) return Tensor::zeros(Shape{}, any.dtype(), any.device());
  return total * lambda;
}

void check_code(const char* name, const Tensor& h) {
  AE_CHECK(h.ndim() == 2 && h.size(0) > 0, name, ": code must be (batch, units), got ", h.shape());
}

}  // namespace

Tensor l2_penalty(const std::vector<Parameter>& params, double lambda, bool include_biases) {
  return sum_over(params, lambda, include_biases, "l2_penalty",
                  [](const Tensor& w) { return square(w); });
}

Tensor l1_penalty(const std::vector<Parameter>& params, double lambda, bool include_biases) {
  return sum_over(params, lambda, include_biases, "l1_penalty",
                  [](const Tensor& w) { return abs(w); });
}

Tensor l1_code_penalty(const Tensor& h, double lambda) {
  check_code("l1_code_penalty", h);
  return reduce(abs(h), Reduction::batch_mean) * lambda;
}

Tensor kl_sparsity_penalty(const Tensor& h, double rho, double beta) {
  check_code("kl_sparsity_penalty", h);
  return kl_sparsity(h, rho) * beta;
}

Tensor jacobian_penalty(const Tensor& h, const Tensor& weight, Activation act, double lambda) {
  check_code("jacobian_penalty", h);
  return contractive_penalty(h, weight, unary_op(act), unary_params(act)) * lambda;
}

Tensor gaussian_kl(const Tensor& mu, const Tensor& logvar, Reduction r) {
  AE_CHECK(mu.shape() == logvar.shape(), "gaussian_kl: mu ", mu.shape(), " and logvar ",
           logvar.shape(), " differ");
  Tensor inner = logvar - square(mu) - exp(logvar);  // 1 + ... folded into the affine below
  return reduce(affine(inner, -0.5, -0.5), r);
}

Tensor kl_diagonal_gaussians(const Tensor& mu1, const Tensor& logvar1, const Tensor& mu2,
                             const Tensor& logvar2, Reduction r) {
  AE_CHECK(mu1.shape() == logvar1.shape() && mu1.shape() == mu2.shape() &&
               mu1.shape() == logvar2.shape(),
           "kl_diagonal_gaussians: shapes differ: ", mu1.shape(), " ", logvar1.shape(), " ",
           mu2.shape(), " ", logvar2.shape());
  Tensor ratio = (exp(logvar1) + square(mu1 - mu2)) * exp(-logvar2);
  return reduce(affine(logvar2 - logvar1 + ratio, 0.5, -0.5), r);
}

}  // namespace ae::models
