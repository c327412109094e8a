#include "core/device.h"

#include <cstdlib>

#include "core/error.h"

namespace ae {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    try {
      size_t used = 0;
      int index = std::stoi(text.substr(5), &used);
      if (used == text.size() - 5 && index >= 0) return cuda(index);
    } catch (const std::exception&) {
    }
  }
  fail(cat("device: '", text, "' is not one of cpu, cuda, cuda:N"));
}

std::string Device::str() const { return is_cuda() ? "cuda:" + std::to_string(index) : "cpu"; }

int cuda_device_count() {
  static const int count = cuda_backend() ? cuda_backend()->device_count() : 0;
  return count;
}

bool cuda_available() { return cuda_device_count() > 0; }

Device default_device() {
  if (const char* env = std::getenv("AE_DEVICE"); env && *env) {
    Device d = Device::parse(env);
    if (d.is_cuda()) {
      AE_CHECK(cuda_backend(), "AE_DEVICE=", env, ": ae was built without the CUDA backend");
      AE_CHECK(d.index < cuda_device_count(), "AE_DEVICE=", env, ": ", cuda_device_count(),
               " usable CUDA device(s)");
    }
    return d;
  }
  return cuda_available() ? Device::cuda(0) : Device::cpu();
}

const Backend& backend(Device d) {
  if (!d.is_cuda()) return cpu_backend();
  AE_CHECK(cuda_backend(), "device ", d.str(), ": ae was built without the CUDA backend");
  AE_CHECK(d.index < cuda_device_count(), "device ", d.str(), ": ", cuda_device_count(),
           " usable CUDA device(s)");
  return *cuda_backend();
}

Stream stream(Device d) { return backend(d).stream(d.index); }

void synchronize(Device d) { backend(d).synchronize(stream(d)); }

void set_matmul_precision(Device device, MatmulPrecision precision) {
  backend(device).set_tf32(device.index, precision == MatmulPrecision::tf32);
}

}  // namespace ae
