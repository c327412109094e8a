#include "data/npz.h"

#include <algorithm>

#include "core/error.h"
#include "data/npy.h"
#include "data/zip.h"

namespace ae::io {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "a, b and c" (the first 10, then how many more).
std::string listing(const std::vector<std::string>& names) {
  constexpr size_t kShown = 10;
  std::string out;
  const size_t shown = std::min(names.size(), kShown);
  for (size_t i = 0; i < shown; ++i)
    out += (i == 0 ? "" : i + 1 == shown && names.size() <= kShown ? " and " : ", ") + names[i];
  if (names.size() > kShown) out += cat(" and ", names.size() - kShown, " more");
  return out;
}

// The name without its extension: "data/x.npz" -> "data/x".
std::string stem_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  return dot == std::string::npos || (slash != std::string::npos && dot < slash) ? path
                                                                                 : path.substr(0, dot);
}

std::vector<std::string> keys_of(const std::vector<ZipEntry>& entries) {
  std::vector<std::string> keys;
  for (const ZipEntry& e : entries)
    if (ends_with(e.name, ".npy")) keys.push_back(e.name.substr(0, e.name.size() - 4));
  return keys;
}

template <class Input>
Array read_npz_input(const Input& file, const std::string& key, uint64_t max_bytes) {
  const std::string& path = file.path();
  const std::vector<ZipEntry> entries = zip_entries(file);
  const std::vector<std::string> keys = keys_of(entries);
  if (keys.empty()) {
    std::vector<std::string> names;
    for (const ZipEntry& e : entries) names.push_back(cat("'", e.name, "'"));
    fail(cat(path, ": a zip archive without .npy arrays, so not a .npz",
             names.empty() ? " (it is empty)" : cat(" (it holds ", listing(names), ")")));
  }
  auto has = [&](const char* k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  if (has("format") && has("shape") && has("data"))
    fail(cat(path, ": a scipy.sparse matrix (arrays ", listing(keys), "), which ae reads only "
             "dense; save it dense: np.save('", stem_of(path), ".npy', scipy.sparse.load_npz('",
             path, "').toarray())"));
  size_t pick = 0;
  if (key.empty()) {
    AE_CHECK(keys.size() == 1, path, ": holds ", keys.size(), " arrays (", listing(keys),
             "); pass --npz-key with the one to read");
    pick = 0;
  } else {
    pick = static_cast<size_t>(std::find(keys.begin(), keys.end(), key) - keys.begin());
    AE_CHECK(pick < keys.size(), path, ": no array '", key, "' (it holds ", listing(keys), ")");
  }
  const std::string entry_name = keys[pick] + ".npy";
  const auto entry = std::find_if(entries.begin(), entries.end(),
                                  [&](const ZipEntry& e) { return e.name == entry_name; });
  const Bytes bytes = read_zip_entry(file, *entry, max_bytes);
  return parse_npy(bytes, cat(path, "[", keys[pick], "]"));
}

}  // namespace

std::vector<std::string> npz_keys(const std::string& path) {
  return keys_of(zip_entries(InputFile(path)));
}

Array read_npz(const std::string& path, const std::string& key, uint64_t max_bytes) {
  return read_npz_input(InputFile(path), key, max_bytes);
}

Array parse_npz(const Bytes& bytes, const std::string& name, const std::string& key,
                uint64_t max_bytes) {
  return read_npz_input(InputBytes(bytes, name), key, max_bytes);
}

}  // namespace ae::io
