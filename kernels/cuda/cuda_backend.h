// The CUDA backend: the functions behind cuda_backend()'s table (semantics: kernels/backend.h),
// plus the per-device state they share. Every entry orders its work on the given stream and
// returns without waiting for it.
#pragma once
#include "kernels/backend.h"

namespace ae::cu {

// --- devices, streams, memory (memory.cpp) ----------------------------------------------------
int device_count();
Stream stream(int device);
void* alloc(size_t bytes, int device, Stream s);
void free(void* ptr, int device, Stream s);
void copy(void* dst, const void* src, size_t bytes, CopyKind kind, Stream s);
void* host_alloc(size_t bytes);
void host_free(void* ptr);
void* event_create(Stream s);  // on s's device
void event_destroy(void* event);
void event_record(void* event, Stream s);
void event_synchronize(void* event);
void synchronize(Stream s);

// What the launchers need to know about the device a stream belongs to.
struct DeviceInfo {
  int index = 0;
  int sm_count = 0;
};
// Makes the stream's device current (launches and cuBLAS calls must run there) and returns it.
// Streams from stream(device) are known; any other stream is taken to be on the current device.
const DeviceInfo& activate(Stream s);

// Scratch memory from the pool of the stream's device, ordered on the stream (multi-pass
// reductions, the terms of a penalty); released, stream-ordered, when the scope ends. Errors
// while releasing are reported on stderr (a destructor does not throw).
class Scratch {
 public:
  Scratch(size_t bytes, Stream s);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  Stream stream_;
};

// --- fills and casts, data movement (fill_copy.cu) --------------------------------------------
void fill(DType dt, void* y, int64_t n, double value, Stream s);
void arange(DType dt, void* y, int64_t n, double start, double step, Stream s);
void cast(DType from, const void* x, DType to, void* y, int64_t n, Stream s);
void transpose(DType dt, const void* x, void* y, int64_t rows, int64_t cols, Stream s);
void copy_block(DType dt, const void* src, int64_t src_ld, void* dst, int64_t dst_ld,
                int64_t rows, int64_t cols, Stream s);

// --- elementwise (elementwise.cu) -------------------------------------------------------------
void unary_forward(UnaryOp op, DType dt, const void* x, void* y, int64_t n, UnaryParams p,
                   Stream s);
void unary_backward(UnaryOp op, DType dt, const void* x, const void* y, const void* dy, void* dx,
                    int64_t n, UnaryParams p, Stream s);
void binary_forward(BinaryOp op, DType dt, const void* a, const void* b, void* y, int64_t rows,
                    int64_t cols, Broadcast bc, Stream s);
void loss_forward(LossOp op, DType dt, const void* pred, const void* target, void* y, int64_t n,
                  Stream s);
void loss_backward(LossOp op, DType dt, const void* pred, const void* target, const void* dy,
                   void* dpred, int64_t n, Stream s);
void adam_update(DType dt, void* p, const void* g, void* m, void* v, int64_t n, AdamParams a,
                 Stream s);
void sgd_update(DType dt, void* p, const void* g, void* velocity, int64_t n, SgdParams sp,
                Stream s);

// --- fused kernels (fused.cu) -----------------------------------------------------------------
void bias_act_forward(UnaryOp act, DType dt, void* y, const void* b, int64_t rows, int64_t cols,
                      UnaryParams p, Stream s);
void bias_act_backward(UnaryOp act, DType dt, const void* y, const void* dy, void* dz, void* db,
                       int64_t rows, int64_t cols, UnaryParams p, Stream s);
void kl_sparsity_forward(DType dt, const void* h, int64_t rows, int64_t cols, double rho,
                         void* rho_hat, void* loss, Stream s);
void kl_sparsity_backward(DType dt, const void* rho_hat, const void* dloss, int64_t rows,
                          int64_t cols, double rho, void* dh, Stream s);
void contractive_forward(UnaryOp act, DType dt, const void* h, const void* w, int64_t rows,
                         int64_t code, int64_t in, UnaryParams p, void* w_sq, void* loss, Stream s);
void contractive_backward(UnaryOp act, DType dt, const void* h, const void* w, const void* w_sq,
                          const void* dloss, int64_t rows, int64_t code, int64_t in,
                          UnaryParams p, void* dh, void* dw, Stream s);
void reparameterize_forward(DType dt, const void* mu, const void* logvar, void* z, void* kl,
                            int64_t rows, int64_t cols, uint64_t seed, uint64_t offset, Stream s);
void reparameterize_backward(DType dt, const void* mu, const void* logvar, const void* dz,
                             const void* dkl, int64_t rows, int64_t cols, uint64_t seed,
                             uint64_t offset, void* dmu, void* dlogvar, Stream s);

// --- linear algebra (gemm.cpp) ----------------------------------------------------------------
void gemm(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, const void* b, double beta, void* c, Stream s);
// Destroys every device's cuBLAS handle and frees its workspace, after waiting for the device.
// For the end of a process only (the GPU test binary, before cudaDeviceReset, so that
// compute-sanitizer's leak check reports only what ae itself leaked): no GEMM may run after it.
void release_gemm_handles();

// --- reductions (reduce.cu) -------------------------------------------------------------------
void reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                double scale, Stream s);
void expand(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
            double scale, Stream s);

