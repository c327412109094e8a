// CUDA table vs CPU table: the fused kernels (linear-layer epilogue, KL sparsity, contractive
// penalty, VAE reparameterization), forward and backward, float32 and float64.
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

template <class T>
class BackendFused : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BackendFused, Dtypes);

constexpr UnaryOp kActivations[] = {UnaryOp::identity, UnaryOp::sigmoid,    UnaryOp::tanh,
                                    UnaryOp::relu,     UnaryOp::leaky_relu, UnaryOp::softplus};
const std::pair<int64_t, int64_t> kShapes[] = {{1, 1},   {1, 7},    {7, 1},     {3, 33},
                                               {33, 31}, {256, 32}, {129, 128}, {256, 784},
                                               {4096, 32}, {1000, 513}};

// The normals of the CPU and of cuRAND differ by up to 1.5 * 2^-20 times their Box-Muller radius
// (kernels/cpu/random.h: cuRAND uses the __sincosf approximation), so results that depend on
// them agree to about 2e-6 relative whatever the dtype.
constexpr double kNormalsTol = 1e-5;

UnaryParams act_params(UnaryOp act) {
  return act == UnaryOp::leaky_relu ? UnaryParams{0.1, 0} : UnaryParams{};
}

// Outputs of the activation for pre-activations in [-4, 4]: what a layer hands its backward.
template <class T>
std::vector<T> activation_outputs(UnaryOp act, int64_t n) {
  std::vector<T> z = uniform<T>(n, case_seed(), -4, 4), y(n);
  if (n > 0) z[0] = 0;  // relu's kink
  cpu().unary_forward(act, dtype_of<T>(), z.data(), y.data(), n, act_params(act), nullptr);
  return y;
}

template <class T>
std::string what(const char* op, UnaryOp act, int64_t rows, int64_t cols, const char* extra = "") {
  return cat(op, " ", op_name(act), " ", dtype_name(dtype_of<T>()), " (", rows, ", ", cols, ")",
             extra);
}

TYPED_TEST(BackendFused, BiasActForward) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (UnaryOp act : kActivations)
    for (auto [rows, cols] : kShapes)
      for (bool has_bias : {true, false})
        for (int64_t pad : {0, 1}) {
          const UnaryParams p = act_params(act);
          std::vector<T> y = uniform<T>(rows * cols, case_seed(), -4, 4);
          std::vector<T> b = uniform<T>(cols, case_seed(), -1, 1);
          DeviceArray<T> d_y(y, pad), d_b(b, pad);
          cpu().bias_act_forward(act, dt, y.data(), has_bias ? b.data() : nullptr, rows, cols, p,
                                 nullptr);
          gpu().bias_act_forward(act, dt, d_y.data(), has_bias ? d_b.data() : nullptr, rows, cols,
                                 p, gpu_stream());
          expect_close(d_y.download(), y, elementwise_tol<T>(),
                       what<T>("bias_act_forward", act, rows, cols,
                               has_bias ? (pad ? " bias, pad" : " bias") : " no bias"));
        }
}

TYPED_TEST(BackendFused, BiasActBackward) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (UnaryOp act : kActivations)
    for (auto [rows, cols] : kShapes)
      for (bool want_db : {true, false}) {
        const UnaryParams p = act_params(act);
        const int64_t n = rows * cols;
        std::vector<T> y = activation_outputs<T>(act, n), dy = uniform<T>(n, case_seed(), -1, 1);
        std::vector<T> dz(n), db(cols);
        cpu().bias_act_backward(act, dt, y.data(), dy.data(), dz.data(), want_db ? db.data() : nullptr,
                                rows, cols, p, nullptr);
        DeviceArray<T> d_y(y), d_dy(dy), d_dz(n), d_db(cols);
        gpu().bias_act_backward(act, dt, d_y.data(), d_dy.data(), d_dz.data(),
                                want_db ? d_db.data() : nullptr, rows, cols, p, gpu_stream());
        expect_close(d_dz.download(), dz, elementwise_tol<T>(),
                     what<T>("bias_act_backward dz", act, rows, cols));
        if (want_db)
          expect_close(d_db.download(), db, sum_tol<T>(rows),
                       what<T>("bias_act_backward db", act, rows, cols));
      }
}

