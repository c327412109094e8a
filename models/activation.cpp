#include "models/activation.h"

#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

namespace {
struct Named {
  Activation act;
  UnaryOp op;
  const char* name;
};
constexpr Named kActivations[] = {
    {Activation::identity, UnaryOp::identity, "identity"},
    {Activation::sigmoid, UnaryOp::sigmoid, "sigmoid"},
    {Activation::tanh, UnaryOp::tanh, "tanh"},
    {Activation::relu, UnaryOp::relu, "relu"},
    {Activation::leaky_relu, UnaryOp::leaky_relu, "leaky_relu"},
    {Activation::softplus, UnaryOp::softplus, "softplus"},
};

const Named& entry(Activation a) {
  for (const Named& n : kActivations)
    if (n.act == a) return n;
  fail(cat("activation: unknown activation ", static_cast<int>(a)));
}
}  // namespace

const char* activation_name(Activation a) { return entry(a).name; }

Activation parse_activation(const std::string& name) {
  for (const Named& n : kActivations)
    if (name == n.name) return n.act;
  fail(cat("'", name, "' is not one of identity, sigmoid, tanh, relu, leaky_relu, softplus"));
}

UnaryOp unary_op(Activation a) { return entry(a).op; }

UnaryParams unary_params(Activation a) {
  return a == Activation::leaky_relu ? UnaryParams{kLeakySlope, 0} : UnaryParams{};
}

Tensor apply(Activation act, const Tensor& x) {
  return act == Activation::identity ? x : unary(unary_op(act), x, unary_params(act));
}

}  // namespace ae::models
