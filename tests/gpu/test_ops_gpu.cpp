// Every op of core/ops.h on cuda vs cpu, through the Tensor API: the same leaves, the same
// function, then backward from sum(out * w) with random weights w (so every output element gets
// its own upstream gradient); outputs and every leaf's gradient are compared.
#include <functional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

// One input of a case: its shape, the interval its values are drawn from, whether values are kept
// at least 0.5 away from zero (divisors), and whether it is differentiated.
struct Input {
  Shape shape;
  double lo = -2, hi = 2;
  bool away_from_zero = false;
  bool grad = true;
};

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct OpCase {
  std::string name;
  std::vector<Input> inputs;
  Fn f;
  bool has_gemm = false;    // float32 bound of a GEMM (accumulation order over k)
  bool uses_normals = false;  // depends on the Philox normals (see kNormalsTol)
};

// The CPU and cuRAND normals differ by ~2e-6 relative (kernels/cpu/random.h).
constexpr double kNormalsTol = 1e-5;

template <class T>
Tensor make_leaf(const Input& in, Device d) {
  std::vector<T> v = uniform<T>(in.shape.numel(), case_seed(), in.lo, in.hi);
  if (in.away_from_zero)
    for (T& x : v) x = x >= 0 ? x + T(0.5) : x - T(0.5);
  Tensor t = Tensor::from_host(v, in.shape, d);
  if (in.grad) t.requires_grad_();
  return t;
}

template <class T>
void check_case(const OpCase& c) {
  SCOPED_TRACE(c.name + " " + dtype_name(dtype_of<T>()));
  const Device cpu_dev = Device::cpu(), cuda_dev = Device::cuda(0);
  std::vector<Tensor> on_cpu, on_cuda;
  for (const Input& in : c.inputs) {
    Tensor x = make_leaf<T>(in, cpu_dev);
    Tensor xg = x.detach().to(cuda_dev);
    if (in.grad) xg.requires_grad_();
    on_cpu.push_back(x);
    on_cuda.push_back(xg);
  }
  Tensor out_cpu = c.f(on_cpu);
  Tensor out_cuda = c.f(on_cuda);
  ASSERT_EQ(out_cuda.device(), cuda_dev);
  ASSERT_EQ(out_cuda.shape(), out_cpu.shape());

  Tensor w = make_leaf<T>(Input{out_cpu.shape(), -1, 1, false, false}, cpu_dev);
  sum(mul(out_cpu, w)).backward();
  sum(mul(out_cuda, w.to(cuda_dev))).backward();

  double tol = c.has_gemm ? gemm_tol<T>() : elementwise_tol<T>();
  if (c.uses_normals) tol = std::max(tol, kNormalsTol);
  expect_close(out_cuda.to_vector(), out_cpu.to_vector(), tol, c.name + " forward");
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i].grad) continue;
    ASSERT_TRUE(on_cpu[i].grad().defined()) << c.name << ": no cpu gradient for input " << i;
    ASSERT_TRUE(on_cuda[i].grad().defined()) << c.name << ": no cuda gradient for input " << i;
    EXPECT_EQ(on_cuda[i].grad().device(), cuda_dev);
    expect_close(on_cuda[i].grad().to_vector(), on_cpu[i].grad().to_vector(), tol,
                 cat(c.name, " gradient of input ", i));
  }
}

