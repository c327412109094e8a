// Whole training-step benchmarks of the CUDA backend: the five models of bench/peer_data.h at
// several batch sizes, in each step mode (train/trainer.h: eager, fused, graph) and each GEMM
// precision (float32, TF32). For every configuration:
//   - the median time per step (CUDA events around groups of back-to-back steps, after a warm-up
//     that also captures the graph), and samples/s;
//   - the achieved TFLOP/s of the step's GEMMs (2 m n k each; the elementwise work is not
//     counted) and its share of the measured cuBLAS peak (an 8192^3 GEMM in that precision);
//   - the time of the step's GEMMs alone (the same GEMMs replayed as one CUDA graph): what the
//     step could take if everything else were free; the ratio step / GEMMs checks the target of
//     a graph step within 15% of its GEMMs at batch 4096;
//   - the peak device memory of the configuration, from the allocator's own statistics: the
//     pool's high-water mark (cudaMemPoolAttrUsedMemHigh) and, in graph mode, the memory the
//     graph allocates for itself (cudaGraphMemAttrUsedMemHigh), less what was in use before the
//     model was built (the data set).
// It also writes, per model, the peer file (initial weights, the data, the noise and ae's losses
// over 16 steps at batch 256: bench/peer_data.h) that the PyTorch peers in bench/peers/ load.
//
// usage: ae_bench_steps [--quick] [--out DIR] [--models ae,dae,...] [--batches 64,256,4096]
//                       [--modes eager,fused,graph] [--precisions fp32,tf32] [--no-peer-files]
// Prints a markdown table; writes DIR/ae_steps.json and DIR/peer_<model>.safetensors (DIR
// defaults to bench_out). Exits 0 without a CUDA device, saying so.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/peer_data.h"
#include "core/error.h"
#include "core/ops.h"
#include "train/trainer.h"

