// Sparse autoencoders on MNIST digits: the KL penalty drives each code unit's mean activation
// to the target ρ, and an L1 penalty on the code shrinks its activations.
#include "core/autograd.h"
#include "models/autoencoder.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using test::mean_abs;
using test::measured;
using test::mnist_rows;
using test::quick_trainer;

// 2000 training digits, 1000 held-out; a 784 -> 256 sigmoid code, trained 10 epochs.
struct Sparse {
  Autoencoder model;
  Tensor held_out_code;  // (1000, 256)
};

Sparse train_sparse(CodePenalty penalty, double weight) {
  AutoencoderConfig c;
  c.widths = {784, 256};
  c.penalty = penalty;
  c.penalty_weight = weight;
  c.sparsity_target = 0.05;
  Sparse s{Autoencoder(c, 1, Device::cpu()), Tensor()};
  Trainer(quick_trainer(10)).fit(s.model, mnist_rows(0, 2000));
  NoGradGuard no_grad;
  s.held_out_code = s.model.encode(mnist_rows(8000, 1000));
  return s;
}

TEST(ModelsSparse, KlPenaltyDrivesTheMeanActivationToRho) {
  AE_SKIP_WITHOUT_MNIST();
  const double rho = 0.05;
  Sparse s = train_sparse(CodePenalty::kl_sparsity, 10);
  double mean_activation = test::mean_of(s.held_out_code);
  measured(cat("KL sparsity beta 10: held-out mean code activation ", mean_activation, " vs rho ", rho));
  EXPECT_NEAR(mean_activation, rho, 0.02);
}

TEST(ModelsSparse, L1PenaltyShrinksTheCode) {
  AE_SKIP_WITHOUT_MNIST();
  Sparse plain = train_sparse(CodePenalty::none, 0);
  Sparse l1 = train_sparse(CodePenalty::l1, 1.0);
  double a = mean_abs(plain.held_out_code), b = mean_abs(l1.held_out_code);
  measured(cat("held-out mean |h|: lambda 0 ", a, ", lambda 1 ", b, " (", a / b, "x lower)"));
  EXPECT_GT(a / b, 3);
  // The unpenalized sigmoid code is not sparse to begin with.
  EXPECT_GT(a, 0.2);
}

}  // namespace
}  // namespace ae::models
