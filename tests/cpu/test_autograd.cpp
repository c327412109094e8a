// Autograd semantics: accumulation, no_grad, detach, zero_grad; and the errors of the core.
#include <gmock/gmock.h>

#include "core/autograd.h"
#include "core/random.h"
#include "tests/common/testing.h"

namespace ae {
namespace {

using ::testing::HasSubstr;
using testing::error_of;
using testing::leaf;

const Device kCpu = Device::cpu();

TEST(Autograd, GradientsAccumulateWhereATensorIsUsedTwice) {
  // y = sum(x * x) + sum(3x): dy/dx = 2x + 3, from two uses of x in the product and one more.
  Tensor x = Tensor::from_host(std::vector<double>{1, -2, 0.5}, {3}, kCpu).requires_grad_();
  Tensor y = sum(x * x) + sum(x * 3.0);
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{5, -1, 4}));
}

TEST(Autograd, TiedWeightGradientIsTheSumOfEncoderAndDecoderContributions) {
  Tensor x = leaf({4, 5}, 1, {}, false);
  Tensor w = leaf({3, 5}, 2);
  // Tied: the decoder uses Wᵀ. Untied copies of the same values give the two contributions.
  Tensor we = Tensor::from_host(w.to_vector(), w.shape(), kCpu).requires_grad_();
  Tensor wd = Tensor::from_host(w.to_vector(), w.shape(), kCpu).requires_grad_();
  auto model = [&](const Tensor& enc, const Tensor& dec) {
    return mse_loss(matmul(tanh(matmul(x, enc, false, true)), dec), x, Reduction::sum);
  };
  model(w, w).backward();
  model(we, wd).backward();
  std::vector<double> tied = w.grad().to_vector(), e = we.grad().to_vector(), d = wd.grad().to_vector();
  for (size_t i = 0; i < tied.size(); ++i) EXPECT_NEAR(tied[i], e[i] + d[i], 1e-12) << i;
}

TEST(Autograd, BackwardTwiceAccumulatesUntilZeroGrad) {
  Tensor x = Tensor::from_host(std::vector<double>{2}, {1}, kCpu).requires_grad_();
  sum(x * x).backward();
  sum(x * x).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 8);
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x * x).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 4);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = leaf({2, 2}, 3);
  NoGradGuard guard;
  Tensor y = sigmoid(x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
}

TEST(Autograd, DetachSharesStorageAndStopsGradients) {
  Tensor x = leaf({3}, 4);
  Tensor d = (x * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor y = sum(x * d);
  y.backward();
  std::vector<double> xv = x.to_vector(), g = x.grad().to_vector();
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_DOUBLE_EQ(g[i], 2 * xv[i]);  // d is a constant
  Tensor v = x.detach();
  EXPECT_EQ(v.data(), x.data());
}

TEST(Autograd, OnlyInputsThatNeedGradientsGetThem) {
  Tensor a = leaf({2, 3}, 5), b = leaf({3, 2}, 6, {}, false);
  sum(matmul(a, b)).backward();
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Autograd, LongChainsDoNotOverflowTheStack) {
  Tensor x = Tensor::from_host(std::vector<double>{1}, {1}, kCpu).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  sum(y).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 1);
}

TEST(Autograd, BackwardOfANonScalarNeedsAGradient) {
  Tensor x = leaf({2}, 7);
  EXPECT_THAT(error_of([&] { (x * 2.0).backward(); }), HasSubstr("not a scalar"));
}

TEST(Errors, ShapeMismatchNamesTheOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3}, DType::f32, kCpu), b = Tensor::zeros({3, 2}, DType::f32, kCpu);
  EXPECT_THAT(error_of([&] { add(a, b); }), HasSubstr("add: shapes (2, 3) and (3, 2)"));
  EXPECT_THAT(error_of([&] { matmul(a, a); }), HasSubstr("matmul: inner dimensions differ"));
  EXPECT_THAT(error_of([&] { matmul(a, a); }), HasSubstr("(2, 3)"));
  EXPECT_THAT(error_of([&] { reshape(a, {4, 2}); }), HasSubstr("reshape: (2, 3) (6 elements) to (4, 2)"));
  EXPECT_THAT(error_of([&] { slice(a, 1, 3); }), HasSubstr("slice: rows [1, 3)"));
  EXPECT_THAT(error_of([&] { sum(a, 2); }), HasSubstr("sum: axis 2 out of range"));
  EXPECT_THAT(error_of([&] { mse_loss(a, b); }), HasSubstr("squared_error: prediction (2, 3) and target (3, 2)"));
}

TEST(Errors, NoSilentBroadcasting) {
  Tensor a = Tensor::zeros({4, 3}, DType::f32, kCpu);
  EXPECT_NO_THROW(add(a, Tensor::zeros({3}, DType::f32, kCpu)));  // the bias rule
  EXPECT_THAT(error_of([&] { add(a, Tensor::zeros({4}, DType::f32, kCpu)); }), HasSubstr("do not match"));
  EXPECT_THAT(error_of([&] { add(a, Tensor::zeros({1, 3}, DType::f32, kCpu)); }), HasSubstr("do not match"));
}

TEST(Errors, DtypeMismatchNamesBothTensors) {
  Tensor a = Tensor::zeros({2}, DType::f32, kCpu), b = Tensor::zeros({2}, DType::f64, kCpu);
  EXPECT_THAT(error_of([&] { mul(a, b); }), HasSubstr("mul: dtype mismatch, float32(2) on cpu vs float64(2) on cpu"));
}

TEST(Errors, BadDeviceNames) {
  EXPECT_THAT(error_of([] { Device::parse("gpu"); }), HasSubstr("'gpu' is not one of cpu, cuda, cuda:N"));
}

