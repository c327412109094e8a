// The CPU backend, the reference the CUDA kernels are checked against: GEMMs through OpenBLAS,
// every other entry a plain loop over its formula (kernels/scalar_math.h), sums in float64 where
// they are cheap. Results depend on nothing but the inputs and the thread count. Entry semantics:
// kernels/backend.h.
#pragma once
#include "kernels/backend.h"

#include <type_traits>

namespace ae::cpu {

// Calls f with the element type of dt as a typed null pointer: f(static_cast<float*>(nullptr)).
template <class F>
void dispatch(DType dt, F&& f) {
  if (dt == DType::f32) f(static_cast<float*>(nullptr));
  else f(static_cast<double*>(nullptr));
}
template <class Tag>
using elem_t = std::remove_pointer_t<Tag>;

// The CPU tensor allocator's counters (kernels/cpu/backend.cpp). Blocks are 64-byte aligned and
// rounded up to 64 bytes; a freed block is cached for the next request of its size.
struct MemoryStats {
  int64_t system_allocs = 0;  // blocks taken from the system (aligned_alloc) so far
  int64_t system_frees = 0;   // blocks given back to it
  size_t in_use_bytes = 0;    // held by tensors now
  size_t cached_bytes = 0;    // freed, waiting for reuse
};
MemoryStats memory_stats();
// Gives every cached block back to the system.
void release_cached_memory();

void unary_forward(UnaryOp op, DType dt, const void* x, void* y, int64_t n, UnaryParams p, Stream);
void unary_backward(UnaryOp op, DType dt, const void* x, const void* y, const void* dy, void* dx,
                    int64_t n, UnaryParams p, Stream);
void binary_forward(BinaryOp op, DType dt, const void* a, const void* b, void* y, int64_t rows,
                    int64_t cols, Broadcast bc, Stream);
void loss_forward(LossOp op, DType dt, const void* pred, const void* target, void* y, int64_t n,
                  Stream);
void loss_backward(LossOp op, DType dt, const void* pred, const void* target, const void* dy,
                   void* dpred, int64_t n, Stream);

// Threads of the process's one pool (OpenBLAS's GEMMs and ae's loops): AE_CPU_THREADS when set,
// else the cores the process may use (affinity mask and cgroup CPU quota). Read once. Throws
// ae::Error on a malformed AE_CPU_THREADS. (threads.cpp, with what keeps the pool usable in a
// forked child.)
int64_t worker_threads();
// The threads a GEMM of m · n · k multiply-adds runs on: one when it is small, else the pool's.
int gemm_threads(int64_t m, int64_t n, int64_t k);
// C (m, n) = alpha op(A) op(B) + beta C by OpenBLAS (cblas_sgemm / cblas_dgemm, row-major).
void gemm(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, const void* b, double beta, void* c, Stream);
void transpose(DType dt, const void* x, void* y, int64_t rows, int64_t cols, Stream);

void reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                double scale, Stream);
void expand(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
            double scale, Stream);

void adam_update(DType dt, void* p, const void* g, void* m, void* v, int64_t n, AdamParams a,
                 Stream);
void sgd_update(DType dt, void* p, const void* g, void* velocity, int64_t n, SgdParams s, Stream);

// sparse.cpp
void topk_rows(DType dt, const void* x, int64_t rows, int64_t n, int64_t k, void* values,
               int32_t* index, Stream);
void kth_largest(DType dt, const void* x, int64_t count, int64_t k, void* kth, Stream);
void threshold_count(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                     bool per_latent, double band, int32_t* counts, Stream);
void threshold_select(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                      bool per_latent, double band, int64_t width, void* values, void* x_at,
                      int32_t* index, Stream);
void sparse_decode(DType dt, const void* values, const int32_t* index, int64_t rows,
                   int64_t width, const void* w, int64_t dim, const void* b, void* y, Stream);
void sparse_to_dense(DType dt, const void* values, const int32_t* index, int64_t rows,
                     int64_t width, int64_t latents, void* y, Stream);
void sparse_decode_backward(DType dt, const void* dy, const int32_t* index, int64_t rows,
                            int64_t width, const void* w, int64_t dim, void* dv, Stream);
void group_by_latent(const int32_t* index, int64_t slots, int64_t latents, int32_t* offsets,
                     int32_t* order, Stream);
void sparse_outer_grad(DType dt, const void* g, const int32_t* offsets, const int32_t* order,
                       int64_t width, const void* x, int64_t latents, int64_t dim, double beta,
                       void* dw, void* db, Stream);
void row_normalize(DType dt, void* w, int64_t rows, int64_t cols, Stream);
void row_project_out(DType dt, const void* w, void* g, int64_t rows, int64_t cols, Stream);
void jumprelu_l0(DType dt, const void* values, int64_t slots, int64_t rows, void* l0, Stream);
void jumprelu_threshold_grad(DType dt, const void* dv, const void* dl0, const void* x_at,
                             const int32_t* index, int64_t rows, int64_t width,
                             const void* log_theta, double eps, void* g, Stream);

// fused.cpp
void bias_act_forward(UnaryOp act, DType dt, void* y, const void* b, int64_t rows, int64_t cols,
                      UnaryParams p, Stream);
void bias_act_backward(UnaryOp act, DType dt, const void* y, const void* dy, void* dz, void* db,
                       int64_t rows, int64_t cols, UnaryParams p, Stream);
void kl_sparsity_forward(DType dt, const void* h, int64_t rows, int64_t cols, double rho,
                         void* rho_hat, void* loss, Stream);
void kl_sparsity_backward(DType dt, const void* rho_hat, const void* dloss, int64_t rows,
                          int64_t cols, double rho, void* dh, Stream);
void contractive_forward(UnaryOp act, DType dt, const void* h, const void* w, int64_t rows,
                         int64_t code, int64_t in, UnaryParams p, void* w_sq, void* loss, Stream);
void contractive_backward(UnaryOp act, DType dt, const void* h, const void* w, const void* w_sq,
                          const void* dloss, int64_t rows, int64_t code, int64_t in,
                          UnaryParams p, void* dh, void* dw, Stream);
void reparameterize_forward(DType dt, const void* mu, const void* logvar, void* z, void* kl,
                            int64_t rows, int64_t cols, uint64_t seed, uint64_t offset, Stream);
void reparameterize_backward(DType dt, const void* mu, const void* logvar, const void* dz,
                             const void* dkl, int64_t rows, int64_t cols, uint64_t seed,
                             uint64_t offset, void* dmu, void* dlogvar, Stream);

// step.cpp
void adam_update_indirect(DType dt, void* p, const void* g, void* m, void* v, int64_t n,
                          AdamParams a, const double* lr, const uint64_t* step, Stream);
void sgd_update_indirect(DType dt, void* p, const void* g, void* velocity, int64_t n,
                         SgdParams s, const double* lr, Stream);
void counter_add(uint64_t* counter, uint64_t value, Stream);
void accumulate_scalars(DType dt, const void* const* values, int n, double weight, double* acc,
                        Stream);
void set_tf32(int device, bool on);
bool graph_begin(Stream);
void* graph_end(Stream);
void graph_launch(void* graph, Stream);
void graph_destroy(void* graph);

}  // namespace ae::cpu
