// cuRAND's Philox4_32_10 stream on the CPU, bit for bit.
//
// The stream of (seed, offset) is what curand_init(seed, /*subsequence*/ 0, offset, &state) with a
// curandStatePhilox4_32_10_t followed by curand() calls yields: the Philox4x32-10 block function
// keyed by (seed low 32 bits, seed high 32 bits), applied to the 128-bit counter floor(offset/4),
// floor(offset/4) + 1, ..., each block giving four 32-bit draws in order x, y, z, w; the first
// (offset % 4) draws of the first block are skipped.
//
// Agreement with the CUDA backend (kernels/cuda/random.h):
//   rand_bits, rand_uniform: bit-identical.
//   rand_normal: |cuda - cpu| <= 1.5 * 2^-20 * r, where r = sqrt(-2 log u) is the radius of the
//     Box-Muller pair the value belongs to (r <= 6.77 for every draw). cuRAND's device code uses
//     the hardware __sincosf approximation, which no CPU can reproduce exactly; the CPU evaluates
//     the same float formula with correctly rounded log, sin and cos. The bound is derived in
//     random.cpp next to the formula.
#pragma once
#include <array>
#include <cstdint>

#include "kernels/types.h"

namespace ae::cpu {

// The Philox4x32-10 block function (Salmon et al. 2011, Random123): 10 rounds.
std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// y (n): y[i] is the i-th curand() after curand_init(seed, 0, offset).
void rand_bits(uint32_t* y, int64_t n, uint64_t seed, uint64_t offset, Stream);

// y (n), dt: y[i] is the i-th curand_uniform / curand_normal after curand_init(seed, 0, offset),
// computed in float32; for dt == f64 the float32 value is widened, so f32 and f64 draws with the
// same (seed, offset) hold the same numbers. `offset` counts 32-bit draws; each uniform uses one,
// each pair of normals two (element 2j and 2j+1 are the two halves of one Box-Muller pair).
void rand_uniform(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream);
void rand_normal(DType dt, void* y, int64_t n, uint64_t seed, uint64_t offset, Stream);

// While set, every draw above starts at offset + *counter (see Backend::set_rand_offset_counter);
// the CPU has one device, so `device` is ignored.
void set_rand_offset_counter(int device, const uint64_t* counter);

}  // namespace ae::cpu