namespace {

using ae::Device;
using ae::bench::BenchModel;
using ae::models::StepMode;

#define BENCH_CUDA_CHECK(call)                                                              \
  do {                                                                                      \
    cudaError_t bench_err_ = (call);                                                        \
    if (bench_err_ != cudaSuccess)                                                          \
      ae::fail(ae::cat("bench: ", #call, " failed: ", cudaGetErrorString(bench_err_)));     \
  } while (0)

constexpr int64_t kDataRows = 4096;
constexpr int64_t kPeerBatch = 256, kPeerSteps = 16;
constexpr double kMiB = 1024.0 * 1024.0;

struct Options {
  std::string out = "bench_out";
  std::vector<std::string> models{"ae", "dae", "sparse", "contractive", "vae"};
  std::vector<int64_t> batches{64, 256, 4096};
  std::vector<std::string> modes{"eager", "fused", "graph"};
  std::vector<std::string> precisions{"fp32", "tf32"};
  bool quick = false;
  bool peer_files = true;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--quick") { o.quick = true; continue; }
    if (flag == "--no-peer-files") { o.peer_files = false; continue; }
    AE_CHECK(i + 1 < argc, "ae_bench_steps: ", flag, " needs a value");
    const std::string value = argv[++i];
    if (flag == "--out") o.out = value;
    else if (flag == "--models") o.models = split(value);
    else if (flag == "--modes") o.modes = split(value);
    else if (flag == "--precisions") o.precisions = split(value);
    else if (flag == "--batches") {
      o.batches.clear();
      for (const std::string& b : split(value)) o.batches.push_back(std::stoll(b));
    } else ae::fail(ae::cat("ae_bench_steps: unknown flag ", flag));
  }
  for (const std::string& p : o.precisions)
    AE_CHECK(p == "fp32" || p == "tf32", "ae_bench_steps: precision '", p, "' (fp32, tf32)");
  for (const std::string& m : o.modes) ae::models::parse_step_mode(m);
  for (const std::string& m : o.models) ae::bench::parse_bench_model(m);
  return o;
}

// --- timing ---------------------------------------------------------------------------------

struct Timer {
  cudaStream_t stream;
  int samples;

  // Median microseconds of one call of `call`, timed in groups of back-to-back calls long enough
  // (~2 ms) for the events' resolution; `warmup` calls first.
  double median_us(const std::function<void()>& call, int warmup) const {
    cudaEvent_t start, stop;
    BENCH_CUDA_CHECK(cudaEventCreate(&start));
    BENCH_CUDA_CHECK(cudaEventCreate(&stop));
    auto group_ms = [&](int count) {
      BENCH_CUDA_CHECK(cudaEventRecord(start, stream));
      for (int i = 0; i < count; ++i) call();
      BENCH_CUDA_CHECK(cudaEventRecord(stop, stream));
      BENCH_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      BENCH_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      return double(ms);
    };
    group_ms(warmup);
    const double one = std::max(group_ms(3) / 3, 1e-3);
    const int per_group = std::clamp(int(2.0 / one) + 1, 3, 1000);
    std::vector<double> per_call;
    for (int s = 0; s < samples; ++s) per_call.push_back(group_ms(per_group) / per_group);
    std::sort(per_call.begin(), per_call.end());
    BENCH_CUDA_CHECK(cudaEventDestroy(start));
    BENCH_CUDA_CHECK(cudaEventDestroy(stop));
    return per_call[per_call.size() / 2] * 1e3;
  }
};

// --- memory statistics --------------------------------------------------------------------------

struct MemoryWatch {
  cudaMemPool_t pool = nullptr;
  uint64_t base = 0;

  MemoryWatch() {
    BENCH_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, 0));
    BENCH_CUDA_CHECK(cudaDeviceSynchronize());
    BENCH_CUDA_CHECK(cudaDeviceGraphMemTrim(0));
    BENCH_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &base));
    uint64_t zero = 0;  // resets the high-water marks to the current use
    BENCH_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
    BENCH_CUDA_CHECK(cudaDeviceSetGraphMemAttribute(0, cudaGraphMemAttrUsedMemHigh, &zero));
  }

  // The most bytes in use at once since construction, beyond `base`. The pool's and the graph's
  // high-water marks need not fall at the same moment: the pool's includes the warm-up's eager
  // step, the graph's the replays, during which the pool holds only the persistent buffers.
  double peak_mib() const {
    BENCH_CUDA_CHECK(cudaDeviceSynchronize());
    uint64_t high = 0, current = 0, graph_high = 0;
    BENCH_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high));
    BENCH_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &current));
    BENCH_CUDA_CHECK(cudaDeviceGetGraphMemAttribute(0, cudaGraphMemAttrUsedMemHigh, &graph_high));
    const double pool_peak = double(high - std::min(high, base));
    const double with_graph = double(current - std::min(current, base)) + double(graph_high);
    return std::max(pool_peak, with_graph) / kMiB;
  }
};

// --- the GEMMs alone --------------------------------------------------------------------------

// Device operands big enough for every GEMM of a list, reused by all of them.
// Operands of the GEMMs timed alone: standard normal values (all-zero operands run faster than
// real data: an H200 did a bf16 GEMM at 894 TFLOP/s on zeros and 788 on random values), drawn on
// ae's stream, where the GEMMs run, and waited for before any timing.
struct GemmBuffers {
  float* a = nullptr;
  float* b = nullptr;
  float* c = nullptr;

  GemmBuffers(size_t elements, const ae::Backend& be, ae::Stream s) {
    uint64_t offset = 0;
    for (float** p : {&a, &b, &c}) {
      BENCH_CUDA_CHECK(cudaMalloc(p, elements * sizeof(float)));
      be.rand_normal(ae::DType::f32, *p, int64_t(elements), /*seed=*/7, offset, s);
      offset += elements;
    }
    be.synchronize(s);
  }
  ~GemmBuffers() {
    for (float* p : {a, b, c}) (void)cudaFree(p);
  }
  GemmBuffers(const GemmBuffers&) = delete;
  GemmBuffers& operator=(const GemmBuffers&) = delete;
};

// Median microseconds of the GEMM list, replayed as one CUDA graph (no launch gaps).
double gemms_us(const std::vector<ae::bench::Gemm>& gemms, const Timer& timer) {
  const ae::Backend& be = ae::backend(Device::cuda(0));
  const ae::Stream s = ae::stream(Device::cuda(0));
  size_t most = 0;
  for (const auto& g : gemms)
    most = std::max({most, size_t(g.m * g.k), size_t(g.k * g.n), size_t(g.m * g.n)});
  GemmBuffers buf(most, be, s);
  auto run_all = [&] {
    for (const auto& g : gemms)
      be.gemm(ae::DType::f32, g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0, buf.a, buf.b, 0.0, buf.c, s);
  };
  run_all();  // outside the capture: cuBLAS picks and loads its kernels
  AE_CHECK(be.graph_begin(s), "bench: the CUDA backend refused to capture");
  run_all();
  void* graph = be.graph_end(s);
  const double us = timer.median_us([&] { be.graph_launch(graph, s); }, 3);
  be.graph_destroy(graph);
  return us;
}

