// A sparse autoencoder's training step against its encoder GEMM alone: how close the sparse
// step (core/ops.h, "sparse codes") comes to the one dense product it cannot avoid,
// pre = (x − b_dec) W_encᵀ, 2 · batch · latents · inputs flops. A dense autograd step would add
// two more GEMMs of that size (the decoder's forward and the encoder's weight gradient), about 3x.
//
// usage: ae_bench_sae_step [--device cpu|cuda] [--kind topk|batchtopk|jumprelu|relu-l1]
//                          [--inputs 768] [--latents 16384] [--k 32] [--batch 4096]
//                          [--precision fp32|tf32] [--samples 5] [--group-ms 200]
// Prints one JSON line: device, kind, inputs, latents, k, batch, threads, step_us (median of
// fused steps, wall clock, the device synchronised), gemm_us (median of the encoder's GEMM alone,
// the same shapes through the same backend), ratio = step_us / gemm_us, gemm_gflops,
// samples_per_s (batch / step), peak_rss_mib. --precision tf32 runs the float32 GEMMs on tensor
// cores (CUDA; core/device.h set_matmul_precision), for the GEMM's share of the GPU's TF32 peak. The batch is drawn once (standard normal); the model starts as models/sae.h
// initialises it.
#include <sys/resource.h>

#include <cstdio>
#include <string>

#include "bench/timing.h"
#include "core/device.h"
#include "core/error.h"
#include "core/ops.h"
#include "kernels/backend.h"
#include "models/sae.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  using namespace ae;
  try {
    std::string device_name = "cpu", kind = "topk", precision = "fp32";
    int64_t inputs = 768, latents = 16384, k = 32, batch = 4096;
    int samples = 5;
    double group_ms = 200;
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      AE_CHECK(i + 1 < argc, "ae_bench_sae_step: ", flag, " needs a value");
      const std::string value = argv[++i];
      if (flag == "--device") device_name = value;
      else if (flag == "--kind") kind = value;
      else if (flag == "--inputs") inputs = std::stoll(value);
      else if (flag == "--latents") latents = std::stoll(value);
      else if (flag == "--k") k = std::stoll(value);
      else if (flag == "--batch") batch = std::stoll(value);
      else if (flag == "--samples") samples = std::stoi(value);
      else if (flag == "--group-ms") group_ms = std::stod(value);
      else if (flag == "--precision") precision = value;
      else fail(cat("ae_bench_sae_step: unknown flag ", flag));
    }
    const Device device = Device::parse(device_name);
    if (device.is_cuda() && cuda_device_count() == 0) {
      std::printf("ae_bench_sae_step: no CUDA device; nothing to measure\n");
      return 0;
    }
    AE_CHECK(precision == "fp32" || precision == "tf32", "ae_bench_sae_step: --precision '",
             precision, "' (fp32, tf32)");
    set_matmul_precision(device, precision == "tf32" ? MatmulPrecision::tf32 : MatmulPrecision::float32);
    models::SaeConfig c;
    c.kind = models::parse_sae_kind(kind);
    c.inputs = inputs;
    c.latents = latents;
    c.k = k;
    models::SparseAutoencoder model(c, 1, device);
    const Tensor x = Tensor::randn({batch, inputs}, 7, 0, DType::f32, device);
    models::TrainStep step(model, models::OptimizerConfig{});
    const Backend& be = backend(device);
    const Stream s = stream(device);
    const Tensor w = model.parameters()[0].value;
    Tensor pre = Tensor::empty({batch, latents}, DType::f32, device);
    auto one_step = [&] {
      step.run(x);
      synchronize(device);
    };
    auto gemm_alone = [&] {
      be.gemm(DType::f32, false, true, batch, latents, inputs, 1.0, x.data(), w.data(), 0.0,
              pre.data(), s);
      synchronize(device);
    };
    const auto [step_us, gemm_us] = bench::median_us(one_step, gemm_alone, samples, group_ms, 1);
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    const double flops = 2.0 * static_cast<double>(batch) * latents * inputs;
    std::printf(
        "{\"device\": \"%s\", \"kind\": \"%s\", \"precision\": \"%s\", \"inputs\": %lld, "
        "\"latents\": %lld, \"k\": %lld, \"batch\": %lld, \"step_us\": %.0f, \"gemm_us\": %.0f, "
        "\"ratio\": %.3f, \"gemm_gflops\": %.1f, \"samples_per_s\": %.0f, \"peak_rss_mib\": %.0f}\n",
        device.str().c_str(), kind.c_str(), precision.c_str(), static_cast<long long>(inputs),
        static_cast<long long>(latents), static_cast<long long>(k),
        static_cast<long long>(batch), step_us, gemm_us, step_us / gemm_us,
        flops / gemm_us * 1e-3, static_cast<double>(batch) / step_us * 1e6, ru.ru_maxrss / 1024.0);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ae_bench_sae_step: %s\n", e.what());
    return 1;
  }
}
