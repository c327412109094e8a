// Shared vocabulary of the kernels: element types, op lists and the stream handle.
// kernels/ knows nothing of Tensor; these are the only types a kernel signature uses.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ae {

enum class DType : uint8_t { f32, f64 };
inline constexpr size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 8; }
inline constexpr const char* dtype_name(DType t) { return t == DType::f32 ? "float32" : "float64"; }

// An opaque stream: cudaStream_t on the CUDA backend, ignored on the CPU.
using Stream = void*;

// The op tables. Each list is the single source of truth: enums, names, dispatch and the
// per-op tests are all generated from it. Adding an entry here is step one of adding an op.
//   elementwise y = f(x; a, b):
//     affine y = a*x + b    pow y = x^a    clamp y = min(max(x, a), b)    leaky_relu slope a
#define AE_UNARY_OPS(X)                                                                         \
  X(neg) X(exp) X(log) X(square) X(sqrt) X(abs) X(pow) X(clamp) X(affine) X(sigmoid) X(tanh)    \
  X(relu) X(leaky_relu) X(softplus) X(identity)
#define AE_BINARY_OPS(X) X(add) X(sub) X(mul) X(div)
// Elementwise losses l(p, t); reductions are separate ops.
//   squared_error (p-t)^2   bce -(t log p + (1-t) log(1-p))   absolute_error |p-t|
//   bce_with_logits: the same as bce on sigmoid(p), computed stably from the logit p.
#define AE_LOSS_OPS(X) X(squared_error) X(bce) X(bce_with_logits) X(absolute_error)

#define AE_ENUM_ENTRY(name) name,
enum class UnaryOp : uint8_t { AE_UNARY_OPS(AE_ENUM_ENTRY) };
enum class BinaryOp : uint8_t { AE_BINARY_OPS(AE_ENUM_ENTRY) };
enum class LossOp : uint8_t { AE_LOSS_OPS(AE_ENUM_ENTRY) };
#undef AE_ENUM_ENTRY

// Every op of each list, for code that walks them all (tests, benchmarks).
#define AE_LIST_ENTRY(prefix, name) prefix::name,
#define AE_UNARY_ENTRY(name) AE_LIST_ENTRY(UnaryOp, name)
#define AE_BINARY_ENTRY(name) AE_LIST_ENTRY(BinaryOp, name)
#define AE_LOSS_ENTRY(name) AE_LIST_ENTRY(LossOp, name)
inline constexpr UnaryOp kUnaryOps[] = {AE_UNARY_OPS(AE_UNARY_ENTRY)};
inline constexpr BinaryOp kBinaryOps[] = {AE_BINARY_OPS(AE_BINARY_ENTRY)};
inline constexpr LossOp kLossOps[] = {AE_LOSS_OPS(AE_LOSS_ENTRY)};
#undef AE_UNARY_ENTRY
#undef AE_BINARY_ENTRY
#undef AE_LOSS_ENTRY
#undef AE_LIST_ENTRY

const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);
const char* op_name(LossOp op);

// Parameters of the unary ops that take them (see the list above); unused otherwise.
struct UnaryParams {
  double a = 0;
  double b = 0;
};

// How the second operand of a binary op is laid out against the first, viewed as (rows, cols):
//   none: the same (rows, cols)   row: a vector of cols, the same for every row (a bias)
enum class Broadcast : uint8_t { none, row };

// Optimizer hyper-parameters for one update (one step t) of the fused update kernels.
// Adam: g' = g + wd p (L2, when !decoupled); m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
//       p -= lr (m / c1) / (sqrt(v / c2) + eps) + (decoupled ? lr wd p : 0), c1 = 1-b1^t, c2 = 1-b2^t.
struct AdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;  // AdamW
  double bias_correction1 = 1, bias_correction2 = 1;
};
// SGD (PyTorch's convention): g' = g + wd p; v = mu v + g'; p -= lr (nesterov ? g' + mu v : v).
struct SgdParams {
  double lr = 1e-2, momentum = 0, weight_decay = 0;
  bool nesterov = false;
};

enum class CopyKind : uint8_t { host_to_device, device_to_host, device_to_device };

// The probability clamp of the cross-entropy losses: log(p) is evaluated at max(p, kProbEps)
// and log(1-p) at max(1-p, kProbEps), so p = 0 or 1 gives a large but finite loss.
inline constexpr double kProbEps = 1e-12;
// The clamp of the KL-sparsity mean activation rho_hat, so the penalty stays finite.
inline constexpr double kRhoEps = 1e-6;

}  // namespace ae
