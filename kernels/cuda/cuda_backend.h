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
void synchronize(Stream s);

// What the launchers need to know about the device a stream belongs to.
struct DeviceInfo {
  int index = 0;
  int sm_count = 0;
};
// Makes the stream's device current (launches and cuBLAS calls must run there) and returns it.
// Streams from stream(device) are known; any other stream is taken to be on the current device.
const DeviceInfo& activate(Stream s);

// Scratch memory ordered on `s` (for multi-pass reductions); released with free_scratch.
void* alloc_scratch(size_t bytes, Stream s);
void free_scratch(void* ptr, Stream s);

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

// --- linear algebra (gemm.cpp) ----------------------------------------------------------------
void gemm(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, const void* b, double beta, void* c, Stream s);

// --- reductions (reduce.cu) -------------------------------------------------------------------
void reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                double scale, Stream s);
void expand(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
            double scale, Stream s);

}  // namespace ae::cu
