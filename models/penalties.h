// The terms added to the reconstruction loss: weight regularizers, code penalties (sparsity,
// contraction) and the Gaussian KL divergences of the variational model.
//
// Every per-sample term follows the family's one reduction (models/autoencoder.h): summed over
// features, averaged over the batch. Each has an exact gradient (autograd through the ops, or a
// fused op's own backward); every one is gradchecked in float64.
#pragma once
#include <vector>

#include "core/ops.h"
#include "core/tensor.h"
#include "models/activation.h"
#include "models/linear.h"

namespace ae::models {

// --- weights --------------------------------------------------------------------------------
// λ Σ ‖W‖² (L2 weight decay) and λ Σ ‖W‖₁ over the parameters; biases only when asked.
Tensor l2_penalty(const std::vector<Parameter>& params, double lambda, bool include_biases = false);
Tensor l1_penalty(const std::vector<Parameter>& params, double lambda, bool include_biases = false);

// --- code h (batch, K) ----------------------------------------------------------------------
// λ ‖h‖₁ per sample, averaged over the batch.
Tensor l1_code_penalty(const Tensor& h, double lambda);

// The KL sparsity penalty of a sigmoid code: with ρ̂_j the batch mean of unit j,
//   Ω = β Σ_j [ρ log(ρ/ρ̂_j) + (1−ρ) log((1−ρ)/(1−ρ̂_j))],
// ρ̂ clamped into [kRhoEps, 1 − kRhoEps] (kernels/types.h) so Ω stays finite for dead or
// saturated units. One fused op (ae::kl_sparsity) with its exact gradient.
Tensor kl_sparsity_penalty(const Tensor& h, double rho, double beta);

// The contractive penalty of one layer h = f(x Wᵀ + b), in closed form:
//   λ ‖J_x(h)‖²_F = λ Σ_k f'(a_k)² Σ_j W_kj², averaged over the batch,
// with f' written from h (sigmoid h(1−h), tanh 1−h², relu 1[h>0], identity 1, ...). No Jacobian
// is formed: one fused op (ae::contractive_penalty) with its exact gradient.
//   h (batch, K), weight (K, n)
Tensor jacobian_penalty(const Tensor& h, const Tensor& weight, Activation act, double lambda);

// --- Gaussians ------------------------------------------------------------------------------
// KL(N(μ, diag σ²) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²), reduced by `r`.
//   mu, logvar (batch, K)
Tensor gaussian_kl(const Tensor& mu, const Tensor& logvar, Reduction r = Reduction::batch_mean);

// KL(N(μ1, diag σ1²) ‖ N(μ2, diag σ2²)) = ½ Σ [log σ2² − log σ1² + (σ1² + (μ1 − μ2)²) / σ2² − 1],
// reduced by `r`. All four (batch, K).
Tensor kl_diagonal_gaussians(const Tensor& mu1, const Tensor& logvar1, const Tensor& mu2,
                             const Tensor& logvar2, Reduction r = Reduction::batch_mean);

}  // namespace ae::models
