// The smallest end-to-end use of ae: a 16-8-2-8-16 autoencoder trained with plain SGD on data
// that lies near a 2-D surface, on the GPU when one is usable, else on the CPU.
#include <cstdio>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"

using namespace ae;

int main() try {
  const Device device = default_device();
  Generator gen(2026);
  // 2048 samples x 16 features: a smooth function of 2 latent factors, plus a little noise.
  Tensor z = gen.rand({2048, 2}, DType::f32, device);
  Tensor mix = gen.randn({2, 16}, DType::f32, device);
  Tensor data = sigmoid(matmul(z * 4.0 - 2.0, mix) + gen.randn({2048, 16}, DType::f32, device) * 0.05);

  auto param = [&](int64_t rows, int64_t cols, double scale) {
    return (gen.randn({rows, cols}, DType::f32, device) * scale).detach().requires_grad_();
  };
  // weights stored (out, in); biases start at zero
  std::vector<Tensor> params = {param(8, 16, 0.35), Tensor::zeros({8}, DType::f32, device).requires_grad_(),
                                param(2, 8, 0.5), Tensor::zeros({2}, DType::f32, device).requires_grad_(),
                                param(8, 2, 0.7), Tensor::zeros({8}, DType::f32, device).requires_grad_(),
                                param(16, 8, 0.35), Tensor::zeros({16}, DType::f32, device).requires_grad_()};
  auto layer = [&](const Tensor& x, int i) { return matmul(x, params[2 * i], false, true) + params[2 * i + 1]; };
  auto reconstruct = [&](const Tensor& x) { return layer(tanh(layer(layer(tanh(layer(x, 0)), 1), 2)), 3); };
  // The yardstick: the squared error of always answering the per-feature mean (the variance).
  const double variance = mean(square(data - mean(data, 0))).item();

  std::printf("tiny autoencoder 16-8-2-8-16 on %s\n", device.str().c_str());
  const int64_t batch = 128;
  const double lr = 0.2;
  for (int epoch = 1; epoch <= 60; ++epoch) {
    double total = 0;
    for (int64_t start = 0; start < data.size(0); start += batch) {
      Tensor x = slice(data, start, start + batch);
      Tensor logits = reconstruct(x);
      Tensor loss = bce_with_logits_loss(logits, x, Reduction::batch_mean);
      for (Tensor& p : params) p.zero_grad();
      loss.backward();
      NoGradGuard no_grad;
      for (Tensor& p : params) p.copy_(p - p.grad() * lr);
      total += loss.item() * static_cast<double>(batch);
    }
    if (epoch == 1 || epoch % 10 == 0) {
      NoGradGuard no_grad;
      double mse = mse_loss(sigmoid(reconstruct(data)), data).item();
      std::printf("epoch %2d  BCE %.4f  squared error %.5f = %.1f%% of the variance\n", epoch,
                  total / static_cast<double>(data.size(0)), mse, 100 * mse / variance);
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "tiny_autoencoder: %s\n", e.what());
  return 2;
}
