// Trains nothing; proves the installed headers and library work: y = sigmoid(x W^T), backward.
#include <ae/core/ops.h>

#include <cstdio>

int main() {
  ae::Device cpu = ae::Device::cpu();
  ae::Tensor x = ae::Tensor::randn({4, 3}, 1, 0, ae::DType::f32, cpu);
  ae::Tensor w = ae::Tensor::randn({2, 3}, 2, 0, ae::DType::f32, cpu).requires_grad_();
  ae::Tensor loss = ae::sum(ae::sigmoid(ae::matmul(x, w, false, true)));
  loss.backward();
  std::printf("loss %.6f grad norm %.6f\n", loss.item(), ae::sum(ae::square(w.grad())).item());
  return w.grad().defined() ? 0 : 1;
}
