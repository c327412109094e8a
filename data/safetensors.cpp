#include "data/safetensors.h"

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "data/array.h"
#include "data/endian.h"
#include "data/file.h"

namespace ae::io {
namespace {

using nlohmann::json;

// The reference implementation refuses headers above 100 MB; real ones are a few MB at most.
constexpr uint64_t kMaxHeader = uint64_t{100} << 20;
constexpr const char* kMetadataKey = "__metadata__";
// A valid header nests 3 levels (header, tensor, shape). Deeper input is refused while parsing:
// nlohmann's parser is iterative, but printing a value is recursive, and a 100 MB header of '['
// would overflow the stack when an error message shows it.
constexpr int kMaxDepth = 8;
// Characters of a JSON value quoted in a message.
constexpr size_t kShown = 80;

// v as JSON text for a message, cut to kShown characters.
std::string shown(const nlohmann::json& v) {
  std::string text = v.dump();
  if (text.size() > kShown) text = text.substr(0, kShown) + "...";
  return text;
}

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// product(shape) * element_size, or false when a dimension is negative or the product of the
// non-zero dimensions does not fit in int64 (checked even when another dimension is 0, so that no
// part of the shape a consumer multiplies can overflow).
bool byte_count(const std::vector<int64_t>& shape, int element_size, uint64_t& out) {
  uint64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (d == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(nonzero, static_cast<uint64_t>(d), &nonzero) ||
        nonzero > static_cast<uint64_t>(INT64_MAX))
      return false;
  }
  return !__builtin_mul_overflow(empty ? 0 : nonzero, static_cast<uint64_t>(element_size), &out);
}

// A non-negative JSON integer, or a one-line error naming the file, tensor and field.
uint64_t json_uint(const json& v, const std::string& where, const char* field) {
  AE_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), where, ": ",
           field, " must hold non-negative integers, got ", shown(v));
  return v.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const json& v, const std::string& path) {
  const std::string where = cat(path, ": tensor '", name, "'");
  AE_CHECK(v.is_object(), where, ": expected an object with dtype, shape and data_offsets, got ",
           v.type_name());
  Entry e;
  e.name = name;
  auto field = [&](const char* key) -> const json& {
    auto it = v.find(key);
    AE_CHECK(it != v.end(), where, ": missing '", key, "'");
    return *it;
  };
  const json& dtype = field("dtype");
  AE_CHECK(dtype.is_string(), where, ": dtype must be a string, got ", shown(dtype));
  e.dtype = dtype.get<std::string>();
  AE_CHECK(safetensors_dtype_size(e.dtype) > 0, where, ": unknown dtype '", e.dtype, "'");

  const json& shape = field("shape");
  AE_CHECK(shape.is_array(), where, ": shape must be an array, got ", shown(shape));
  for (const json& d : shape) {
    const uint64_t dim = json_uint(d, where, "shape");
    AE_CHECK(dim <= static_cast<uint64_t>(INT64_MAX), where, ": shape dimension ", dim,
             " is too large");
    e.shape.push_back(static_cast<int64_t>(dim));
  }

  const json& offsets = field("data_offsets");
  AE_CHECK(offsets.is_array() && offsets.size() == 2, where,
           ": data_offsets must be [begin, end], got ", shown(offsets));
  e.begin = json_uint(offsets[0], where, "data_offsets");
  e.end = json_uint(offsets[1], where, "data_offsets");
  AE_CHECK(e.begin <= e.end, where, ": data_offsets [", e.begin, ", ", e.end,
           "] end before they begin");
  return e;
}

}  // namespace

int safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, int> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

const SafeTensor* SafeTensorsFile::find(const std::string& name) const {
  for (const SafeTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void write_safetensors(const std::string& path, const std::vector<SafeTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the tensors in the caller's order in the header, as in the buffer.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const SafeTensor& t : tensors) {
    const std::string where = cat(path, ": tensor '", t.name, "'");
    AE_CHECK(!t.name.empty(), path, ": a tensor has an empty name");
    AE_CHECK(t.name != kMetadataKey, where, ": the name is reserved for metadata");
    AE_CHECK(names.insert(t.name).second, where, ": duplicate tensor name");
    const int size = safetensors_dtype_size(t.dtype);
    AE_CHECK(size > 0, where, ": unknown dtype '", t.dtype, "'");
    uint64_t need = 0;
    AE_CHECK(byte_count(t.shape, size, need), where, ": invalid shape ", shape_string(t.shape));
    AE_CHECK(need == t.bytes.size(), where, ": shape ", shape_string(t.shape), " of ", t.dtype,
             " needs ", need, " bytes, got ", t.bytes.size());
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + need}}};
    offset += need;
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(cat(path, ": cannot write the safetensors header (names and metadata must be UTF-8): ",
             e.what()));
  }
  // Spaces pad the header so that the buffer starts 8-byte aligned, as the spec recommends.
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomic(path, [&](FileSink& sink) {
    uint8_t len[8];
    store_as<uint64_t>(len, text.size(), std::endian::little);
    sink.write(len, sizeof len);
    sink.write(text);
    for (const SafeTensor& t : tensors) sink.write(t.bytes);
  });
}

