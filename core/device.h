// Devices and the choice between them. A missing driver or GPU means "no CUDA device", never a
// crash: the engine then runs on the CPU.
#pragma once
#include <string>

#include "kernels/backend.h"

namespace ae {

enum class DeviceKind : uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceKind::cuda, index}; }
  static Device parse(const std::string& text);  // "cpu", "cuda", "cuda:1"

  bool is_cuda() const { return kind == DeviceKind::cuda; }
  std::string str() const;
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Number of usable CUDA devices: 0 when ae was built without CUDA, or there is no driver or GPU.
int cuda_device_count();
bool cuda_available();

// AE_DEVICE=cpu|cuda|cuda:N when set, else the first CUDA device when usable, else the CPU.
// Asking for cuda when none is usable is an ae::Error naming the reason.
Device default_device();

const Backend& backend(Device d);
Stream stream(Device d);
void synchronize(Device d);

// float32 GEMMs on `device` in TF32 (tensor cores; inputs rounded to a 10-bit mantissa, about
// 1e-3 relative error) or in full float32, the default. Nothing changes on the CPU.
enum class MatmulPrecision : uint8_t { float32, tf32 };
void set_matmul_precision(Device device, MatmulPrecision precision);

}  // namespace ae
