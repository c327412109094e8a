// A backend is a table of plain functions over raw pointers (the ggml idea). The CPU table is the
// reference; the CUDA table must compute the same function on every valid input.
//
// Conventions, stated once for every entry:
//   - matrices are row-major and contiguous; a (rows, cols) matrix has leading dimension cols;
//   - outputs are overwritten, never accumulated into, unless the entry says beta;
//   - `dt` is the element type of every pointer argument of the call;
//   - every call is ordered on `stream` (CUDA) and may return before the work is done.
#pragma once
#include "kernels/types.h"

namespace ae {

struct Backend {
  const char* name;

  // --- devices and memory -------------------------------------------------------------------
  int (*device_count)();                        // 0 when no usable device (no driver, no GPU)
  Stream (*stream)(int device);                 // the stream ae orders its work on
  void* (*alloc)(size_t bytes, int device, Stream);
  void (*free)(void* ptr, int device, Stream);
  void (*copy)(void* dst, const void* src, size_t bytes, CopyKind, Stream);
  void (*synchronize)(Stream);

  // --- fills and casts ----------------------------------------------------------------------
  void (*fill)(DType dt, void* y, int64_t n, double value, Stream);
  void (*arange)(DType dt, void* y, int64_t n, double start, double step, Stream);
  void (*cast)(DType from, const void* x, DType to, void* y, int64_t n, Stream);

  // --- elementwise --------------------------------------------------------------------------
  // y = f(x)
  void (*unary_forward)(UnaryOp, DType dt, const void* x, void* y, int64_t n, UnaryParams, Stream);
  // dx = dy * f'(x), given x and y = f(x)
  void (*unary_backward)(UnaryOp, DType dt, const void* x, const void* y, const void* dy, void* dx,
                         int64_t n, UnaryParams, Stream);
  // y = a (op) b over a (rows, cols) view of a; b laid out as `bc` says
  void (*binary_forward)(BinaryOp, DType dt, const void* a, const void* b, void* y, int64_t rows,
                         int64_t cols, Broadcast bc, Stream);
  // y = l(pred, target) elementwise
  void (*loss_forward)(LossOp, DType dt, const void* pred, const void* target, void* y, int64_t n,
                       Stream);
  // dpred = dy * dl/dpred
  void (*loss_backward)(LossOp, DType dt, const void* pred, const void* target, const void* dy,
                        void* dpred, int64_t n, Stream);

  // --- linear algebra -----------------------------------------------------------------------
  // C (m, n) = alpha * op(A) op(B) + beta * C, op(A) (m, k), op(B) (k, n); A is stored (m, k)
  // or, when trans_a, (k, m); likewise B.
  void (*gemm)(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
               const void* a, const void* b, double beta, void* c, Stream);
  // y (cols, rows) = x (rows, cols) transposed
  void (*transpose)(DType dt, const void* x, void* y, int64_t rows, int64_t cols, Stream);

  // --- reductions and their adjoints, over x viewed as (outer, n, inner) ----------------------
  // y (outer, inner) = scale * sum_j x[o, j, i]
  void (*reduce_sum)(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                     double scale, Stream);
  // y (outer, n, inner) = scale * x[o, i]   (the adjoint of reduce_sum)
  void (*expand)(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                 double scale, Stream);

  // --- data movement ------------------------------------------------------------------------
  // dst[r, c] = src[r, c] for a (rows, cols) block; rows start `src_ld` / `dst_ld` elements apart
  void (*copy_block)(DType dt, const void* src, int64_t src_ld, void* dst, int64_t dst_ld,
                     int64_t rows, int64_t cols, Stream);

  // --- optimizer updates, in place over one parameter and its state (velocity may be null when
  // momentum is 0) ----------------------------------------------------------------------------
  void (*adam_update)(DType dt, void* p, const void* g, void* m, void* v, int64_t n, AdamParams,
                      Stream);
  void (*sgd_update)(DType dt, void* p, const void* g, void* velocity, int64_t n, SgdParams,
                     Stream);

  // --- randomness: cuRAND's Philox4_32_10 stream for (seed, subsequence 0, offset) ------------
  // y[i] is the i-th curand_uniform / curand_normal after curand_init(seed, 0, offset).
  void (*rand_uniform)(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream);
  void (*rand_normal)(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream);
};

const Backend& cpu_backend();
// The CUDA table, or nullptr when ae was built without the CUDA backend.
const Backend* cuda_backend();

}  // namespace ae
