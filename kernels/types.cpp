#include "kernels/types.h"

namespace ae {

#define AE_NAME_CASE(name) \
  case decltype(op)::name: return #name;

const char* op_name(UnaryOp op) {
  switch (op) { AE_UNARY_OPS(AE_NAME_CASE) }
  return "unary?";
}
const char* op_name(BinaryOp op) {
  switch (op) { AE_BINARY_OPS(AE_NAME_CASE) }
  return "binary?";
}
const char* op_name(LossOp op) {
  switch (op) { AE_LOSS_OPS(AE_NAME_CASE) }
  return "loss?";
}
#undef AE_NAME_CASE

}  // namespace ae
