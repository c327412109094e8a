#include "data/npy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "data/endian.h"
#include "data/file.h"
#include "data/sniff.h"

namespace ae::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy writes headers of a few hundred bytes and itself refuses more than 10000 by default.
constexpr uint64_t kMaxHeader = uint64_t{1} << 20;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// Parses the header, a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (10000, 784), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        h.descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        h.shape = int_tuple();
        seen_shape = true;
      } else {
        bad(cat("unexpected key '", key, "'"));
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != '}') bad("expected ',' or '}'");
    }
    ++i_;
    skip_space();
    if (i_ != s_.size()) bad("unexpected text after the closing '}'");
    if (!seen_descr || !seen_order || !seen_shape)
      bad("the header must have 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    const std::string_view shown = s_.substr(0, std::min(s_.find_last_not_of(" \n") + 1, kShown));
    fail(cat(name_, ": invalid .npy header at character ", i_, ": ", what, " in ", shown,
             s_.size() > kShown ? "..." : ""));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(cat("expected '", c, "'"));
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<int64_t> int_tuple() {
    std::vector<int64_t> dims;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("expected a non-negative integer");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (INT64_MAX - 9) / 10) bad("dimension too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      if (peek() == 'L') ++i_;  // Python 2 long suffix, as old numpy wrote it
      dims.push_back(v);
      skip_space();
      if (peek() == ',')
        ++i_;
      else if (peek() != ')')
        bad("expected ',' or ')' in the shape");
    }
    ++i_;
    return dims;
  }

  static constexpr size_t kShown = 200;  // header characters quoted in a message
  std::string_view s_;
  const std::string& name_;
  size_t i_ = 0;
};

enum class Kind { Float, Half, BFloat16, Signed, Unsigned };

struct Descr {
  Kind kind;
  int size;
  std::endian order;
};

Descr parse_descr(const std::string& d, const std::string& name) {
  if (d == "<f2") return {Kind::Half, 2, std::endian::little};
  if (d == ">f2") return {Kind::Half, 2, std::endian::big};
  // ml_dtypes' bfloat16, which np.save writes as a 2-byte void ('<V2'), little-endian.
  if (d == "<V2" || d == "|V2") return {Kind::BFloat16, 2, std::endian::little};
  if (d == "<f4") return {Kind::Float, 4, std::endian::little};
  if (d == ">f4") return {Kind::Float, 4, std::endian::big};
  if (d == "<f8") return {Kind::Float, 8, std::endian::little};
  if (d == ">f8") return {Kind::Float, 8, std::endian::big};
  if (d == "|u1") return {Kind::Unsigned, 1, std::endian::little};
  if (d == "|i1") return {Kind::Signed, 1, std::endian::little};
  if (d == "<i4") return {Kind::Signed, 4, std::endian::little};
  if (d == ">i4") return {Kind::Signed, 4, std::endian::big};
  if (d == "<i8") return {Kind::Signed, 8, std::endian::little};
  if (d == ">i8") return {Kind::Signed, 8, std::endian::big};
  fail(cat(name, ": .npy dtype '", d,
           "' is not supported (expected <f2, >f2, <V2 (bfloat16), <f4, >f4, <f8, >f8, |u1, |i1, "
           "<i4, >i4, <i8 or >i8)"));
}

// Integers above 2^24 would silently change when stored as float32.
float exact_float(int64_t v, uint64_t index, const std::string& name) {
  constexpr int64_t kExact = int64_t{1} << 24;
  AE_CHECK(v >= -kExact && v <= kExact, name, ": value ", v, " at index ", index,
           " cannot be held exactly by float32 (|v| > 2^24)");
  return static_cast<float>(v);
}

std::string header_text(const char* descr, const std::vector<int64_t>& shape) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  return cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", dims, "), }");
}

// product(shape). Dimensions must be non-negative, and the product of the non-zero ones must fit
// in int64 even when another dimension is 0, so that no part of the shape a consumer multiplies
// (rows x cols) can overflow.
uint64_t checked_count(const std::vector<int64_t>& shape, const std::string& what) {
  uint64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : shape) {
    AE_CHECK(d >= 0, what, ": negative dimension in shape ", shape_string(shape));
    if (d == 0) {
      empty = true;
      continue;
    }
    AE_CHECK(!__builtin_mul_overflow(nonzero, static_cast<uint64_t>(d), &nonzero) &&
                 nonzero <= static_cast<uint64_t>(INT64_MAX),
             what, ": shape ", shape_string(shape), " has too many elements");
  }
  return empty ? 0 : nonzero;
}

