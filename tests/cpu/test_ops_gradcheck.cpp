// A float64 gradcheck for every op of core/ops.h, on random shapes including size 1 and odd sizes.
#include <cmath>

#include "core/autograd.h"
#include "tests/common/testing.h"

namespace ae {
namespace {

using testing::away_from_zero;
using testing::expect_gradcheck;
using testing::leaf;
using testing::positive;
using testing::probability;

const std::vector<Shape> kShapes = {Shape{1}, Shape{1, 1}, Shape{3, 5}, Shape{7, 1}, Shape{2, 3, 4}};

// --- unary: every entry of AE_UNARY_OPS, with a domain and parameters that make it smooth ------

struct UnaryCase {
  UnaryOp op;
  UnaryParams params;
  std::function<double(double)> domain;
};

UnaryCase unary_case(UnaryOp op) {
  switch (op) {
    case UnaryOp::log:
    case UnaryOp::sqrt: return {op, {}, positive};
    case UnaryOp::pow: return {op, {2.5, 0}, positive};
    case UnaryOp::abs:
    case UnaryOp::relu: return {op, {}, away_from_zero};
    case UnaryOp::leaky_relu: return {op, {0.1, 0}, away_from_zero};
    // values land inside [-0.5, 0.5] and outside it, none within 0.2 of the bounds
    case UnaryOp::clamp: return {op, {-0.5, 0.5}, [](double v) { return std::fabs(std::fabs(v) - 0.5) < 0.2 ? v * 0.2 : v; }};
    case UnaryOp::affine: return {op, {-1.5, 0.25}, {}};
    default: return {op, {}, {}};
  }
}

class UnaryGradcheck : public ::testing::TestWithParam<UnaryOp> {};

TEST_P(UnaryGradcheck, MatchesCentralDifferences) {
  UnaryCase c = unary_case(GetParam());
  uint64_t seed = 100;
  for (const Shape& s : kShapes) {
    Tensor x = leaf(s, seed++, c.domain);
    expect_gradcheck([&](const std::vector<Tensor>& in) { return unary(c.op, in[0], c.params); }, {x});
  }
}

INSTANTIATE_TEST_SUITE_P(AllUnaryOps, UnaryGradcheck, ::testing::ValuesIn(kUnaryOps),
                         [](const auto& info) { return std::string(op_name(info.param)); });

// --- binary: every entry of AE_BINARY_OPS, equal shapes and a row-broadcast bias -------------

class BinaryGradcheck : public ::testing::TestWithParam<BinaryOp> {};

TEST_P(BinaryGradcheck, EqualShapes) {
  BinaryOp op = GetParam();
  uint64_t seed = 200;
  for (const Shape& s : kShapes) {
    Tensor a = leaf(s, seed++);
    Tensor b = leaf(s, seed++, op == BinaryOp::div ? positive : std::function<double(double)>{});
    expect_gradcheck([&](const std::vector<Tensor>& in) { return binary(op, in[0], in[1]); }, {a, b});
  }
}

TEST_P(BinaryGradcheck, RowBroadcastBias) {
  BinaryOp op = GetParam();
  uint64_t seed = 300;
  for (const Shape& s : {Shape{1, 1}, Shape{5, 3}, Shape{1, 7}, Shape{2, 3, 4}}) {
    Tensor a = leaf(s, seed++);
    Tensor b = leaf(Shape{s[-1]}, seed++, op == BinaryOp::div ? positive : std::function<double(double)>{});
    expect_gradcheck([&](const std::vector<Tensor>& in) { return binary(op, in[0], in[1]); }, {a, b});
  }
}

INSTANTIATE_TEST_SUITE_P(AllBinaryOps, BinaryGradcheck, ::testing::ValuesIn(kBinaryOps),
                         [](const auto& info) { return std::string(op_name(info.param)); });

TEST(ScalarOpsGradcheck, AddSubMulDivByScalar) {
  Tensor x = leaf({4, 3}, 11);
  expect_gradcheck([](const std::vector<Tensor>& in) { return ((in[0] + 2.0) * 3.0 - 1.0) / 4.0; }, {x});
}

// --- linear algebra ---------------------------------------------------------------------------

TEST(MatmulGradcheck, EveryTransposeCombination) {
  uint64_t seed = 400;
  for (auto [m, k, n] : {std::tuple{1, 1, 1}, {3, 5, 2}, {7, 1, 4}, {2, 9, 1}}) {
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = leaf(ta ? Shape{k, m} : Shape{m, k}, seed++);
        Tensor b = leaf(tb ? Shape{n, k} : Shape{k, n}, seed++);
        expect_gradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); }, {a, b});
      }
  }
}

TEST(TransposeGradcheck, Rectangular) {
  for (Shape s : {Shape{1, 1}, Shape{3, 5}, Shape{1, 6}})
    expect_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0]); }, {leaf(s, 500)});
}

// --- reductions -------------------------------------------------------------------------------

TEST(ReduceGradcheck, SumAndMeanOverAll) {
  for (const Shape& s : kShapes) {
    expect_gradcheck([](const std::vector<Tensor>& in) { return sum(in[0]); }, {leaf(s, 600)});
    expect_gradcheck([](const std::vector<Tensor>& in) { return mean(in[0]); }, {leaf(s, 601)});
  }
}