TYPED_TEST(BackendFused, KlSparsity) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const double rho = 0.05;
  for (auto [rows, cols] : kShapes) {
    std::vector<T> h = uniform<T>(rows * cols, case_seed(), 0, 0.2);
    for (int64_t r = 0; r < rows; ++r) h[r * cols] = 0;  // column 0 all zero: rho_hat clamped
    std::vector<T> rho_hat(cols), loss(1);
    cpu().kl_sparsity_forward(dt, h.data(), rows, cols, rho, rho_hat.data(), loss.data(), nullptr);
    DeviceArray<T> d_h(h), d_rho_hat(cols), d_loss(1);
    gpu().kl_sparsity_forward(dt, d_h.data(), rows, cols, rho, d_rho_hat.data(), d_loss.data(),
                              gpu_stream());
    const std::string shape = cat(dtype_name(dt), " (", rows, ", ", cols, ")");
    expect_close(d_rho_hat.download(), rho_hat, sum_tol<T>(rows), "kl_sparsity rho_hat " + shape);
    expect_close(d_loss.download(), loss, sum_tol<T>(rows * cols), "kl_sparsity loss " + shape);

    // Backward from the CPU's rho_hat, with dloss = 0.7 and with no dloss (zero).
    for (bool has_dloss : {true, false}) {
      std::vector<T> dloss = {T(0.7)}, dh(rows * cols);
      cpu().kl_sparsity_backward(dt, rho_hat.data(), has_dloss ? dloss.data() : nullptr, rows,
                                 cols, rho, dh.data(), nullptr);
      DeviceArray<T> d_rh(rho_hat), d_dloss(dloss), d_dh(rows * cols);
      gpu().kl_sparsity_backward(dt, d_rh.data(), has_dloss ? d_dloss.data() : nullptr, rows,
                                 cols, rho, d_dh.data(), gpu_stream());
      expect_close(d_dh.download(), dh, elementwise_tol<T>(),
                   cat("kl_sparsity_backward ", has_dloss ? "" : "(no dloss) ", shape));
    }
  }
}

// A NaN in h reaches its column's rho_hat and the loss on both backends: the clamp to
// [kRhoEps, 1 - kRhoEps] must not turn it into a finite penalty. Outputs start finite, so a NaN
// read back was written by the kernel.
TYPED_TEST(BackendFused, KlSparsityPropagatesNaN) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const int64_t rows = 5, cols = 3;
  const double rho = 0.05;
  std::vector<T> h = uniform<T>(rows * cols, case_seed(), 0, 0.2);
  h[2 * cols + 1] = std::numeric_limits<T>::quiet_NaN();  // in column 1
  std::vector<T> rho_hat(cols), loss(1);
  cpu().kl_sparsity_forward(dt, h.data(), rows, cols, rho, rho_hat.data(), loss.data(), nullptr);
  ASSERT_TRUE(std::isnan(rho_hat[1]) && std::isnan(loss[0])) << "the CPU reference";
  DeviceArray<T> d_h(h), d_rho_hat(std::vector<T>(cols, T(-1))), d_loss(std::vector<T>{T(-1)});
  gpu().kl_sparsity_forward(dt, d_h.data(), rows, cols, rho, d_rho_hat.data(), d_loss.data(),
                            gpu_stream());
  const std::vector<T> got = d_rho_hat.download();
  EXPECT_TRUE(std::isnan(got[1])) << "rho_hat[1] = " << got[1];
  EXPECT_TRUE(std::isnan(d_loss.download()[0])) << "loss = " << d_loss.download()[0];
  expect_close(std::vector<T>{got[0], got[2]}, std::vector<T>{rho_hat[0], rho_hat[2]},
               sum_tol<T>(rows), "kl_sparsity rho_hat of the other columns");
}

