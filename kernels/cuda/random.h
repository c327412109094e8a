// Random fills with cuRAND's device API (curandStatePhilox4_32_10_t). Element i of every fill is
// the i-th draw of the one sequential stream of curand_init(seed, 0, offset), whatever the offset
// and n; the CPU backend (kernels/cpu/random.h) reproduces it: bits and uniforms bit for bit,
// normals within 1.5 * 2^-20 times their Box-Muller radius (see there).
#pragma once
#include <cstdint>

#include "kernels/types.h"

namespace ae::cu {

// y (n), device memory: y[i] is the i-th curand() after curand_init(seed, 0, offset).
void rand_bits(uint32_t* y, int64_t n, uint64_t seed, uint64_t offset, Stream);

// y (n), device memory, dt: the i-th curand_uniform / curand_normal after
// curand_init(seed, 0, offset), as float32, widened for dt == f64.
void rand_uniform(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream);
void rand_normal(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream);
// (rand_uniform and rand_normal honour set_rand_offset_counter, declared in cuda_backend.h;
// rand_bits, not a Backend entry, always uses the plain offset.)

}  // namespace ae::cu