// --- sparse codes (sparse.cu) ------------------------------------------------------------------
void topk_rows(DType dt, const void* x, int64_t rows, int64_t n, int64_t k, void* values,
               int32_t* index, Stream s);
void kth_largest(DType dt, const void* x, int64_t count, int64_t k, void* kth, Stream s);
void threshold_count(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                     bool per_latent, double band, int32_t* counts, Stream s);
void threshold_select(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                      bool per_latent, double band, int64_t width, void* values, void* x_at,
                      int32_t* index, Stream s);
void sparse_decode(DType dt, const void* values, const int32_t* index, int64_t rows,
                   int64_t width, const void* w, int64_t dim, const void* b, void* y, Stream s);
void sparse_to_dense(DType dt, const void* values, const int32_t* index, int64_t rows,
                     int64_t width, int64_t latents, void* y, Stream s);
void sparse_decode_backward(DType dt, const void* dy, const int32_t* index, int64_t rows,
                            int64_t width, const void* w, int64_t dim, void* dv, Stream s);
void group_by_latent(const int32_t* index, int64_t slots, int64_t latents, int32_t* offsets,
                     int32_t* order, Stream s);
void sparse_outer_grad(DType dt, const void* g, const int32_t* offsets, const int32_t* order,
                       int64_t width, const void* x, int64_t latents, int64_t dim, double beta,
                       void* dw, void* db, Stream s);
void row_normalize(DType dt, void* w, int64_t rows, int64_t cols, Stream s);
void row_project_out(DType dt, const void* w, void* g, int64_t rows, int64_t cols, Stream s);
void jumprelu_l0(DType dt, const void* values, int64_t slots, int64_t rows, void* l0, Stream s);
void jumprelu_threshold_grad(DType dt, const void* dv, const void* dl0, const void* x_at,
                             const int32_t* index, int64_t rows, int64_t width,
                             const void* log_theta, double eps, void* g, Stream s);

// --- a training step without host synchronisation (step.cu) ---------------------------------
void adam_update_indirect(DType dt, void* p, const void* g, void* m, void* v, int64_t n,
                          AdamParams a, const double* lr, const uint64_t* step, Stream s);
void sgd_update_indirect(DType dt, void* p, const void* g, void* velocity, int64_t n,
                         SgdParams sp, const double* lr, Stream s);
void counter_add(uint64_t* counter, uint64_t value, Stream s);
void accumulate_scalars(DType dt, const void* const* values, int n, double weight, double* acc,
                        Stream s);

// --- the device-side Philox offset counter (random.cu) and TF32 GEMMs (gemm.cpp) ---------------
void set_rand_offset_counter(int device, const uint64_t* counter);
void set_tf32(int device, bool on);

// --- CUDA graphs (graph.cpp) ------------------------------------------------------------------
bool graph_begin(Stream s);
void* graph_end(Stream s);
void graph_launch(void* graph, Stream s);
void graph_destroy(void* graph);

}  // namespace ae::cu
