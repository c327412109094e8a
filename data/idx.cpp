#include "data/idx.h"

#include <bit>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace ae::io {
namespace {

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint64_t load_be64(const uint8_t* p) { return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4); }

std::string hex_bytes(const uint8_t* p, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", p[i]);
    s += buf;
  }
  return s;
}

struct ElementType {
  const char* name;
  int size;
};

// The element types of the IDX spec, by their type byte; nullptr name for an unknown byte.
ElementType element_type(uint8_t code) {
  switch (code) {
    case 0x08: return {"uint8", 1};
    case 0x09: return {"int8", 1};
    case 0x0B: return {"int16", 2};
    case 0x0C: return {"int32", 4};
    case 0x0D: return {"float32", 4};
    case 0x0E: return {"float64", 8};
    default: return {nullptr, 0};
  }
}

float load_value(uint8_t code, const uint8_t* p) {
  switch (code) {
    case 0x08: return static_cast<float>(p[0]);
    case 0x09: return static_cast<float>(static_cast<int8_t>(p[0]));
    case 0x0B: return static_cast<float>(static_cast<int16_t>((p[0] << 8) | p[1]));
    case 0x0C: return static_cast<float>(static_cast<int32_t>(load_be32(p)));
    case 0x0D: return std::bit_cast<float>(load_be32(p));
    default: return static_cast<float>(std::bit_cast<double>(load_be64(p)));  // 0x0E
  }
}

}  // namespace

Array parse_idx(const Bytes& bytes, const std::string& name) {
  const uint64_t size = bytes.size();
  AE_CHECK(size >= 4, name, ": IDX file truncated: ", size, " bytes, the magic alone needs 4");
  const uint8_t* p = bytes.data();
  const uint8_t code = p[2];
  const int ndims = p[3];
  const ElementType type = element_type(code);
  AE_CHECK(p[0] == 0 && p[1] == 0 && type.name != nullptr && ndims >= 1 && ndims <= 4, name,
           ": not an IDX file: magic is ", hex_bytes(p, 4),
           ", expected 00 00 <type 08|09|0b|0c|0d|0e> <ndims 01..04>");

  const uint64_t header = 4 + 4 * static_cast<uint64_t>(ndims);
  AE_CHECK(size >= header, name, ": IDX header truncated: expected ", header, " bytes for ", ndims,
           " dims, the file has ", size);

  // The claimed size is checked against the bytes actually present before anything is
  // allocated, so a header claiming 2^32 x 2^32 values fails here, not in the allocator.
  Array out;
  uint64_t count = 1;
  bool overflow = false;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t dim = load_be32(p + 4 + 4 * i);
    AE_CHECK(dim > 0, name, ": IDX dimension ", i, " is 0");
    overflow = overflow || __builtin_mul_overflow(count, uint64_t{dim}, &count);
    out.shape.push_back(dim);
  }
  uint64_t expected = 0;
  overflow = overflow || __builtin_mul_overflow(count, uint64_t(type.size), &expected) ||
             __builtin_add_overflow(expected, header, &expected);
  AE_CHECK(!overflow, name, ": IDX dims ", shape_string(out.shape), " of ", type.name,
           " claim more than 2^64 bytes, the file has ", size);
  AE_CHECK(size >= expected, name, ": IDX data truncated: shape ", shape_string(out.shape), " of ",
           type.name, " needs ", expected, " bytes, the file has ", size);
  AE_CHECK(size == expected, name, ": IDX file has ", size - expected,
           " unexpected bytes after the data (shape ", shape_string(out.shape), " of ", type.name,
           " ends at byte ", expected, ")");

  out.data.resize(count);
  const uint8_t* v = p + header;
  for (uint64_t i = 0; i < count; ++i) out.data[i] = load_value(code, v + i * type.size);
  return out;
}

Array read_idx(const std::string& path, uint64_t max_bytes) {
  return parse_idx(read_file_inflated(path, max_bytes), path);
}

}  // namespace ae::io
