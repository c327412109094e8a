// Little- and big-endian loads and stores for the binary formats, independent of the host's
// byte order.
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

}  // namespace ae::io
