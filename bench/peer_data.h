// The benchmarked models and their data, shared by the step benchmark (bench_steps.cpp) and the
// PyTorch peers (bench/peers/): the five models of the comparison, a fixed synthetic data set,
// and the peer file that carries a model's initial weights, the data, the noise ae drew and the
// losses ae reached, so that a peer can start from the same point and check that it arrives at
// the same place.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/autoencoder.h"

namespace ae::bench {

// The models of the comparison, all on 784-dimensional data in [0, 1] (Bernoulli likelihood,
// losses summed over features and averaged over the batch):
//   ae           784-512-256-32, sigmoid everywhere, untied
//   dae          ae, trained on inputs with a fraction 0.25 of the pixels masked to 0
//   sparse       ae + 0.1 * sum_j KL(0.05 || mean activation of code unit j)
//   contractive  ae + 0.01 * sum over the three encoder layers of ||J(h_l)||_F^2, batch mean
//   vae          784-512-20 (relu trunk, Gaussian code, a 20-512-784 decoder), beta 1
enum class BenchModel : uint8_t { ae, dae, sparse, contractive, vae };
inline constexpr BenchModel kBenchModels[] = {BenchModel::ae, BenchModel::dae, BenchModel::sparse,
                                              BenchModel::contractive, BenchModel::vae};
const char* bench_model_name(BenchModel m);
BenchModel parse_bench_model(const std::string& name);

inline constexpr uint64_t kModelSeed = 1234;
inline constexpr double kMaskingLevel = 0.25;  // exact in binary: a mask element is u > 0.25
inline constexpr double kLearningRate = 1e-3;  // Adam, PyTorch's defaults otherwise

std::unique_ptr<models::Model> make_bench_model(BenchModel m, Device device);

// The per-layer GEMMs of one training step of the model, for a batch of `batch` rows:
// m, n, k and the operands' transposition, in the order the step runs them.
struct Gemm {
  int64_t m, n, k;
  bool trans_a, trans_b;
};
std::vector<Gemm> step_gemms(BenchModel m, int64_t batch);
double gemm_flops(const std::vector<Gemm>& gemms);  // 2 m n k summed

// `rows` samples of 784 values in [0, 1], about 70% zeros like MNIST's background: each pixel
// is 0 where a Philox uniform u <= 0.7, else (u - 0.7) / 0.3. float32 on the CPU.
Tensor bench_data(int64_t rows);

// Runs `steps` fused training steps of a fresh model on consecutive batches of `batch` rows of
// `data` (on `device`) and writes the peer file `path`:
//   tensors   the initial parameters under the model's names ("encoder.0.weight", (out, in));
//             "data" (rows, 784); "noise.<i>" the noise step i drew: the dae's keep mask (U8,
//             (batch, 784), 1 = kept) or the vae's eps (F32, (batch, 20)); "ae.losses" (steps)
//             ae's total loss at each step (F32)
//   metadata  the model ("model", "widths", "latent", "hidden", "code", "noise_level",
//             "penalty_weight", "sparsity_target", "logvar_min", "logvar_max"), the run ("lr",
//             "batch", "steps"), and where it ran ("device")
// Returns ae's losses.
std::vector<double> write_peer_file(BenchModel m, const Tensor& data, int64_t batch, int64_t steps,
                                    Device device, const std::string& path);

}  // namespace ae::bench