TEST(ReduceGradcheck, SumAndMeanAlongEachAxis) {
  Tensor x = leaf({2, 3, 5}, 602);
  for (int axis : {0, 1, 2, -1})
    for (bool keep : {false, true}) {
      expect_gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], axis, keep); }, {x});
      expect_gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], axis, keep); }, {x});
    }
}

// --- shape ops --------------------------------------------------------------------------------

TEST(ShapeGradcheck, Reshape) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return reshape(in[0], {3, 2, 2}) * 2.0; },
                   {leaf({4, 3}, 700)});
}

TEST(ShapeGradcheck, SliceRows) {
  Tensor x = leaf({7, 3}, 701);
  for (auto [begin, end] : {std::pair{0, 7}, {2, 5}, {6, 7}, {3, 3}}) {
    const int64_t a = begin, b = end;  // lambdas capture variables, not structured bindings
    expect_gradcheck([&](const std::vector<Tensor>& in) { return slice(in[0], a, b); }, {x});
  }
}

TEST(ShapeGradcheck, ConcatAlongEachAxis) {
  Tensor a = leaf({2, 3}, 702), b = leaf({2, 1}, 703), c = leaf({2, 5}, 704);
  expect_gradcheck([](const std::vector<Tensor>& in) { return concat(in, 1); }, {a, b, c});
  Tensor d = leaf({1, 3}, 705), e = leaf({4, 3}, 706);
  expect_gradcheck([](const std::vector<Tensor>& in) { return concat(in, 0); }, {a, d, e});
}

// --- losses: every entry of AE_LOSS_OPS, every reduction --------------------------------------

class LossGradcheck : public ::testing::TestWithParam<LossOp> {};

TEST_P(LossGradcheck, EveryReduction) {
  LossOp op = GetParam();
  uint64_t seed = 800;
  for (const Shape& s : {Shape{1, 1}, Shape{3, 5}, Shape{4, 7}}) {
    // probabilities for bce; elsewhere predictions kept off the |p - t| kink
    Tensor pred = leaf(s, seed++, op == LossOp::bce ? probability : std::function<double(double)>{});
    Tensor target = leaf(s, seed++, op == LossOp::bce || op == LossOp::bce_with_logits
                                        ? probability
                                        : std::function<double(double)>{}, false);
    if (op == LossOp::absolute_error) {
      std::vector<double> p = pred.to_vector(), t = target.to_vector();
      for (size_t i = 0; i < p.size(); ++i) p[i] = t[i] + away_from_zero(p[i]);
      pred = Tensor::from_host(p, s, Device::cpu()).requires_grad_();
    }
    for (Reduction r : {Reduction::none, Reduction::sum, Reduction::mean, Reduction::batch_mean})
      expect_gradcheck([&](const std::vector<Tensor>& in) { return loss(op, in[0], target, r); }, {pred});
  }
}

INSTANTIATE_TEST_SUITE_P(AllLosses, LossGradcheck, ::testing::ValuesIn(kLossOps),
                         [](const auto& info) { return std::string(op_name(info.param)); });

TEST(LossGradcheck, HalfSumOfSquaredError) {
  Tensor target = leaf({3, 4}, 900, {}, false);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return half_sse_loss(in[0], target); },
                   {leaf({3, 4}, 901)});
}

// --- soft_clamp: identity inside, softsign tails outside, the kinks at the inner bounds --------

TEST(CompositeGradcheck, SoftClamp) {
  // Points inside, just past and far past both inner bounds (-25 and 15), none on a kink.
  Tensor x = Tensor::from_host(std::vector<double>{-1e3, -40, -25.5, -24.5, 0, 14.5, 15.5, 60, 1e3},
                               {9}, Device::cpu())
                 .requires_grad_();
  expect_gradcheck([](const std::vector<Tensor>& in) { return soft_clamp(in[0], -30, 20, 5); }, {x});
}

// --- a composite: a tied-weight autoencoder, W in the encoder and Wᵀ in the decoder ----------

TEST(CompositeGradcheck, TiedWeightAutoencoder) {
  Tensor x = leaf({5, 6}, 1000, probability, false);
  Tensor w = leaf({3, 6}, 1001);   // (code, input)
  Tensor b = leaf({3}, 1002);
  Tensor c = leaf({6}, 1003);
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        Tensor h = sigmoid(add(matmul(x, in[0], false, true), in[1]));  // (5, 3)
        Tensor logits = add(matmul(h, in[0]), in[2]);                   // (5, 6)
        return bce_with_logits_loss(logits, x, Reduction::batch_mean);
      },
      {w, b, c});
}

}  // namespace
}  // namespace ae

namespace ae {
namespace {

// The checker itself: a backward that is off by 1% must be caught.
TEST(GradcheckItself, CatchesAWrongBackward) {
  Tensor x = testing::leaf({3, 2}, 1100);
  auto wrong_square = [](const std::vector<Tensor>& in) {
    Tensor y = unary(UnaryOp::square, in[0].detach());
    return record(y, "wrong_square", {in[0]}, [](const Tensor& dy, const Tensor&, const Node& n) {
      return std::vector<Tensor>{dy * n.inputs[0] * 2.02};
    });
  };
  GradcheckResult r = gradcheck(wrong_square, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0 (3, 2)"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace ae
