// One thread or the pool for a GEMM: the three GEMMs of a linear layer's training step (forward
// x Wᵀ, input gradient dy W, weight gradient dyᵀ x; each of batch · in · out multiply-adds) for
// layers of several widths at batch 64 and 256, timed through OpenBLAS on one thread and on the
// pool's threads (AE_CPU_THREADS, else the usable cores), the two alternating in groups so that
// both see the same load. Between two GEMMs the calling thread runs for `--gap-us` microseconds
// on its own, as a training step's elementwise work does, so the pool's threads wait between
// GEMMs (and, past their spin, sleep) as they do in training. The smallest multiply-add count at
// which the pool is faster is where kernels/cpu/linalg.cpp's rule lets a GEMM use it.
//
// usage: ae_bench_gemm_threads [--samples 7] [--group-ms 100] [--gap-us 20]
// Prints one line per layer: batch, in, out, multiply-adds per GEMM, microseconds per group of
// three on one thread and on the pool (medians), their ratio, and the threads ae's rule picks.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu.h"

namespace {

using Clock = std::chrono::steady_clock;

// The calling thread busy for `us` microseconds.
void spin_for(double us) {
  const auto until = Clock::now() + std::chrono::duration<double, std::micro>(us);
  while (Clock::now() < until) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int samples = 7;
    double group_ms = 100, gap_us = 20;
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      AE_CHECK(i + 1 < argc, "ae_bench_gemm_threads: ", flag, " needs a value");
      const std::string value = argv[++i];
      if (flag == "--samples") samples = std::stoi(value);
      else if (flag == "--group-ms") group_ms = std::stod(value);
      else if (flag == "--gap-us") gap_us = std::stod(value);
      else ae::fail(ae::cat("ae_bench_gemm_threads: unknown flag ", flag));
    }
    const int pool = static_cast<int>(ae::cpu::worker_threads());
    const std::vector<std::pair<int, int>> layers = {
        {21, 64}, {21, 256}, {64, 256}, {128, 256}, {256, 256}, {512, 256}, {784, 256}, {784, 512}};
    std::vector<float> a(512 * 1024, 0.5f), b(512 * 1024, 0.25f), c(512 * 1024);
    std::printf("pool of %d threads, %.0f us between GEMMs\n", pool, gap_us);
    std::printf("batch    in   out  mult-adds  1 thread us  %d threads us  ratio  ae\n", pool);
    for (const int batch : {64, 256}) {
      for (const auto [in, out] : layers) {
        // One layer's step: forward (batch, out) = x Wᵀ, input gradient (batch, in) = dy W,
        // weight gradient (out, in) = dyᵀ x.
        auto group = [&](int threads) {
          openblas_set_num_threads(threads);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, out, in, 1.f, a.data(), in,
                      b.data(), in, 0.f, c.data(), out);
          spin_for(gap_us);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, in, out, 1.f, a.data(),
                      out, b.data(), in, 0.f, c.data(), in);
          spin_for(gap_us);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, batch, 1.f, a.data(), out,
                      b.data(), in, 0.f, c.data(), in);
          spin_for(gap_us);
        };
        auto timed = [&](int threads, int count) {
          const auto t0 = Clock::now();
          for (int i = 0; i < count; ++i) group(threads);
          return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / count;
        };
        timed(1, 5);
        timed(pool, 5);
        const int count = std::max(2, static_cast<int>(group_ms * 1e3 / timed(1, 3)));
        std::vector<double> one, all;
        for (int s = 0; s < samples; ++s) {
          one.push_back(timed(1, count) - 3 * gap_us);
          all.push_back(timed(pool, count) - 3 * gap_us);
        }
        std::sort(one.begin(), one.end());
        std::sort(all.begin(), all.end());
        const double t1 = one[one.size() / 2], tn = all[all.size() / 2];
        const int64_t work = int64_t(batch) * in * out;
        std::printf("%5d  %4d  %4d  %9lld  %11.1f  %13.1f  %5.2f  %d\n", batch, in, out,
                    static_cast<long long>(work), t1, tn, tn / t1,
                    ae::cpu::gemm_threads(batch, out, in));
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ae_bench_gemm_threads: %s\n", e.what());
    return 2;
  }
}