TEST(Tensor, FactoriesAndMovement) {
  EXPECT_EQ(Tensor::arange(4, 1, 0.5, DType::f64, kCpu).to_vector(), (std::vector<double>{1, 1.5, 2, 2.5}));
  EXPECT_EQ(Tensor::full({2}, 3, DType::f32, kCpu).to_vector(), (std::vector<double>{3, 3}));
  Tensor t = Tensor::from_host(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}, kCpu);
  EXPECT_EQ(t.to(DType::f64).to_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(slice(t, 1, 2).to_vector(), (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(transpose(t).to_vector(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  Tensor c = t.clone();
  EXPECT_NE(c.data(), t.data());
  EXPECT_THAT(error_of([&] { Tensor::from_host(std::vector<float>{1, 2}, {3}, kCpu); }),
              HasSubstr("from_host: 2 values for shape (3)"));
  EXPECT_THAT(error_of([&] { Shape({1, 2, 3, 4, 5}); }), HasSubstr("at most 4"));
}

TEST(Tensor, ExternalMemoryIsReadInPlaceAndReleasedWithItsOwner) {
  auto buffer = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  std::weak_ptr<std::vector<float>> alive = buffer;
  {
    Tensor t = Tensor::from_external(buffer->data(), {2, 3}, DType::f32, kCpu, buffer);
    buffer.reset();  // the tensor alone keeps the memory now
    EXPECT_FALSE(alive.expired());
    EXPECT_EQ(t.data(), alive.lock()->data());  // no copy
    (*alive.lock())[4] = 50;                    // a write by the owner shows through
    EXPECT_EQ(sum(t).item(), 1 + 2 + 3 + 4 + 50 + 6);
    EXPECT_EQ(matmul(t, t, false, true).to_vector(), (std::vector<double>{14, 1 * 4 + 2 * 50 + 18,
                                                                         1 * 4 + 2 * 50 + 18, 16 + 2500 + 36}));
  }
  EXPECT_TRUE(alive.expired());  // released with the last tensor, by its owner
  EXPECT_THAT(error_of([] { Tensor::from_external(nullptr, {2}, DType::f32, kCpu, nullptr); }),
              HasSubstr("from_external: a null pointer for shape (2)"));
}

TEST(Tensor, ReductionsAndProductsHaveTheRightValues) {
  Tensor a = Tensor::from_host(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, kCpu);
  EXPECT_EQ(sum(a, 0).to_vector(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(sum(a, 1).to_vector(), (std::vector<double>{6, 15}));
  EXPECT_EQ(mean(a).item(), 3.5);
  EXPECT_EQ(sum(a, 1, true).shape(), (Shape{2, 1}));
  // (2,3) @ (2,3)ᵀ
  EXPECT_EQ(matmul(a, a, false, true).to_vector(), (std::vector<double>{14, 32, 32, 77}));
  EXPECT_EQ(matmul(a, a, true, false).to_vector(),
            (std::vector<double>{17, 22, 27, 22, 29, 36, 27, 36, 45}));
  EXPECT_EQ(concat({a, a}, 1).shape(), (Shape{2, 6}));
}

TEST(Losses, StableAtTheEdges) {
  Tensor p = Tensor::from_host(std::vector<double>{0, 1, 0, 1}, {4}, kCpu);
  Tensor t = Tensor::from_host(std::vector<double>{0, 1, 1, 0}, {4}, kCpu);
  std::vector<double> l = bce_loss(p, t, Reduction::none).to_vector();
  EXPECT_EQ(l[0], 0);
  EXPECT_EQ(l[1], 0);
  EXPECT_NEAR(l[2], -std::log(kProbEps), 1e-9);  // large, finite
  Tensor z = Tensor::from_host(std::vector<double>{800, -800, 0}, {3}, kCpu);
  Tensor tz = Tensor::from_host(std::vector<double>{1, 0, 1}, {3}, kCpu);
  std::vector<double> lz = bce_with_logits_loss(z, tz, Reduction::none).to_vector();
  EXPECT_EQ(lz[0], 0);
  EXPECT_EQ(lz[1], 0);
  EXPECT_NEAR(lz[2], std::log(2.0), 1e-15);
  EXPECT_EQ(sigmoid(z).to_vector(), (std::vector<double>{1, 0, 0.5}));
  EXPECT_EQ(softplus(z).to_vector()[0], 800);
}

TEST(Generator, WindowsAreDisjointAndReproducible) {
  Generator g(42);
  Tensor a = g.randn({3, 5}, DType::f32, kCpu);
  EXPECT_EQ(g.offset(), 16u);
  Tensor b = g.randn({3, 5}, DType::f32, kCpu);
  EXPECT_NE(a.to_vector(), b.to_vector());
  Generator h(42);
  EXPECT_EQ(h.randn({3, 5}, DType::f32, kCpu).to_vector(), a.to_vector());
}

}  // namespace
}  // namespace ae

namespace ae {
namespace {

struct AnomalyOn {
  AnomalyOn() { set_anomaly_detection(true); }
  ~AnomalyOn() { set_anomaly_detection(false); }
};

TEST(Anomaly, NamesTheOpThatMadeANaNInTheForward) {
  Tensor x = Tensor::from_host(std::vector<double>{1, -1}, {2}, Device::cpu());
  EXPECT_NO_THROW(log(x));  // off by default: NaN flows silently
  AnomalyOn on;
  EXPECT_THAT(testing::error_of([&] { log(x); }),
              ::testing::HasSubstr("anomaly: log produced nan in its output (element 1 of (2))"));
}

TEST(Anomaly, NamesTheOpWhoseGradientIsNotFinite) {
  Tensor x = Tensor::from_host(std::vector<double>{0, 4}, {2}, Device::cpu()).requires_grad_();
  AnomalyOn on;
  Tensor y = sum(sqrt(x));  // finite forward; the gradient 1/(2 sqrt(0)) is inf
  EXPECT_THAT(testing::error_of([&] { y.backward(); }),
              ::testing::HasSubstr("anomaly: sqrt produced inf in its gradient"));
}

}  // namespace
}  // namespace ae
