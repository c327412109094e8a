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
  // Host memory for asynchronous copies: page-locked on CUDA (cudaMallocHost), so that a
  // host_to_device copy from it returns at once and runs in stream order; plain on the CPU.
  void* (*host_alloc)(size_t bytes);
  void (*host_free)(void* ptr);
  // Events, to know when a stream has passed a point (a copy out of a host buffer is done):
  // event_create makes an event on the stream's device (an event is recorded only on streams of
  // the device it was made on), event_record marks the point on the stream, event_synchronize
  // waits for it on the host. The CPU runs everything in order, so its events are null and never
  // wait.
  void* (*event_create)(Stream);
  void (*event_destroy)(void* event);
  void (*event_record)(void* event, Stream);
  void (*event_synchronize)(void* event);

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

  // --- fused kernels: the hot spots of an autoencoder's training step -------------------------
  // Scalars marked (1) are one-element device buffers, so nothing waits for the host. `act` is
  // an activation of AE_UNARY_OPS (identity, sigmoid, tanh, relu, leaky_relu, softplus) whose
  // derivative is taken from its output y (see math::activation_grad).
  //
  // Linear layer epilogue, in place after the GEMM z = x Wᵀ: y (rows, cols) = act(z + b); b
  // (cols) may be null (no bias).
  void (*bias_act_forward)(UnaryOp act, DType dt, void* y, const void* b, int64_t rows,
                           int64_t cols, UnaryParams, Stream);
  // dz = dy * act'(y); db (cols) = column sums of dz (skipped when db is null).
  void (*bias_act_backward)(UnaryOp act, DType dt, const void* y, const void* dy, void* dz,
                            void* db, int64_t rows, int64_t cols, UnaryParams, Stream);
  // KL sparsity of a sigmoid code h (rows, cols): rho_hat (cols) = column means of h clamped to
  // [kRhoEps, 1 - kRhoEps]; loss (1) = sum_j rho log(rho / rho_hat_j) + (1-rho) log((1-rho) / (1-rho_hat_j)).
  void (*kl_sparsity_forward)(DType dt, const void* h, int64_t rows, int64_t cols, double rho,
                              void* rho_hat, void* loss, Stream);
  // dh (rows, cols) = dloss(1) / rows * (-rho / rho_hat_j + (1-rho) / (1-rho_hat_j)).
  void (*kl_sparsity_backward)(DType dt, const void* rho_hat, const void* dloss, int64_t rows,
                               int64_t cols, double rho, void* dh, Stream);
  // Contractive penalty of a layer h = act(x Wᵀ + b), h (rows, code), W (code, in):
  // w_sq (code) = sum_j W_kj^2; loss (1) = 1/rows sum_i sum_k act'(h_ik)^2 w_sq_k.
  void (*contractive_forward)(UnaryOp act, DType dt, const void* h, const void* w, int64_t rows,
                              int64_t code, int64_t in, UnaryParams, void* w_sq, void* loss,
                              Stream);
  // dh = dloss(1) / rows * d(act'(h)^2)/dh * w_sq_k;
  // dw (code, in) = dloss(1) * 2/rows * (sum_i act'(h_ik)^2) * W_kj. Either output may be null.
  void (*contractive_backward)(UnaryOp act, DType dt, const void* h, const void* w,
                               const void* w_sq, const void* dloss, int64_t rows, int64_t code,
                               int64_t in, UnaryParams, void* dh, void* dw, Stream);
  // VAE sampling: z = mu + exp(logvar / 2) * eps with eps the Philox normals of (seed, offset)
  // (the rand_normal stream), and kl (1) = -1/(2 rows) sum (1 + logvar - mu^2 - exp(logvar)).
  void (*reparameterize_forward)(DType dt, const void* mu, const void* logvar, void* z, void* kl,
                                 int64_t rows, int64_t cols, uint64_t seed, uint64_t offset,
                                 Stream);
  // eps recomputed from (seed, offset): dmu = dz + dkl(1) mu / rows;
  // dlogvar = dz eps exp(logvar / 2) / 2 + dkl(1) (exp(logvar) - 1) / (2 rows). A null dz or
  // dkl counts as zero.
  void (*reparameterize_backward)(DType dt, const void* mu, const void* logvar, const void* dz,
                                  const void* dkl, int64_t rows, int64_t cols, uint64_t seed,
                                  uint64_t offset, void* dmu, void* dlogvar, Stream);

  // --- sparse codes (the sparse autoencoders of models/sae.h) --------------------------------
  // A sparse code is a (rows, width) block of slots: slot (r, s) holds the value v[r, s] of latent
  // index[r, s] (int32) of row r, or is empty (index -1, value 0). Latent directions are the rows
  // of a (latents, dim) matrix W (the decoder's dictionary, or the encoder's weight).
  //
  // Per row of x (rows, n), the k <= n largest entries: index (rows, k) in descending order of
  // value, ties to the lower latent; values (rows, k) = max(x, 0) at them (TopK after ReLU).
  void (*topk_rows)(DType dt, const void* x, int64_t rows, int64_t n, int64_t k, void* values,
                    int32_t* index, Stream);
  // kth (1) = the k-th largest of the count entries of x, 1 <= k <= count (BatchTopK's threshold).
  void (*kth_largest)(DType dt, const void* x, int64_t count, int64_t k, void* kth, Stream);
  // Threshold selection over x (rows, n): entry (r, i) is kept when x > 0 and x >= theta_i, and
  // kept as an empty-valued slot (value 0, its latent named) when theta_i - band < x < theta_i
  // and x > 0. theta is one value (per_latent false) or one per latent (n), on the device.
  // threshold_count writes counts (rows) of kept entries per row; threshold_select writes them
  // in latent order into width >= max(counts) slots per row, the rest empty; x_at (rows, width),
  // when not null, receives x at every kept slot (0 at empty ones).
  void (*threshold_count)(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                          bool per_latent, double band, int32_t* counts, Stream);
  void (*threshold_select)(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                           bool per_latent, double band, int64_t width, void* values, void* x_at,
                           int32_t* index, Stream);
  // y (rows, dim) = sum_s v[r, s] W[index[r, s], :] + b; b (dim) may be null.
  void (*sparse_decode)(DType dt, const void* values, const int32_t* index, int64_t rows,
                        int64_t width, const void* w, int64_t dim, const void* b, void* y,
                        Stream);
  // y (rows, latents) = 0, then y[r, index[r, s]] = v[r, s] at every filled slot.
  void (*sparse_to_dense)(DType dt, const void* values, const int32_t* index, int64_t rows,
                          int64_t width, int64_t latents, void* y, Stream);
  // dv (rows, width) = <dy[r, :], W[index[r, s], :]>, 0 at empty slots.
  void (*sparse_decode_backward)(DType dt, const void* dy, const int32_t* index, int64_t rows,
                                 int64_t width, const void* w, int64_t dim, void* dv, Stream);
  // The slots grouped by latent, for sums per latent without atomics: offsets (latents + 1) and
  // order (at most slots) the flat slot positions of latent i at [offsets[i], offsets[i + 1]), in
  // ascending order. Empty slots are left out.
  void (*group_by_latent)(const int32_t* index, int64_t slots, int64_t latents, int32_t* offsets,
                          int32_t* order, Stream);
  // Per latent i, over its slots p = r * width + s (from group_by_latent):
  //   dw[i, :] = beta dw[i, :] + sum_p g[p] x[r, :]    (dw (latents, dim); skipped when null)
  //   db[i]    = beta db[i]    + sum_p g[p]            (skipped when null)
  // The gradient of a weight read at the slots' latents (dense only where latents fired).
  void (*sparse_outer_grad)(DType dt, const void* g, const int32_t* offsets, const int32_t* order,
                            int64_t width, const void* x, int64_t latents, int64_t dim,
                            double beta, void* dw, void* db, Stream);
  // Rows of a dictionary W (rows, cols) kept at unit norm (Bricken et al. 2023): row_normalize
  // sets w_r = w_r / ‖w_r‖ (a zero row stays zero); row_project_out removes from each gradient
  // row its component along the (unit) weight row, g_r = g_r − (g_r · w_r) w_r. Sums in float64.
  void (*row_normalize)(DType dt, void* w, int64_t rows, int64_t cols, Stream);
  void (*row_project_out)(DType dt, const void* w, void* g, int64_t rows, int64_t cols, Stream);
  // JumpReLU's straight-through pieces (Rajamanoharan et al. 2024, eqs. 11-12) at the slots of a
  // threshold selection with band eps / 2: with theta_i = exp(log_theta_i) at the slot's latent
  // and K = 1 when |x_at - theta_i| < eps / 2, else 0,
  //   l0 (1)       = 1/rows * the number of slots with value > 0     (jumprelu_l0 only)
  //   g[p]         = -K theta_i / eps * (dv[p] theta_i + dl0(1) / rows)   (per slot, d/dlog theta)
  // dv or dl0 may be null (zero).
  void (*jumprelu_l0)(DType dt, const void* values, int64_t slots, int64_t rows, void* l0,
                      Stream);
  void (*jumprelu_threshold_grad)(DType dt, const void* dv, const void* dl0, const void* x_at,
                                  const int32_t* index, int64_t rows, int64_t width,
                                  const void* log_theta, double eps, void* g, Stream);

  // --- a training step without host synchronisation, replayable as a CUDA graph ---------------
  // A replayed graph re-runs its kernels with the arguments they were captured with, so every
  // value that changes from step to step is read on the device, from buffers the step updates.
  //
  // adam_update / sgd_update with the learning rate read from lr (1, float64) instead of a.lr /
  // s.lr, and Adam's bias corrections 1 - beta1^t, 1 - beta2^t taken with t = *step (1, uint64)
  // instead of a.bias_correction1/2. The same arithmetic as the by-value entries otherwise.
  void (*adam_update_indirect)(DType dt, void* p, const void* g, void* m, void* v, int64_t n,
                               AdamParams, const double* lr, const uint64_t* step, Stream);
  void (*sgd_update_indirect)(DType dt, void* p, const void* g, void* velocity, int64_t n,
                              SgdParams, const double* lr, Stream);
  // counter (1, uint64) += value
  void (*counter_add)(uint64_t* counter, uint64_t value, Stream);
  // acc (n, float64) += weight * *values[i], i < n <= kMaxAccumulated: `values` is a host array
  // of n device pointers to one-element tensors of dtype dt (the loss terms of a step). One
  // launch for all of them, summed in float64.
  void (*accumulate_scalars)(DType dt, const void* const* values, int n, double weight,
                             double* acc, Stream);
  // While `counter` (1, uint64, memory of `device`) is set, every Philox draw on `device`
  // (rand_uniform, rand_normal and the draws of reparameterize_*) starts at offset + *counter,
  // read when the kernel runs; nullptr restores the plain offsets. A captured step that draws
  // noise then draws fresh noise on each replay as the counter advances.
  void (*set_rand_offset_counter)(int device, const uint64_t* counter);
  // float32 GEMMs on `device` in TF32 (tensor cores, inputs rounded to a 10-bit mantissa, float32
  // accumulation) when on; off, the default, keeps full float32. The CPU always computes float32.
  void (*set_tf32)(int device, bool on);

  // Graph capture: the work ordered on `stream` between begin and end is recorded instead of
  // run, then replayed as a whole by launch. begin returns false when the backend cannot capture
  // (the CPU); inside a capture no call may wait for the device. end returns the executable
  // graph, an opaque handle for launch and destroy.
  bool (*graph_begin)(Stream);
  void* (*graph_end)(Stream);
  void (*graph_launch)(void* graph, Stream);
  void (*graph_destroy)(void* graph);
};

// The most loss terms one accumulate_scalars call takes.
inline constexpr int kMaxAccumulated = 8;

const Backend& cpu_backend();
// The CUDA table, or nullptr when ae was built without the CUDA backend.
const Backend* cuda_backend();

}  // namespace ae
