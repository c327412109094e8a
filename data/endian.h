// Little- and big-endian loads and stores for the binary formats, independent of the host's
// byte order, and the widening of 16-bit floats (as activations are often saved) to float32.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>

namespace ae::io {

template <class T>
inline T byteswap_value(T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (size_t i = 0; i < sizeof(T) / 2; ++i) {
    unsigned char t = b[i];
    b[i] = b[sizeof(T) - 1 - i];
    b[sizeof(T) - 1 - i] = t;
  }
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// Reads a T stored with the given byte order at p (any alignment).
template <class T>
inline T load_as(const void* p, std::endian order) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return order == std::endian::native ? v : byteswap_value(v);
}

// Stores v at p with the given byte order (any alignment).
template <class T>
inline void store_as(void* p, T v, std::endian order) {
  if (order != std::endian::native) v = byteswap_value(v);
  std::memcpy(p, &v, sizeof(T));
}

// IEEE binary16 bits as float32, exactly: subnormals, infinities and NaN (its payload kept) too.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31, exp = (h >> 10) & 31u, mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float32
    const float v = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  const uint32_t bits = exp == 31 ? sign | 0x7F800000u | (mant << 13)           // inf, NaN
                                  : sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  return std::bit_cast<float>(bits);
}

// bfloat16 bits (the top half of a float32's) as float32, exactly.
inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t{h} << 16); }

}  // namespace ae::io