namespace {

// Parses the JSON header into its tensor entries (in header order) and metadata.
std::vector<Entry> parse_header(const std::string& text, const std::string& path,
                                std::map<std::string, std::string>& metadata) {
  AE_CHECK(!text.empty() && text[0] == '{', path, ": the header does not start with '{'");
  // nlohmann keeps the last of two equal keys; the callback sees every top-level key first.
  std::set<std::string> keys;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxDepth)
      fail(cat(path, ": the JSON header nests deeper than ", kMaxDepth,
               " levels (a safetensors header has 3)"));
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !keys.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(text, on_event);
  } catch (const json::exception& e) {
    fail(cat(path, ": invalid JSON header: ", e.what()));
  }
  AE_CHECK(duplicate.empty(), path, ": tensor '", duplicate, "': duplicate name in the header");
  AE_CHECK(header.is_object(), path, ": the header must be a JSON object, got ",
           header.type_name());

  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      AE_CHECK(value.is_object(), path, ": __metadata__ must be an object of strings, got ",
               value.type_name());
      for (const auto& [k, v] : value.items()) {
        AE_CHECK(v.is_string(), path, ": __metadata__ '", k, "' must be a string, got ", shown(v));
        metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, path));
  }
  return entries;
}

// Checks every number before any tensor is allocated: byte counts against dtype and shape,
// offsets against the buffer, and the tensors must tile the buffer exactly. Returns the entries
// in buffer order.
std::vector<Entry> check_layout(std::vector<Entry> entries, const std::string& path,
                                uint64_t buffer_size) {
  for (const Entry& e : entries) {
    const std::string where = cat(path, ": tensor '", e.name, "'");
    uint64_t need = 0;
    AE_CHECK(byte_count(e.shape, safetensors_dtype_size(e.dtype), need), where, ": shape ",
             shape_string(e.shape), " of ", e.dtype, " does not match data_offsets [", e.begin,
             ", ", e.end, "]: its element or byte count overflows 64 bits");
    AE_CHECK(need == e.end - e.begin, where, ": shape ", shape_string(e.shape), " of ", e.dtype,
             " does not match data_offsets [", e.begin, ", ", e.end, "] (", e.end - e.begin,
             " bytes)");
    AE_CHECK(e.end <= buffer_size, where, ": data_offsets [", e.begin, ", ", e.end,
             "] are out of range: the buffer has ", buffer_size, " bytes");
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.begin < covered) {
      const Entry& prev = entries[i - 1];
      fail(cat(path, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
               "] overlap tensor '", prev.name, "' [", prev.begin, ", ", prev.end, "]"));
    }
    AE_CHECK(e.begin == covered, path, ": tensor '", e.name, "': data_offsets [", e.begin, ", ",
             e.end, "] leave a gap: the bytes before it end at ", covered);
    covered = e.end;
  }
  AE_CHECK(covered == buffer_size, path, ": the tensors cover ", covered, " of the ", buffer_size,
           " buffer bytes; ", buffer_size - covered, " bytes at the end belong to no tensor");
  return entries;
}

// The header, checked against the file, written once over an InputFile or InputBytes: the
// entries in buffer order, and where the buffer starts.
template <class Input>
std::vector<Entry> parse_layout(const Input& file, std::map<std::string, std::string>& metadata,
                                uint64_t& buffer_start) {
  const std::string& path = file.path();
  const uint64_t size = file.size();
  AE_CHECK(size >= 8, path, ": safetensors file truncated: ", size,
           " bytes, the header length alone needs 8");
  uint8_t len_bytes[8];
  file.read_at(0, len_bytes, 8);
  const uint64_t header_len = load_as<uint64_t>(len_bytes, std::endian::little);
  AE_CHECK(header_len <= size - 8, path, ": header length ", header_len,
           " is larger than the rest of the file (", size - 8, " bytes)");
  AE_CHECK(header_len <= kMaxHeader, path, ": header length ", header_len,
           " is larger than the limit of ", kMaxHeader, " bytes");
  std::string text(header_len, '\0');
  file.read_at(8, text.data(), header_len);

  buffer_start = 8 + header_len;
  return check_layout(parse_header(text, path, metadata), path, size - 8 - header_len);
}

