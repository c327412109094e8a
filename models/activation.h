// Activation functions of the autoencoder layers, by name, and the elementwise op computing each
// (the fused linear op applies it in the GEMM's epilogue).
#pragma once
#include <string>

#include "core/tensor.h"

namespace ae::models {

enum class Activation : uint8_t { identity, sigmoid, tanh, relu, leaky_relu, softplus };

// The slope of leaky_relu for negative inputs.
inline constexpr double kLeakySlope = 0.01;

const char* activation_name(Activation a);
Activation parse_activation(const std::string& name);  // "sigmoid", "relu", ...; else ae::Error

// The elementwise op and its parameters (leaky_relu's slope).
UnaryOp unary_op(Activation a);
UnaryParams unary_params(Activation a);

// f(x) elementwise, recorded for autograd.
Tensor apply(Activation act, const Tensor& x);

}  // namespace ae::models
