// Training steps of ae on the CPU, one configuration per process (so that the peak RSS is that
// configuration's): a model of bench/peer_data.h at one batch size, fused steps (ae train's
// default) on consecutive batches of the benchmark data, and the same step's GEMMs run alone
// through the BLAS (timed in groups alternating with the steps'), so that the step's distance to
// its GEMMs shows. bench/run_cpu.sh runs it
// alternately with the PyTorch peer (bench/peers/bench_cpu_peer.py) and tabulates both.
//
// usage: ae_bench_cpu_steps --model ae|dae|sparse|contractive|vae --batch N [--samples 7]
//                           [--group-ms 200]
// Prints one JSON line: impl, model, batch, threads, us_per_step (median over groups of
// back-to-back steps, wall clock), samples_per_s, gemm_us (median, the step's GEMMs alone),
// gemm_gflops (their rate alone), loss (the mean loss of the timed steps), peak_rss_mib.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bench/peer_data.h"
#include "bench/timing.h"
#include "core/error.h"
#include "core/ops.h"
#include "kernels/cpu/cpu.h"
#include "train/trainer.h"

namespace {

constexpr int64_t kDataRows = 4096;

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string model_name;
    int64_t batch = 0;
    int samples = 7;
    double group_ms = 200;
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      AE_CHECK(i + 1 < argc, "ae_bench_cpu_steps: ", flag, " needs a value");
      const std::string value = argv[++i];
      if (flag == "--model") model_name = value;
      else if (flag == "--batch") batch = std::stoll(value);
      else if (flag == "--samples") samples = std::stoi(value);
      else if (flag == "--group-ms") group_ms = std::stod(value);
      else ae::fail(ae::cat("ae_bench_cpu_steps: unknown flag ", flag));
    }
    const ae::bench::BenchModel m = ae::bench::parse_bench_model(model_name);
    AE_CHECK(batch > 0 && kDataRows % batch == 0, "ae_bench_cpu_steps: --batch ", batch,
             " must divide ", kDataRows);
    AE_CHECK(samples >= 1, "ae_bench_cpu_steps: --samples ", samples, " must be at least 1");
    const ae::Device cpu = ae::Device::cpu();

    // The step's GEMMs alone, on operands as large as the largest of them.
    const std::vector<ae::bench::Gemm> gemms = ae::bench::step_gemms(m, batch);
    size_t most = 0;
    for (const auto& g : gemms)
      most = std::max({most, size_t(g.m * g.k), size_t(g.k * g.n), size_t(g.m * g.n)});
    std::vector<float> a(most, 0.5f), b(most, 0.25f), c(most);
    auto gemms_alone = [&] {
      for (const auto& g : gemms)
        ae::cpu::gemm(ae::DType::f32, g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0, a.data(), b.data(),
                      0.0, c.data(), nullptr);
    };

    const ae::Tensor data = ae::bench::bench_data(kDataRows);
    std::unique_ptr<ae::models::Model> model = ae::bench::make_bench_model(m, cpu);
    ae::models::OptimizerConfig oc;
    oc.lr = ae::bench::kLearningRate;
    ae::models::TrainStep step(*model, oc, {ae::models::StepMode::fused});
    const int64_t per_epoch = kDataRows / batch;
    int64_t next = 0;
    auto one_step = [&] {
      const int64_t i = next++ % per_epoch;
      step.run(ae::slice(data, i * batch, (i + 1) * batch));
    };
    const auto [us, gemm_us] = ae::bench::median_us(one_step, gemms_alone, samples, group_ms, 5);
    const ae::models::StepTotals totals = step.take_totals();

    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf(
        "{\"impl\": \"ae\", \"model\": \"%s\", \"batch\": %lld, \"threads\": %lld, "
        "\"us_per_step\": %.1f, \"samples_per_s\": %.1f, \"gemm_us\": %.1f, "
        "\"gemm_gflops\": %.1f, \"loss\": %.6g, \"peak_rss_mib\": %.1f}\n",
        model_name.c_str(), static_cast<long long>(batch),
        static_cast<long long>(ae::cpu::worker_threads()), us, double(batch) / (us * 1e-6),
        gemm_us, ae::bench::gemm_flops(gemms) / (gemm_us * 1e-6) * 1e-9, totals.mean.total,
        double(usage.ru_maxrss) / 1024.0);
    return std::isfinite(totals.mean.total) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ae_bench_cpu_steps: %s\n", e.what());
    return 2;
  }
}