// The cuBLAS rate of an 8192^3 float32 GEMM in the current precision, TFLOP/s.
double peak_tflops(const Timer& timer) {
  const int64_t n = 8192;
  const ae::bench::Gemm g{n, n, n, false, false};
  return 2.0 * double(n) * n * n / (gemms_us({g}, timer) * 1e-6) / 1e12;
}

// --- the steps ----------------------------------------------------------------------------------

struct Result {
  std::string model, precision, mode;
  int64_t batch = 0;
  double us = 0, samples_per_s = 0, tflops = 0, pct_peak = 0, gemm_us = 0, peak_mib = 0;
  bool finite = true;
  std::string note;
};

Result run_config(BenchModel m, int64_t batch, const std::string& precision, StepMode mode,
                  const ae::Tensor& data, const Timer& timer, double peak, double gemm_us) {
  const Device cuda = Device::cuda(0);
  ae::set_matmul_precision(cuda, precision == "tf32" ? ae::MatmulPrecision::tf32
                                                             : ae::MatmulPrecision::float32);
  Result r;
  r.model = ae::bench::bench_model_name(m);
  r.batch = batch;
  r.precision = precision;
  r.mode = ae::models::step_mode_name(mode);
  r.gemm_us = gemm_us;
  MemoryWatch memory;
  {
    std::unique_ptr<ae::models::Model> model = ae::bench::make_bench_model(m, cuda);
    ae::models::OptimizerConfig oc;
    oc.lr = ae::bench::kLearningRate;
    ae::models::TrainStep step(*model, oc, {mode});
    // Batches are consecutive slices of the data set, as the peers take them.
    const int64_t per_epoch = data.size(0) / batch;
    int64_t next = 0;
    auto one_step = [&] {
      const int64_t b = next++ % per_epoch;
      step.run(ae::slice(data, b * batch, (b + 1) * batch));
    };
    r.us = timer.median_us(one_step, 10);
    const ae::models::StepTotals totals = step.take_totals();
    r.finite = std::isfinite(totals.mean.total);
    r.note = step.note();
    r.peak_mib = memory.peak_mib();
  }
  const double flops = ae::bench::gemm_flops(ae::bench::step_gemms(m, batch));
  r.samples_per_s = double(batch) / (r.us * 1e-6);
  r.tflops = flops / (r.us * 1e-6) / 1e12;
  r.pct_peak = 100 * r.tflops / peak;
  ae::set_matmul_precision(cuda, ae::MatmulPrecision::float32);
  return r;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

void write_json(const std::string& path, const std::string& device, double peak_fp32,
                double peak_tf32, const std::vector<Result>& results,
                const std::vector<std::pair<std::string, std::vector<double>>>& losses) {
  std::ofstream f(path);
  AE_CHECK(f, "ae_bench_steps: cannot write ", path);
  f.precision(9);
  f << "{\n  \"device\": " << json_string(device) << ",\n";
  f << "  \"peak_tflops\": {\"fp32\": " << peak_fp32 << ", \"tf32\": " << peak_tf32 << "},\n";
  f << "  \"results\": [\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    f << "    {\"model\": " << json_string(r.model) << ", \"batch\": " << r.batch
      << ", \"precision\": " << json_string(r.precision) << ", \"mode\": " << json_string(r.mode)
      << ", \"us_per_step\": " << r.us << ", \"samples_per_s\": " << r.samples_per_s
      << ", \"tflops\": " << r.tflops << ", \"pct_peak\": " << r.pct_peak
      << ", \"gemm_us\": " << r.gemm_us << ", \"peak_mib\": " << r.peak_mib
      << ", \"finite\": " << (r.finite ? "true" : "false") << ", \"note\": " << json_string(r.note)
      << "}" << (i + 1 < results.size() ? "," : "") << "\n";
  }
  f << "  ],\n  \"losses\": {";
  for (size_t i = 0; i < losses.size(); ++i) {
    f << (i ? ", " : "") << json_string(losses[i].first) << ": [";
    for (size_t j = 0; j < losses[i].second.size(); ++j)
      f << (j ? ", " : "") << losses[i].second[j];
    f << "]";
  }
  f << "}\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (!ae::cuda_available()) {
      std::printf("ae_bench_steps: no usable CUDA device; nothing to measure\n");
      return 0;
    }
    cudaDeviceProp prop{};
    BENCH_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    const Device cuda = Device::cuda(0);
    const Timer timer{static_cast<cudaStream_t>(ae::stream(cuda)), o.quick ? 5 : 21};
    std::filesystem::create_directories(o.out);

    const ae::Tensor host_data = ae::bench::bench_data(kDataRows);
    const ae::Tensor data = host_data.to(cuda);

    ae::set_matmul_precision(cuda, ae::MatmulPrecision::tf32);
    const double peak_tf32 = peak_tflops(timer);
    ae::set_matmul_precision(cuda, ae::MatmulPrecision::float32);
    const double peak_fp32 = peak_tflops(timer);
    std::printf("ae training steps on %s (sm_%d%d, %d SMs); cuBLAS peak %.1f TFLOP/s float32, "
                "%.1f TFLOP/s TF32; median of %d groups\n",
                prop.name, prop.major, prop.minor, prop.multiProcessorCount, peak_fp32, peak_tf32,
                timer.samples);
    std::fflush(stdout);

    std::vector<Result> results;
    for (const std::string& name : o.models) {
      const BenchModel m = ae::bench::parse_bench_model(name);
      for (int64_t batch : o.batches) {
        AE_CHECK(kDataRows % batch == 0, "ae_bench_steps: batch ", batch, " does not divide ",
                 kDataRows);
        for (const std::string& precision : o.precisions) {
          ae::set_matmul_precision(cuda, precision == "tf32"
                                                     ? ae::MatmulPrecision::tf32
                                                     : ae::MatmulPrecision::float32);
          const double gemm_us = gemms_us(ae::bench::step_gemms(m, batch), timer);
          ae::set_matmul_precision(cuda, ae::MatmulPrecision::float32);
          const double peak = precision == "tf32" ? peak_tf32 : peak_fp32;
          for (const std::string& mode : o.modes) {
            results.push_back(run_config(m, batch, precision, ae::models::parse_step_mode(mode),
                                         data, timer, peak, gemm_us));
            const Result& r = results.back();
            std::fprintf(stderr, "  %s b=%lld %s %s: %.1f us/step%s\n", r.model.c_str(),
                         static_cast<long long>(r.batch), r.precision.c_str(), r.mode.c_str(),
                         r.us, r.finite ? "" : " (non-finite loss)");
          }
        }
      }
    }

    std::vector<std::pair<std::string, std::vector<double>>> losses;
    if (o.peer_files) {
      for (const std::string& name : o.models) {
        const BenchModel m = ae::bench::parse_bench_model(name);
        const std::string path = o.out + "/peer_" + name + ".safetensors";
        losses.push_back({name, ae::bench::write_peer_file(m, host_data, kPeerBatch, kPeerSteps,
                                                           cuda, path)});
      }
    }
    write_json(o.out + "/ae_steps.json", prop.name, peak_fp32, peak_tf32, results, losses);

    std::printf("\n| model | batch | prec | mode | us/step | samples/s | TFLOP/s | %% peak | "
                "GEMMs us | step/GEMMs | peak MiB |\n");
    std::printf("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const Result& r : results)
      std::printf("| %s | %lld | %s | %s | %.1f | %.0f | %.2f | %.1f | %.1f | %.2f | %.1f |%s\n",
                  r.model.c_str(), static_cast<long long>(r.batch), r.precision.c_str(),
                  r.mode.c_str(), r.us, r.samples_per_s, r.tflops, r.pct_peak, r.gemm_us,
                  r.us / r.gemm_us, r.peak_mib,
                  !r.finite ? " non-finite loss" : r.note.empty() ? "" : (" " + r.note).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ae_bench_steps: %s\n", e.what());
    return 1;
  }
}