// Inputs within the domain of each unary op (see test_backend_elementwise.cpp).
OpCase unary_case(UnaryOp op) {
  UnaryParams p;
  double lo = -3, hi = 3;
  switch (op) {
    case UnaryOp::log:
    case UnaryOp::sqrt: lo = 0.05, hi = 5; break;
    case UnaryOp::pow: p = {2.5}, lo = 0.05, hi = 3; break;
    case UnaryOp::clamp: p = {-0.5, 0.75}; break;
    case UnaryOp::affine: p = {1.7, -0.3}; break;
    case UnaryOp::leaky_relu: p = {0.1}; break;
    case UnaryOp::sigmoid:
    case UnaryOp::softplus: lo = -20, hi = 20; break;
    default: break;
  }
  return {cat("unary ", op_name(op)), {{Shape{33, 17}, lo, hi}},
          [op, p](const std::vector<Tensor>& x) { return unary(op, x[0], p); }};
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  for (UnaryOp op : kUnaryOps) cases.push_back(unary_case(op));

  for (BinaryOp op : kBinaryOps) {
    const bool div = op == BinaryOp::div;
    auto f = [op](const std::vector<Tensor>& x) { return binary(op, x[0], x[1]); };
    cases.push_back({cat("binary ", op_name(op)),
                     {{Shape{33, 17}}, {Shape{33, 17}, -2, 2, div}}, f});
    cases.push_back({cat("binary ", op_name(op), " row broadcast"),
                     {{Shape{33, 17}}, {Shape{17}, -2, 2, div}}, f});
  }
  cases.push_back({"scalar forms", {{Shape{5, 7}}}, [](const std::vector<Tensor>& x) {
                     return (x[0] + 2.5) * 3.0 - x[0] / 4.0 - (-x[0]);
                   }});

  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Shape a = ta ? Shape{65, 33} : Shape{33, 65}, b = tb ? Shape{17, 65} : Shape{65, 17};
      cases.push_back({cat("matmul trans_a=", ta, " trans_b=", tb),
                       {{a}, {b}},
                       [ta, tb](const std::vector<Tensor>& x) { return matmul(x[0], x[1], ta, tb); },
                       true});
    }
  cases.push_back({"transpose", {{Shape{33, 17}}},
                   [](const std::vector<Tensor>& x) { return transpose(x[0]); }});

  cases.push_back({"sum", {{Shape{33, 17}}}, [](const std::vector<Tensor>& x) { return sum(x[0]); }});
  cases.push_back({"mean", {{Shape{33, 17}}}, [](const std::vector<Tensor>& x) { return mean(x[0]); }});
  for (int axis : {0, 1, -1})
    for (bool keepdim : {false, true}) {
      cases.push_back({cat("sum axis ", axis, " keepdim ", keepdim), {{Shape{33, 17}}},
                       [axis, keepdim](const std::vector<Tensor>& x) { return sum(x[0], axis, keepdim); }});
      cases.push_back({cat("mean axis ", axis, " keepdim ", keepdim), {{Shape{33, 17}}},
                       [axis, keepdim](const std::vector<Tensor>& x) { return mean(x[0], axis, keepdim); }});
    }
  cases.push_back({"sum axis 1 of 3-D", {{Shape{4, 5, 6}}},
                   [](const std::vector<Tensor>& x) { return sum(x[0], 1); }});

  cases.push_back({"reshape", {{Shape{33, 17}}},
                   [](const std::vector<Tensor>& x) { return reshape(x[0], Shape{17, 33}); }});
  cases.push_back({"slice", {{Shape{33, 17}}},
                   [](const std::vector<Tensor>& x) { return slice(x[0], 3, 20); }});
  cases.push_back({"concat axis 0", {{Shape{5, 7}}, {Shape{3, 7}}},
                   [](const std::vector<Tensor>& x) { return concat({x[0], x[1]}, 0); }});
  cases.push_back({"concat axis 1", {{Shape{5, 7}}, {Shape{5, 2}}, {Shape{5, 9}}},
                   [](const std::vector<Tensor>& x) { return concat({x[0], x[1], x[2]}, 1); }});

  for (LossOp op : kLossOps)
    for (Reduction r : {Reduction::none, Reduction::sum, Reduction::mean, Reduction::batch_mean}) {
      Input pred{Shape{33, 17}}, target{Shape{33, 17}, -2, 2, false, false};
      if (op == LossOp::bce) pred.lo = 0.01, pred.hi = 0.99;
      if (op == LossOp::bce || op == LossOp::bce_with_logits) target.lo = 0, target.hi = 1;
      cases.push_back({cat("loss ", op_name(op), " reduction ", int(r)), {pred, target},
                       [op, r](const std::vector<Tensor>& x) { return loss(op, x[0], x[1], r); }});
    }
  cases.push_back({"half_sse_loss", {{Shape{33, 17}}, {Shape{33, 17}, -2, 2, false, false}},
                   [](const std::vector<Tensor>& x) { return half_sse_loss(x[0], x[1]); }});
  for (Reduction r : {Reduction::none, Reduction::sum, Reduction::mean, Reduction::batch_mean})
    cases.push_back({cat("reduce ", int(r)), {{Shape{33, 17}}},
                     [r](const std::vector<Tensor>& x) { return reduce(x[0], r); }});

  const UnaryOp acts[] = {UnaryOp::identity, UnaryOp::sigmoid,    UnaryOp::tanh,
                          UnaryOp::relu,     UnaryOp::leaky_relu, UnaryOp::softplus};
  for (UnaryOp act : acts) {
    const UnaryParams p = act == UnaryOp::leaky_relu ? UnaryParams{0.1} : UnaryParams{};
    for (bool trans_w : {true, false}) {
      Shape w = trans_w ? Shape{17, 65} : Shape{65, 17};
      cases.push_back({cat("linear ", op_name(act), " trans_w=", trans_w),
                       {{Shape{33, 65}}, {w}, {Shape{17}}},
                       [act, p, trans_w](const std::vector<Tensor>& x) {
                         return linear(x[0], x[1], x[2], act, p, trans_w);
                       },
                       true});
    }
    cases.push_back({cat("linear ", op_name(act), " no bias"), {{Shape{33, 65}}, {Shape{17, 65}}},
                     [act, p](const std::vector<Tensor>& x) {
                       return linear(x[0], x[1], Tensor(), act, p, true);
                     },
                     true});
    // h as the activation's output would be: inside its range.
    Input h{Shape{33, 17}};
    if (act == UnaryOp::sigmoid) h.lo = 0.05, h.hi = 0.95;
    if (act == UnaryOp::tanh) h.lo = -0.9, h.hi = 0.9;
    if (act == UnaryOp::relu || act == UnaryOp::softplus) h.lo = 0.05, h.hi = 3;
    cases.push_back({cat("contractive_penalty ", op_name(act)), {h, {Shape{17, 65}}},
                     [act, p](const std::vector<Tensor>& x) {
                       return contractive_penalty(x[0], x[1], act, p);
                     }});
  }
  cases.push_back({"kl_sparsity", {{Shape{33, 17}, 0.01, 0.3}},
                   [](const std::vector<Tensor>& x) { return kl_sparsity(x[0], 0.05); }});
  cases.push_back({"reparameterize z", {{Shape{33, 17}}, {Shape{33, 17}, -3, 1}},
                   [](const std::vector<Tensor>& x) { return reparameterize(x[0], x[1], 7, 13).z; },
                   false, true});
  cases.push_back({"reparameterize kl", {{Shape{33, 17}}, {Shape{33, 17}, -3, 1}},
                   [](const std::vector<Tensor>& x) { return reparameterize(x[0], x[1], 7, 13).kl; }});

  // Sparse codes: x (33, 17) under W (65, 17), b (65) through each selection, then the sparse
  // decoder W_d (65, 17), b_d (17); backward to all of them (and to log θ). pre = x Wᵀ + b has a
  // spread of about 5.5: thresholds in [3, 6] keep a few latents per row.
  using Kind = SparseSelection::Kind;
  const std::vector<Input> code_inputs = {
      {Shape{33, 17}}, {Shape{65, 17}}, {Shape{65}}, {Shape{65, 17}}, {Shape{17}}};
  const auto sparse_case = [&](const std::string& name, SparseSelection s, Input threshold) {
    std::vector<Input> inputs = code_inputs;
    if (s.kind != Kind::topk && s.kind != Kind::batch_topk) inputs.push_back(threshold);
    cases.push_back({"sparse_code " + name + " + sparse_decode", inputs,
                     [s](const std::vector<Tensor>& x) {
                       SparseSelection sel = s;
                       if (x.size() > 5) sel.threshold = x[5];
                       const SparseCode z = sparse_code(sparse_preactivation(x[0], x[1], x[2]),
                                                        x[0], x[1], x[2], sel);
                       return sparse_decode(z, x[3], x[4]);
                     },
                     true});
  };
  sparse_case("topk", {Kind::topk, 5, {}, 0}, {});
  sparse_case("batch_topk", {Kind::batch_topk, 3, {}, 0}, {});
  sparse_case("threshold", {Kind::threshold, 0, {}, 0}, {Shape{}, 3, 5, false, false});
  sparse_case("threshold per latent", {Kind::threshold, 0, {}, 0}, {Shape{65}, 3, 6, false, false});
  sparse_case("jumprelu", {Kind::jumprelu, 0, {}, 1.0}, {Shape{65}, 1, 1.8});
  cases.push_back({"sparse_code jumprelu l0",
                   {{Shape{33, 17}, -2, 2, false, false},
                    {Shape{65, 17}, -2, 2, false, false},
                    {Shape{65}, -2, 2, false, false},
                    {Shape{65}, 1, 1.8}},
                   [](const std::vector<Tensor>& x) {
                     return sparse_code(sparse_preactivation(x[0], x[1], x[2]), x[0], x[1], x[2],
                                        {Kind::jumprelu, 0, x[3], 1.0})
                         .l0;
                   },
                   true});
  return cases;
}

TEST(OpsOnCuda, EveryOpForwardAndBackwardFloat32) {
  for (const OpCase& c : all_cases()) check_case<float>(c);
}

TEST(OpsOnCuda, EveryOpForwardAndBackwardFloat64) {
  for (const OpCase& c : all_cases()) check_case<double>(c);
}

}  // namespace
}  // namespace ae::gputest