TYPED_TEST(BackendFused, Contractive) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {
      {1, 1, 1}, {7, 3, 5}, {33, 31, 17}, {256, 32, 784}, {4096, 64, 784}, {100, 129, 3}};
  for (UnaryOp act : kActivations)
    for (auto [rows, code, in] : shapes) {
      const UnaryParams p = act_params(act);
      const std::string shape = cat(op_name(act), " ", dtype_name(dt), " rows=", rows, " code=",
                                    code, " in=", in);
      std::vector<T> h = activation_outputs<T>(act, rows * code);
      std::vector<T> w = uniform<T>(code * in, case_seed(), -0.5, 0.5);
      std::vector<T> w_sq(code), loss(1);
      cpu().contractive_forward(act, dt, h.data(), w.data(), rows, code, in, p, w_sq.data(),
                                loss.data(), nullptr);
      DeviceArray<T> d_h(h), d_w(w), d_w_sq(code), d_loss(1);
      gpu().contractive_forward(act, dt, d_h.data(), d_w.data(), rows, code, in, p,
                                d_w_sq.data(), d_loss.data(), gpu_stream());
      expect_close(d_w_sq.download(), w_sq, sum_tol<T>(in), "contractive w_sq " + shape);
      expect_close(d_loss.download(), loss, sum_tol<T>(rows * code), "contractive loss " + shape);

      for (auto [want_dh, want_dw] : {std::pair{true, true}, {true, false}, {false, true}}) {
        std::vector<T> dloss = {T(1.3)}, dh(rows * code), dw(code * in);
        cpu().contractive_backward(act, dt, h.data(), w.data(), w_sq.data(), dloss.data(), rows,
                                   code, in, p, want_dh ? dh.data() : nullptr,
                                   want_dw ? dw.data() : nullptr, nullptr);
        DeviceArray<T> d_wsq(w_sq), d_dloss(dloss), d_dh(rows * code), d_dw(code * in);
        gpu().contractive_backward(act, dt, d_h.data(), d_w.data(), d_wsq.data(), d_dloss.data(),
                                   rows, code, in, p, want_dh ? d_dh.data() : nullptr,
                                   want_dw ? d_dw.data() : nullptr, gpu_stream());
        if (want_dh)
          expect_close(d_dh.download(), dh, elementwise_tol<T>(), "contractive dh " + shape);
        if (want_dw)
          expect_close(d_dw.download(), dw, sum_tol<T>(rows), "contractive dW " + shape);
      }
    }
}

TYPED_TEST(BackendFused, Reparameterize) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (auto [rows, cols] : kShapes) {
    const int64_t n = rows * cols;
    const uint64_t seed = case_seed(), offset = 4 * (case_seed() % 1000) + 1;  // also unaligned
    const std::string shape = cat(dtype_name(dt), " (", rows, ", ", cols, ") seed ", seed,
                                  " offset ", offset);
    std::vector<T> mu = uniform<T>(n, case_seed(), -2, 2), logvar = uniform<T>(n, case_seed(), -3, 1);
    std::vector<T> z(n), kl(1);
    cpu().reparameterize_forward(dt, mu.data(), logvar.data(), z.data(), kl.data(), rows, cols,
                                 seed, offset, nullptr);
    DeviceArray<T> d_mu(mu), d_lv(logvar), d_z(n), d_kl(1);
    gpu().reparameterize_forward(dt, d_mu.data(), d_lv.data(), d_z.data(), d_kl.data(), rows, cols,
                                 seed, offset, gpu_stream());
    expect_close(d_z.download(), z, kNormalsTol, "reparameterize z " + shape);
    expect_close(d_kl.download(), kl, sum_tol<T>(n), "reparameterize kl " + shape);

    for (auto [has_dz, has_dkl] : {std::pair{true, true}, {true, false}, {false, true}}) {
      std::vector<T> dz = uniform<T>(n, case_seed(), -1, 1), dkl = {T(0.9)};
      std::vector<T> dmu(n), dlv(n);
      cpu().reparameterize_backward(dt, mu.data(), logvar.data(), has_dz ? dz.data() : nullptr,
                                    has_dkl ? dkl.data() : nullptr, rows, cols, seed, offset,
                                    dmu.data(), dlv.data(), nullptr);
      DeviceArray<T> d_dz(dz), d_dkl(dkl), d_dmu(n), d_dlv(n);
      gpu().reparameterize_backward(dt, d_mu.data(), d_lv.data(), has_dz ? d_dz.data() : nullptr,
                                    has_dkl ? d_dkl.data() : nullptr, rows, cols, seed, offset,
                                    d_dmu.data(), d_dlv.data(), gpu_stream());
      const std::string which = cat(has_dz ? " dz" : "", has_dkl ? " dkl" : "", " ", shape);
      expect_close(d_dmu.download(), dmu, elementwise_tol<T>(), "reparameterize dmu" + which);
      expect_close(d_dlv.download(), dlv, kNormalsTol, "reparameterize dlogvar" + which);
    }
  }
}

TEST(BackendFusedErrors, ActivationMustBeAnActivation) {
  try {
    gpu().bias_act_forward(UnaryOp::exp, DType::f32, nullptr, nullptr, 1, 1, {}, gpu_stream());
    FAIL() << "exp accepted as an activation";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exp is not an activation"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ae::gputest