// Writes magic, version, header (space-padded, '\n'-terminated so that the data starts at a
// multiple of 64 bytes, as numpy does) and the little-endian values.
template <class T>
void write_npy_values(const std::string& path, const char* descr, const std::vector<int64_t>& shape,
                      const T* data) {
  const uint64_t count = checked_count(shape, path);
  AE_CHECK(count == 0 || data != nullptr, path, ": write_npy: null data for shape ",
           shape_string(shape));
  std::string header = header_text(descr, shape);
  // Version 1.0 stores the header length in 16 bits; 2.0 (32 bits) only when it does not fit.
  auto padded_total = [&](size_t prefix) { return (prefix + header.size() + 1 + 63) / 64 * 64; };
  const bool v1 = padded_total(10) - 10 <= 65535;
  const size_t prefix = v1 ? 10 : 12;
  const size_t total = padded_total(prefix);
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';

  write_file_atomic(path, [&](FileSink& sink) {
    uint8_t pre[12];
    std::memcpy(pre, kMagic, kMagicLen);
    pre[6] = v1 ? 1 : 2;
    pre[7] = 0;
    if (v1)
      store_as<uint16_t>(pre + 8, static_cast<uint16_t>(header.size()), std::endian::little);
    else
      store_as<uint32_t>(pre + 8, static_cast<uint32_t>(header.size()), std::endian::little);
    sink.write(pre, prefix);
    sink.write(header);
    if constexpr (std::endian::native == std::endian::little) {
      sink.write(data, count * sizeof(T));
    } else {
      for (uint64_t i = 0; i < count; ++i) {
        uint8_t b[sizeof(T)];
        store_as<T>(b, data[i], std::endian::little);
        sink.write(b, sizeof(T));
      }
    }
  });
}

// The preamble and header, written once over an InputFile or InputBytes: every size they claim
// is checked against the real size before anything else is read.
template <class Input>
NpyLayout parse_npy_layout(const Input& file) {
  const std::string& path = file.path();
  const uint64_t size = file.size();
  uint8_t pre[12] = {};
  file.read_at(0, pre, std::min<uint64_t>(size, 10));
  if (std::memcmp(pre, kMagic, std::min<uint64_t>(size, kMagicLen)) != 0 || size == 0) {
    // Say what the file is instead, when its first bytes tell.
    uint8_t head[64] = {};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size, sizeof head));
    file.read_at(0, head, n);
    const std::string what = describe_head(head, n);
    fail(cat(path, ": not a .npy file (",
             what.empty() ? std::string("the first 6 bytes are not \\x93NUMPY") : "it is " + what,
             ")"));
  }
  AE_CHECK(size >= 10, path, ": .npy file truncated: ", size, " bytes, the preamble needs 10");
  const int major = pre[6];
  AE_CHECK(major >= 1 && major <= 3, path, ": .npy format version ", major, ".", int{pre[7]},
           " is not supported (expected 1.0, 2.0 or 3.0)");
  uint64_t header_len = 0;
  uint64_t header_start = 10;
  if (major == 1) {
    header_len = load_as<uint16_t>(pre + 8, std::endian::little);
  } else {
    AE_CHECK(size >= 12, path, ": .npy file truncated: ", size, " bytes, the preamble needs 12");
    file.read_at(10, pre + 10, 2);
    header_len = load_as<uint32_t>(pre + 8, std::endian::little);
    header_start = 12;
  }
  AE_CHECK(header_len <= kMaxHeader, path, ": .npy header length ", header_len,
           " is larger than the limit of ", kMaxHeader, " bytes");
  AE_CHECK(header_len <= size - header_start, path, ": .npy header length ", header_len,
           " is larger than the rest of the file (", size - header_start, " bytes)");
  std::string text(header_len, '\0');
  file.read_at(header_start, text.data(), header_len);

  const NpyHeader h = HeaderParser(text, path).parse();
  AE_CHECK(!h.fortran_order, path,
           ": fortran_order True is not supported; save a C-ordered array (np.ascontiguousarray)");
  const Descr descr = parse_descr(h.descr, path);

  const uint64_t data_start = header_start + header_len;
  const uint64_t available = size - data_start;
  const uint64_t count = checked_count(h.shape, path);
  uint64_t need = 0;
  AE_CHECK(
      !__builtin_mul_overflow(count, static_cast<uint64_t>(descr.size), &need) && need <= available,
      path, ": .npy data truncated: shape ", shape_string(h.shape), " of ", h.descr, " is ", count,
      " values of ", descr.size, " bytes (",
      count > UINT64_MAX / static_cast<uint64_t>(descr.size) ? std::string("more than 2^64")
                                                             : std::to_string(need),
      " bytes), but the file has ", available, " bytes after the header (",
      available / static_cast<uint64_t>(descr.size), " values)");
  AE_CHECK(need == available, path, ": .npy file has ", available - need,
           " unexpected bytes after the data (shape ", shape_string(h.shape), " of ", h.descr, ")");
  return NpyLayout{h.shape, h.descr, descr.size, data_start};
}

