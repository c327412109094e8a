// Input corruption of the denoising autoencoder: x̃ ~ q(x̃ | x), applied before the encoder in
// training only; the loss still compares the reconstruction with the clean x.
//
// Every draw comes from an ae::Generator (Philox), so a CPU run and a CUDA run of the same seed
// corrupt the same elements the same way.
#pragma once
#include <string>

#include "core/random.h"
#include "core/tensor.h"

namespace ae::models {

//   gaussian         x + N(0, σ²), σ = level
//   salt_and_pepper  a fraction `level` of the elements set to `low` or `high`, half each
//   masking          a fraction `level` of the elements set to 0
//   dropout          each element zeroed with probability `level`, survivors scaled by 1/(1−level)
enum class NoiseKind : uint8_t { none, gaussian, salt_and_pepper, masking, dropout };

const char* noise_name(NoiseKind k);
NoiseKind parse_noise(const std::string& name);  // "gaussian", "masking", ...; else ae::Error

struct NoiseConfig {
  NoiseKind kind = NoiseKind::none;
  double level = 0;             // σ for gaussian; the corrupted fraction p for the others
  double low = 0, high = 1;     // the pepper and salt values (the data range)
};

// x̃ for a batch x (batch, features); a constant (no gradient). Draws from `gen` only when the
// kind is not none.
Tensor corrupt(const Tensor& x, const NoiseConfig& noise, Generator& gen);

}  // namespace ae::models
