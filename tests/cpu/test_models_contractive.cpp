// The contractive autoencoder on MNIST digits: λ‖J_x(h)‖²_F makes the code insensitive to its
// input (a much smaller Jacobian on held-out digits) at about the same reconstruction.
#include "core/autograd.h"
#include "models/autoencoder.h"
#include "models/penalties.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using test::measured;
using test::mnist_rows;
using test::quick_trainer;

struct Trained {
  double jacobian;        // mean ‖J_x(h)‖²_F over the held-out digits
  double reconstruction;  // held-out reconstruction loss
};

Trained train_contractive(double lambda) {
  AutoencoderConfig c;
  c.widths = {784, 64};
  c.penalty = CodePenalty::contractive;
  c.penalty_weight = lambda;
  Autoencoder model(c, 1, Device::cpu());
  Trainer(quick_trainer(10)).fit(model, mnist_rows(0, 2000));
  Tensor held_out = mnist_rows(8000, 1000);
  NoGradGuard no_grad;
  Tensor h = model.encode(held_out);
  // The closed form equals the explicit Jacobian norm (test_models_penalties.cpp).
  double jacobian = jacobian_penalty(h, model.encoder()[0].weight, c.code, 1).item();
  return {jacobian, evaluate(model, held_out).reconstruction};
}

TEST(ModelsContractive, PenaltyShrinksTheJacobianAtComparableReconstruction) {
  AE_SKIP_WITHOUT_MNIST();
  Trained plain = train_contractive(0), cae = train_contractive(3);
  measured(cat("held-out ||J||_F^2: lambda 0 ", plain.jacobian, ", lambda 3 ", cae.jacobian, " (",
               plain.jacobian / cae.jacobian, "x lower); reconstruction ", plain.reconstruction,
               " vs ", cae.reconstruction));
  EXPECT_GT(plain.jacobian / cae.jacobian, 2);
  EXPECT_LT(cae.reconstruction, 1.25 * plain.reconstruction);
}

}  // namespace
}  // namespace ae::models
