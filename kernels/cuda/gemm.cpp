// GEMM through cuBLAS (loaded on first use: cublas_lib.h). ae's matrices are row-major; cuBLAS
// is column-major. A row-major (r, c) matrix with leading dimension c is, read column-major, its
// transpose (c, r) with the same leading dimension. So C = op(A) op(B) (row-major) is computed as the column-major product
// C^T = op(B)^T op(A)^T, i.e. cuBLAS is called with the operands swapped and m, n exchanged:
//   cublas<t>gemm(op_b, op_a, n, m, k, alpha, B, ldb, A, lda, beta, C, n)
// where lda = trans_a ? m : k and ldb = trans_b ? k : n are the row lengths as stored.
//
// Float32 products use CUBLAS_DEFAULT_MATH: full float32 arithmetic (so the results stay within
// float32 rounding of the CPU reference), unless set_tf32 turned TF32 tensor-core math on for the
// device. One handle per device, created on first use and bound to the device's stream; it is
// never destroyed (the process owns it until exit, when tearing it down could run after the CUDA
// runtime itself is gone). Each handle has its own workspace, so that a GEMM captured into a CUDA
// graph never asks cuBLAS to allocate; cublasSetStream resets the workspace, so it is set again
// after every rebinding.
#include <atomic>
#include <climits>
#include <mutex>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cublas_lib.h"
#include "kernels/cuda/cuda_backend.h"

namespace ae::cu {

namespace {

constexpr int kMaxDevices = 64;
// cuBLAS's recommendation for Hopper (and enough for every earlier architecture).
constexpr size_t kWorkspaceBytes = size_t{32} << 20;

struct Handle {
  std::once_flag once;
  cublasHandle_t handle = nullptr;
  void* workspace = nullptr;
  cudaStream_t bound = nullptr;  // the stream the handle was last bound to
  bool tf32 = false;             // the math mode the handle was last given
};

std::atomic<bool> g_tf32[kMaxDevices];  // what set_tf32 asked for, per device
Handle g_handles[kMaxDevices];

void bind(Handle& h, cudaStream_t s, int device) {
  AE_CUBLAS_CHECK(cublas().cublasSetStream(h.handle, s),
                  "cuda gemm: binding the cuBLAS handle on cuda:", device);
  AE_CUBLAS_CHECK(cublas().cublasSetWorkspace(h.handle, h.workspace, kWorkspaceBytes),
                  "cuda gemm: the cuBLAS workspace on cuda:", device);
  h.bound = s;
}

void set_math_mode(Handle& h, bool tf32, int device) {
  const cublasMath_t mode = tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  AE_CUBLAS_CHECK(cublas().cublasSetMathMode(h.handle, mode),
                  "cuda gemm: cuBLAS math mode on cuda:", device);
  h.tf32 = tf32;
}

cublasHandle_t handle_for(const DeviceInfo& dev, cudaStream_t s) {
  Handle& h = g_handles[dev.index];
  std::call_once(h.once, [&] {
    // activate() has made dev current: the handle and its workspace belong to it.
    AE_CUBLAS_CHECK(cublas().cublasCreate(&h.handle),
                    "cuda gemm: creating the cuBLAS handle on cuda:", dev.index);
    AE_CUDA_CHECK(cudaMalloc(&h.workspace, kWorkspaceBytes), "cuda gemm: the ",
                  kWorkspaceBytes, "-byte cuBLAS workspace on cuda:", dev.index,
                  " (the first GEMM must not run inside a graph capture)");
    set_math_mode(h, g_tf32[dev.index].load(), dev.index);
    bind(h, s, dev.index);
  });
  if (h.bound != s) bind(h, s, dev.index);
  if (const bool tf32 = g_tf32[dev.index].load(); h.tf32 != tf32) set_math_mode(h, tf32, dev.index);
  return h.handle;
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

}  // namespace

void release_gemm_handles() {
  for (int d = 0; d < kMaxDevices; ++d) {
    Handle& h = g_handles[d];
    if (!h.handle) continue;
    AE_CUDA_CHECK(cudaSetDevice(d), "cuda release_gemm_handles: cuda:", d);
    AE_CUDA_CHECK(cudaDeviceSynchronize(), "cuda release_gemm_handles: cuda:", d);
    AE_CUBLAS_CHECK(cublas().cublasDestroy(h.handle), "cuda release_gemm_handles: cuda:", d);
    AE_CUDA_CHECK(cudaFree(h.workspace), "cuda release_gemm_handles: cuda:", d);
    h.handle = nullptr;
    h.workspace = nullptr;
  }
}

void set_tf32(int device, bool on) {
  AE_CHECK(device >= 0 && device < kMaxDevices, "cuda set_tf32: device ", device, " out of range");
  g_tf32[device].store(on);  // applied by the device's next GEMM
}

void gemm(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, const void* b, double beta, void* c, Stream s) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    // An empty product: C = beta * C, and with beta == 0 C is overwritten, not read (BLAS).
    if (beta == 0) fill(dt, c, m * n, 0.0, s);
    else unary_forward(UnaryOp::affine, dt, c, c, m * n, UnaryParams{beta, 0}, s);
    return;
  }
  AE_CHECK(fits_int(m) && fits_int(n) && fits_int(k),
           "cuda gemm (m=", m, ", n=", n, ", k=", k, "): dimensions above 2^31 - 1");
  const DeviceInfo& dev = activate(s);
  auto cs = static_cast<cudaStream_t>(s);
  cublasHandle_t handle = handle_for(dev, cs);

  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int im = int(m), in = int(n), ik = int(k);
  const int lda = trans_a ? im : ik;
  const int ldb = trans_b ? ik : in;
  if (dt == DType::f32) {
    const float fa = float(alpha), fb = float(beta);
    AE_CUBLAS_CHECK(cublas().cublasSgemm(handle, op_b, op_a, in, im, ik, &fa,
                                   static_cast<const float*>(b), ldb,
                                   static_cast<const float*>(a), lda, &fb,
                                   static_cast<float*>(c), in),
                    "cuda gemm (m=", m, ", n=", n, ", k=", k, ", trans_a=", trans_a,
                    ", trans_b=", trans_b, ", float32)");
  } else {
    AE_CUBLAS_CHECK(cublas().cublasDgemm(handle, op_b, op_a, in, im, ik, &alpha,
                                   static_cast<const double*>(b), ldb,
                                   static_cast<const double*>(a), lda, &beta,
                                   static_cast<double*>(c), in),
                    "cuda gemm (m=", m, ", n=", n, ", k=", k, ", trans_a=", trans_a,
                    ", trans_b=", trans_b, ", float64)");
  }
}

}  // namespace ae::cu