// The reader, written once over an InputFile or InputBytes.
template <class Input>
SafeTensorsFile parse_safetensors_input(const Input& file) {
  SafeTensorsFile out;
  uint64_t buffer_start = 0;
  const std::vector<Entry> entries = parse_layout(file, out.metadata, buffer_start);
  for (const Entry& e : entries) {
    SafeTensor t{e.name, e.dtype, e.shape, {}};
    t.bytes.resize(e.end - e.begin);
    file.read_at(buffer_start + e.begin, t.bytes.data(), t.bytes.size());
    out.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace

SafeTensorsFile read_safetensors(const std::string& path) {
  return parse_safetensors_input(InputFile(path));
}

std::vector<SafeTensorInfo> read_safetensors_layout(const std::string& path) {
  std::map<std::string, std::string> metadata;
  uint64_t buffer_start = 0;
  std::vector<SafeTensorInfo> out;
  for (const Entry& e : parse_layout(InputFile(path), metadata, buffer_start))
    out.push_back({e.name, e.dtype, e.shape, buffer_start + e.begin, e.end - e.begin});
  return out;
}

SafeTensorsFile parse_safetensors(const Bytes& bytes, const std::string& name) {
  return parse_safetensors_input(InputBytes(bytes, name));
}

// --- conversions ---------------------------------------------------------------------------------

namespace {

template <class T>
SafeTensor pack(std::string name, const char* dtype, std::vector<int64_t> shape, const T* data) {
  uint64_t need = 0;
  AE_CHECK(byte_count(shape, sizeof(T), need), "safetensor '", name, "': invalid shape ",
           shape_string(shape));
  AE_CHECK(need == 0 || data != nullptr, "safetensor '", name, "': null data");
  SafeTensor t{std::move(name), dtype, std::move(shape), std::vector<uint8_t>(need)};
  for (uint64_t i = 0; i < need / sizeof(T); ++i)
    store_as<T>(t.bytes.data() + i * sizeof(T), data[i], std::endian::little);
  return t;
}

template <class T>
T unpack(const SafeTensor& t, uint64_t i) {
  return load_as<T>(t.bytes.data() + i * sizeof(T), std::endian::little);
}

void check_size(const SafeTensor& t, int element_size) {
  uint64_t need = 0;
  AE_CHECK(byte_count(t.shape, element_size, need) && need == t.bytes.size(), "safetensor '",
           t.name, "': shape ", shape_string(t.shape), " of ", t.dtype, " does not match ",
           t.bytes.size(), " bytes");
}

}  // namespace

SafeTensor safetensor_f32(std::string name, std::vector<int64_t> shape, const float* data) {
  return pack<float>(std::move(name), "F32", std::move(shape), data);
}

SafeTensor safetensor_f64(std::string name, std::vector<int64_t> shape, const double* data) {
  return pack<double>(std::move(name), "F64", std::move(shape), data);
}

SafeTensor safetensor_i64(std::string name, std::vector<int64_t> shape, const int64_t* data) {
  return pack<int64_t>(std::move(name), "I64", std::move(shape), data);
}

std::vector<double> safetensor_to_f64(const SafeTensor& t) {
  if (t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16") {
    const std::vector<float> f = safetensor_to_f32(t);
    return {f.begin(), f.end()};
  }
  AE_CHECK(t.dtype == "F64", "safetensor '", t.name, "': dtype ", t.dtype,
           " cannot be read as float64 (F64, F32, F16 or BF16)");
  check_size(t, 8);
  std::vector<double> out(t.bytes.size() / 8);
  for (size_t i = 0; i < out.size(); ++i) out[i] = unpack<double>(t, i);
  return out;
}

std::vector<float> safetensor_to_f32(const SafeTensor& t) {
  std::vector<float> out;
  if (t.dtype == "F32") {
    check_size(t, 4);
    out.resize(t.bytes.size() / 4);
    for (size_t i = 0; i < out.size(); ++i) out[i] = unpack<float>(t, i);
  } else if (t.dtype == "F64") {
    check_size(t, 8);
    out.resize(t.bytes.size() / 8);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(unpack<double>(t, i));
  } else if (t.dtype == "F16" || t.dtype == "BF16") {
    check_size(t, 2);
    out.resize(t.bytes.size() / 2);
    const bool half = t.dtype == "F16";
    for (size_t i = 0; i < out.size(); ++i) {
      const uint16_t bits = unpack<uint16_t>(t, i);
      out[i] = half ? f16_to_f32(bits) : bf16_to_f32(bits);
    }
  } else {
    fail(cat("safetensor '", t.name, "': dtype ", t.dtype,
             " cannot be read as float32 (F32, F64, F16 or BF16)"));
  }
  return out;
}

std::vector<int64_t> safetensor_to_i64(const SafeTensor& t) {
  std::vector<int64_t> out;
  if (t.dtype == "I64") {
    check_size(t, 8);
    out.resize(t.bytes.size() / 8);
    for (size_t i = 0; i < out.size(); ++i) out[i] = unpack<int64_t>(t, i);
  } else if (t.dtype == "I32") {
    check_size(t, 4);
    out.resize(t.bytes.size() / 4);
    for (size_t i = 0; i < out.size(); ++i) out[i] = unpack<int32_t>(t, i);
  } else if (t.dtype == "U8") {
    check_size(t, 1);
    out.assign(t.bytes.begin(), t.bytes.end());
  } else {
    fail(cat("safetensor '", t.name, "': dtype ", t.dtype,
             " cannot be read as int64 (I64, I32 or U8)"));
  }
  return out;
}

}  // namespace ae::io
