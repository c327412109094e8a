// Argument checks of the fused entries (kernels/backend.h). Both backends call them, so a bad
// call fails with the same message on either; the fused ops (core/ops/fused.cpp) use them too,
// to reject bad input before any work is queued.
#pragma once
#include <cstdint>

#include "core/error.h"
#include "kernels/types.h"

// The activations the fused entries accept, by their AE_UNARY_OPS names. The CUDA kernels are
// instantiated once per entry, so this list and is_activation cannot drift apart.
#define AE_ACTIVATIONS(X) X(identity) X(sigmoid) X(tanh) X(relu) X(leaky_relu) X(softplus)

namespace ae::fused {

inline constexpr bool is_activation(UnaryOp op) {
#define AE_IS_ACTIVATION(name) op == UnaryOp::name ||
  return AE_ACTIVATIONS(AE_IS_ACTIVATION) false;
#undef AE_IS_ACTIVATION
}

// "identity, sigmoid, ...": the list above, for messages.
#define AE_ACTIVATION_NAME(name) ", " #name
inline constexpr const char* kActivationNames = AE_ACTIVATIONS(AE_ACTIVATION_NAME) + 2;
#undef AE_ACTIVATION_NAME

inline void check_activation(const char* op, UnaryOp act) {
  AE_CHECK(is_activation(act), op, ": ", op_name(act), " is not an activation (", kActivationNames,
           ")");
}

// The penalties are means over the batch: with no rows they have no value (0 / 0).
inline void check_batch(const char* op, int64_t rows) {
  AE_CHECK(rows > 0, op, ": empty batch (rows=", rows, ")");
}

}  // namespace ae::fused
