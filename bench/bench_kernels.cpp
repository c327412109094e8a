// Kernel benchmarks of the CUDA backend, measured against the device's own ceilings:
//   - compute: the cuBLAS SGEMM rate of a large square product (8192^3, float32, no TF32);
//   - memory:  the device-to-device copy bandwidth (bytes read + bytes written).
// Then the GEMMs of the autoencoder's layers (forward and both backward products) as TFLOP/s and
// % of that SGEMM peak, and the elementwise and reduction kernels as GB/s and % of the copy
// bandwidth. Every number is the median over many timed batches (CUDA events) after a warm-up;
// operands are rotated among several copies when one set would stay in L2, so that the numbers
// are of device memory, not of the cache. Prints a markdown table; exits 0 without a device.
//
// usage: ae_bench_kernels [--quick]   (--quick: fewer samples, for a smoke run)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "kernels/backend.h"

namespace {

using ae::DType;

#define BENCH_CUDA_CHECK(call)                                                              \
  do {                                                                                      \
    cudaError_t bench_err_ = (call);                                                        \
    if (bench_err_ != cudaSuccess)                                                          \
      ae::fail(ae::cat("bench: ", #call, " failed: ", cudaGetErrorString(bench_err_)));     \
  } while (0)

struct Device {
  const ae::Backend* be = nullptr;
  ae::Stream stream = nullptr;
  cudaStream_t cs = nullptr;
  size_t l2_bytes = 0;
};

struct Row {
  std::string group, name, shape;
  double us = 0;       // median time per call
  double rate = 0;     // TFLOP/s or GB/s
  const char* unit = "";
  double percent = 0;  // of the group's ceiling
};

int g_samples = 15;

// Median time of one call, in microseconds. `call(i)` issues the i-th call on the stream; calls
// are batched so that a timed batch lasts at least ~0.5 ms (events resolve ~1 us).
double time_us(const Device& dev, const std::function<void(int)>& call) {
  cudaEvent_t start, stop;
  BENCH_CUDA_CHECK(cudaEventCreate(&start));
  BENCH_CUDA_CHECK(cudaEventCreate(&stop));
  auto batch_ms = [&](int first, int count) {
    BENCH_CUDA_CHECK(cudaEventRecord(start, dev.cs));
    for (int i = 0; i < count; ++i) call(first + i);
    BENCH_CUDA_CHECK(cudaEventRecord(stop, dev.cs));
    BENCH_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    BENCH_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return double(ms);
  };
  batch_ms(0, 3);  // warm-up: module load, handle creation, pool growth, clocks
  const double one = std::max(batch_ms(3, 1), 1e-3);
  const int per_batch = std::clamp(int(0.5 / one) + 1, 1, 2000);
  std::vector<double> per_call;
  int next = 4;
  for (int s = 0; s < g_samples; ++s) {
    per_call.push_back(batch_ms(next, per_batch) / per_batch);
    next += per_batch;
  }
  std::sort(per_call.begin(), per_call.end());
  BENCH_CUDA_CHECK(cudaEventDestroy(start));
  BENCH_CUDA_CHECK(cudaEventDestroy(stop));
  return per_call[per_call.size() / 2] * 1e3;
}

// `copies` sets of device buffers of the given element counts (float32), filled with uniform
// random values (never zeros: they can run faster than real data).
struct Buffers {
  Buffers(const Device& dev, const std::vector<int64_t>& counts, int copies) : dev_(dev) {
    uint64_t seed = 1;
    for (int c = 0; c < copies; ++c) {
      std::vector<float*> set;
      for (int64_t n : counts) {
        auto* p = static_cast<float*>(dev.be->alloc(size_t(n) * 4, 0, dev.stream));
        dev.be->rand_uniform(DType::f32, p, n, seed++, 0, dev.stream);
        set.push_back(p);
      }
      sets_.push_back(set);
    }
    dev.be->synchronize(dev.stream);
  }
  ~Buffers() {
    for (auto& set : sets_)
      for (float* p : set) dev_.be->free(p, 0, dev_.stream);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  // Buffer k of the set used by call i.
  float* at(int i, int k) const { return sets_[size_t(i) % sets_.size()][k]; }

 private:
  const Device& dev_;
  std::vector<std::vector<float*>> sets_;
};

// Copies needed so that the rotation walks at least 4x the L2 (at most 64).
int copies_for(const Device& dev, int64_t bytes_per_set) {
  const int64_t want = 4 * int64_t(dev.l2_bytes);
  return int(std::clamp<int64_t>((want + bytes_per_set - 1) / bytes_per_set, 1, 64));
}

int64_t total(const std::vector<int64_t>& counts) {
  int64_t t = 0;
  for (int64_t n : counts) t += n;
  return t;
}

double copy_bandwidth(const Device& dev, std::vector<Row>& rows) {
  const int64_t n = int64_t(1) << 28;  // 1 GiB of float32
  Buffers buf(dev, {n, n}, 1);
  const double us = time_us(dev, [&](int i) {
    dev.be->copy(buf.at(i, 1), buf.at(i, 0), size_t(n) * 4, ae::CopyKind::device_to_device,
                 dev.stream);
  });
  const double gbs = 2.0 * n * 4 / (us * 1e3);
  rows.push_back({"memory", "device-to-device copy (ceiling)", "2^28 float32", us, gbs, "GB/s", 100});
  return gbs;
}

double sgemm_peak(const Device& dev, std::vector<Row>& rows) {
  const int64_t s = 8192;
  Buffers buf(dev, {s * s, s * s, s * s}, 1);
  const double us = time_us(dev, [&](int i) {
    dev.be->gemm(DType::f32, false, false, s, s, s, 1.0, buf.at(i, 0), buf.at(i, 1), 0.0,
                 buf.at(i, 2), dev.stream);
  });
  const double tflops = 2.0 * s * s * s / (us * 1e6);
  rows.push_back({"gemm", "SGEMM peak (ceiling)", "8192^3", us, tflops, "TFLOP/s", 100});
  return tflops;
}

// The three GEMMs of a linear layer y = x Wᵀ, x (batch, in), W (out, in):
//   forward  y (batch, out)  = x Wᵀ
//   backward dx (batch, in)  = dy W
//   backward dW (out, in)    = dyᵀ x
void layer_gemms(const Device& dev, int64_t batch, int64_t in, int64_t out, double peak,
                 std::vector<Row>& rows) {
  const std::vector<int64_t> counts = {batch * in, out * in, batch * out};  // x, W, y / dy
  Buffers buf(dev, counts, copies_for(dev, total(counts) * 4));
  Buffers grads(dev, {batch * in, out * in}, copies_for(dev, total(counts) * 4));  // dx, dW
  const std::string shape = ae::cat("batch ", batch, ", ", in, " -> ", out);
  const double flops = 2.0 * batch * in * out;
  struct Gemm {
    const char* name;
    std::function<void(int)> call;
  };
  const Gemm gemms[] = {
      {"forward y = x W^T",
       [&](int i) {
         dev.be->gemm(DType::f32, false, true, batch, out, in, 1.0, buf.at(i, 0), buf.at(i, 1), 0.0,
                      buf.at(i, 2), dev.stream);
       }},
      {"backward dx = dy W",
       [&](int i) {
         dev.be->gemm(DType::f32, false, false, batch, in, out, 1.0, buf.at(i, 2), buf.at(i, 1),
                      0.0, grads.at(i, 0), dev.stream);
       }},
      {"backward dW = dy^T x",
       [&](int i) {
         dev.be->gemm(DType::f32, true, false, out, in, batch, 1.0, buf.at(i, 2), buf.at(i, 0),
                      0.0, grads.at(i, 1), dev.stream);
       }},
  };
  for (const Gemm& g : gemms) {
    const double us = time_us(dev, g.call);
    const double tflops = flops / (us * 1e6);
    rows.push_back({"gemm", g.name, shape, us, tflops, "TFLOP/s", 100 * tflops / peak});
  }
}

// A memory-bound kernel moving `bytes` per call (each input read once, each output written once).
void bandwidth_row(const Device& dev, const std::string& group, const std::string& name,
                   const std::string& shape, const std::vector<int64_t>& counts, double bytes,
                   double ceiling, const std::function<void(const Buffers&, int)>& call,
                   std::vector<Row>& rows) {
  Buffers buf(dev, counts, copies_for(dev, total(counts) * 4));
  const double us = time_us(dev, [&](int i) { call(buf, i); });
  const double gbs = bytes / (us * 1e3);
  rows.push_back({group, name, shape, us, gbs, "GB/s", 100 * gbs / ceiling});
}

void elementwise(const Device& dev, double ceiling, std::vector<Row>& rows) {
  const std::pair<int64_t, int64_t> shapes[] = {{256, 784}, {4096, 784}, {int64_t(1) << 16, 1024}};
  for (auto [r, c] : shapes) {
    const int64_t n = r * c;
    const std::string shape = ae::cat("(", r, ", ", c, ")");
    bandwidth_row(dev, "elementwise", "sigmoid forward", shape, {n, n}, 8.0 * n, ceiling,
                  [&](const Buffers& b, int i) {
                    dev.be->unary_forward(ae::UnaryOp::sigmoid, DType::f32, b.at(i, 0), b.at(i, 1),
                                          n, {}, dev.stream);
                  },
                  rows);
    bandwidth_row(dev, "elementwise", "sigmoid backward (x, y, dy -> dx)", shape, {n, n, n, n},
                  16.0 * n, ceiling,
                  [&](const Buffers& b, int i) {
                    dev.be->unary_backward(ae::UnaryOp::sigmoid, DType::f32, b.at(i, 0),
                                           b.at(i, 1), b.at(i, 2), b.at(i, 3), n, {}, dev.stream);
                  },
                  rows);
    bandwidth_row(dev, "elementwise", "add, row broadcast", shape, {n, c, n}, 8.0 * n + 4.0 * c,
                  ceiling,
                  [&](const Buffers& b, int i) {
                    dev.be->binary_forward(ae::BinaryOp::add, DType::f32, b.at(i, 0), b.at(i, 1),
                                           b.at(i, 2), r, c, ae::Broadcast::row, dev.stream);
                  },
                  rows);
  }
}

void reductions(const Device& dev, double ceiling, std::vector<Row>& rows) {
  const std::pair<int64_t, int64_t> shapes[] = {{256, 784}, {4096, 784}, {4096, 32},
                                                {int64_t(1) << 16, 1024}};
  for (auto [r, c] : shapes) {
    const int64_t n = r * c;
    const std::string shape = ae::cat("(", r, ", ", c, ")");
    bandwidth_row(dev, "reduction", "row sums (inner = 1)", shape, {n, r}, 4.0 * (n + r), ceiling,
                  [&](const Buffers& b, int i) {
                    dev.be->reduce_sum(DType::f32, b.at(i, 0), b.at(i, 1), r, c, 1, 1.0,
                                       dev.stream);
                  },
                  rows);
    bandwidth_row(dev, "reduction", "column sums (outer = 1)", shape, {n, c}, 4.0 * (n + c),
                  ceiling,
                  [&](const Buffers& b, int i) {
                    dev.be->reduce_sum(DType::f32, b.at(i, 0), b.at(i, 1), 1, r, c, 1.0,
                                       dev.stream);
                  },
                  rows);
  }
  const int64_t n = int64_t(1) << 26;
  bandwidth_row(dev, "reduction", "full sum", "2^26", {n, 1}, 4.0 * n, ceiling,
                [&](const Buffers& b, int i) {
                  dev.be->reduce_sum(DType::f32, b.at(i, 0), b.at(i, 1), 1, n, 1, 1.0, dev.stream);
                },
                rows);
}

void print_table(const std::vector<Row>& rows) {
  std::printf("\n| group | kernel | shape | time (us) | rate | %% of ceiling |\n");
  std::printf("| --- | --- | --- | ---: | ---: | ---: |\n");
  for (const Row& r : rows)
    std::printf("| %s | %s | %s | %.2f | %.1f %s | %.0f%% |\n", r.group.c_str(), r.name.c_str(),
                r.shape.c_str(), r.us, r.rate, r.unit, r.percent);
  std::fflush(stdout);
}

int run() {
  Device dev;
  dev.be = ae::cuda_backend();
  dev.stream = dev.be->stream(0);
  dev.cs = static_cast<cudaStream_t>(dev.stream);
  cudaDeviceProp prop{};
  BENCH_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  dev.l2_bytes = size_t(prop.l2CacheSize);
  std::printf("ae kernel benchmarks on %s: %d SMs, %.0f MB L2, %.1f GB; median of %d batches\n",
              prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6,
              prop.totalGlobalMem / 1e9, g_samples);

  std::vector<Row> rows;
  const double copy_gbs = copy_bandwidth(dev, rows);
  const double peak = sgemm_peak(dev, rows);
  for (int64_t batch : {256, 4096}) {
    const std::pair<int64_t, int64_t> layers[] = {{784, 512}, {512, 256}, {256, 32},
                                                  {32, 256},  {256, 512}, {512, 784}};
    for (auto [in, out] : layers) layer_gemms(dev, batch, in, out, peak, rows);
  }
  elementwise(dev, copy_gbs, rows);
  reductions(dev, copy_gbs, rows);
  print_table(rows);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) g_samples = 3;
  if (!ae::cuda_available()) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    std::printf("bench skipped: %s\n", err != cudaSuccess ? cudaGetErrorString(err)
                                                          : "no CUDA device");
    return 0;
  }
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    return 1;
  }
}