// The values into `allocate(shape)`'s memory: a float32 file of the machine's byte order is read
// straight there; any other dtype goes through a buffer of kConvertChunk bytes at a time, so
// that no second copy of the whole file is ever held.
template <class Input>
std::vector<int64_t> parse_npy_input(const Input& file, const NpyAllocate& allocate) {
  constexpr uint64_t kConvertChunk = uint64_t{1} << 20;
  const NpyLayout layout = parse_npy_layout(file);
  const uint64_t count = checked_count(layout.shape, file.path());
  float* out = allocate(layout.shape);
  const char* native_f4 = std::endian::native == std::endian::little ? "<f4" : ">f4";
  if (layout.descr == native_f4) {
    file.read_at(layout.data_offset, out, count * sizeof(float));
    return layout.shape;
  }
  const uint64_t size = static_cast<uint64_t>(layout.element_size);
  Bytes raw(std::min(count * size, kConvertChunk / size * size));
  for (uint64_t done = 0; done < count;) {
    const uint64_t n = std::min<uint64_t>(count - done, raw.size() / size);
    file.read_at(layout.data_offset + done * size, raw.data(), n * size);
    npy_to_f32(layout.descr, raw.data(), n, out + done, done, file.path());
    done += n;
  }
  return layout.shape;
}

}  // namespace

NpyLayout read_npy_layout(const std::string& path) { return parse_npy_layout(InputFile(path)); }

void npy_to_f32(const std::string& descr_text, const uint8_t* raw, uint64_t count, float* out,
                uint64_t first_index, const std::string& path) {
  const Descr descr = parse_descr(descr_text, path);
  const uint8_t* p = raw;
  for (uint64_t i = 0; i < count; ++i, p += descr.size) {
    float v = 0;
    switch (descr.kind) {
      case Kind::Float:
        v = descr.size == 4 ? load_as<float>(p, descr.order)
                            : static_cast<float>(load_as<double>(p, descr.order));
        break;
      case Kind::Half: v = f16_to_f32(load_as<uint16_t>(p, descr.order)); break;
      case Kind::BFloat16: v = bf16_to_f32(load_as<uint16_t>(p, descr.order)); break;
      case Kind::Unsigned: v = static_cast<float>(p[0]); break;
      case Kind::Signed:
        v = descr.size == 1   ? static_cast<float>(static_cast<int8_t>(p[0]))
            : descr.size == 4 ? exact_float(load_as<int32_t>(p, descr.order), first_index + i, path)
                              : exact_float(load_as<int64_t>(p, descr.order), first_index + i, path);
        break;
    }
    out[i] = v;
  }
}

std::vector<int64_t> read_npy_into(const std::string& path, const NpyAllocate& allocate) {
  {
    // np.save's output gzipped by hand ("x.npy.gz") reads the same, inflated in memory.
    InputFile file(path);
    uint8_t head[2] = {};
    if (file.size() >= 2) file.read_at(0, head, 2);
    if (!is_gzip(head, 2)) return parse_npy_input(file, allocate);
  }
  const Bytes bytes = read_file_inflated(path);
  return parse_npy_input(InputBytes(bytes, path), allocate);
}

namespace {

// An allocator that fills `out` (shape and values).
NpyAllocate into_array(Array& out) {
  return [&out](const std::vector<int64_t>& shape) {
    out.shape = shape;
    out.data.resize(static_cast<size_t>(checked_count(shape, "npy")));
    return out.data.data();
  };
}

}  // namespace

Array read_npy(const std::string& path) {
  Array out;
  read_npy_into(path, into_array(out));
  return out;
}

Array parse_npy(const Bytes& bytes, const std::string& name) {
  Array out;
  parse_npy_input(InputBytes(bytes, name), into_array(out));
  return out;
}

void write_npy(const std::string& path, const Array& array) {
  AE_CHECK(static_cast<uint64_t>(array.data.size()) == checked_count(array.shape, path), path,
           ": write_npy: shape ", shape_string(array.shape), " does not match ", array.data.size(),
           " values");
  write_npy(path, array.shape, array.data.data());
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  write_npy_values(path, "<f4", shape, data);
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const int64_t* data) {
  write_npy_values(path, "<i8", shape, data);
}

}  // namespace ae::io
