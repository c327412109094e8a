#include "data/sniff.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "data/file.h"
#include "data/zip.h"

namespace ae::io {
namespace {

constexpr size_t kHead = 1024;

bool starts(const uint8_t* head, size_t n, const char* magic, size_t len) {
  return n >= len && std::memcmp(head, magic, len) == 0;
}

bool is_text(const uint8_t* head, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = head[i];
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
    if (c == 0x7f) return false;
  }
  return true;
}

// "a.csv, b.csv and 3 more"
std::string listing(const std::vector<ZipEntry>& entries) {
  std::string out;
  const size_t shown = std::min<size_t>(entries.size(), 5);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + entries[i].name;
  if (entries.size() > shown) out += cat(" and ", entries.size() - shown, " more");
  return out;
}

// The file's name without its last extension, for the converted file's name in advice.
std::string stem_of(const std::string& path) {
  const std::filesystem::path p(path);
  return (p.parent_path() / p.stem()).string();
}

// The kinds told apart by their first bytes alone; a zip is only "a zip archive" here.
FileKind kind_of_head(const uint8_t* h, size_t n, const std::string& path) {
  const std::string stem = stem_of(path);
  const std::string to_csv = cat(".to_csv('", stem, ".csv', index=False)");
  FileKind k;
  if (is_gzip(h, n)) {
    k.what = "gzip-compressed data";
    k.advice = "gunzip it first";
  } else if (starts(h, n, "\x93NUMPY", 6)) {
    k.format = "npy";
    k.what = "a .npy file";
  } else if (n >= 4 && h[0] == 0 && h[1] == 0 && h[2] >= 0x08 && h[2] <= 0x0E && h[2] != 0x0A &&
             h[3] >= 1 && h[3] <= 4) {
    k.format = "idx";
    k.what = "an IDX file";
  } else if (is_zip(h, n)) {
    k.what = "a zip archive (a .npz, say)";
  } else if (starts(h, n, "PAR1", 4)) {
    k.what = "a Parquet file (PAR1)";
    k.advice = cat("convert it to CSV, e.g. pandas.read_parquet('", path, "')", to_csv);
  } else if (starts(h, n, "ARROW1", 6) || starts(h, n, "FEA1", 4)) {
    k.what = "a Feather / Arrow IPC file";
    k.advice = cat("convert it to CSV, e.g. pandas.read_feather('", path, "')", to_csv);
  } else if (starts(h, n, "\x89HDF\r\n\x1a\n", 8)) {
    k.what = "an HDF5 file";
    k.advice = cat("save the array as .npy, e.g. np.save('", stem, ".npy', h5py.File('", path,
                   "')['NAME'][:]), or a pandas store as CSV: pandas.read_hdf('", path, "')",
                   to_csv);
  } else if (starts(h, n, "MATLAB", 6)) {
    k.what = "a MATLAB .mat file";
    k.advice = cat("save the array as .npy, e.g. np.save('", stem, ".npy', scipy.io.loadmat('",
                   path, "')['NAME'])");
  } else if (starts(h, n, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8)) {
    k.what = "an Excel 97-2003 workbook (.xls)";
    k.advice = cat("save the sheet as CSV (Save As, CSV), or pandas.read_excel('", path, "')",
                   to_csv);
  } else if (n >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5) {
    k.what = "a Python pickle";
    k.advice = cat("loading one runs its code; save the array with np.save('", stem,
                   ".npy', a), or a DataFrame with df", to_csv);
  } else if (starts(h, n, "BZh", 3) || starts(h, n, "\xFD" "7zXZ", 6) ||
             starts(h, n, "\x28\xB5\x2F\xFD", 4) || starts(h, n, "7z\xBC\xAF\x27\x1C", 6)) {
    const char* name = h[0] == 'B' ? "bzip2" : h[0] == 0xFD ? "xz" : h[0] == 0x28 ? "zstd" : "7z";
    k.what = cat("a ", name, "-compressed file");
    k.advice = cat("decompress it first (ae inflates gzip only), e.g. ",
                   h[0] == 'B' ? "bunzip2" : h[0] == 0xFD ? "unxz" : h[0] == 0x28 ? "unzstd" : "7z x",
                   " ", path);
  } else if ((n >= 2 && h[0] == 0xFF && h[1] == 0xFE) || (n >= 2 && h[0] == 0xFE && h[1] == 0xFF)) {
    k.what = "UTF-16 text (what Excel saves as \"Unicode Text\")";
    k.advice = cat("save it as UTF-8 (CSV UTF-8 in Excel), or convert it: iconv -f UTF-16 -t UTF-8 ",
                   path, " > ", stem, ".csv");
  } else if (n >= 9 && h[8] == '{' && h[4] == 0 && h[5] == 0 && h[6] == 0 && h[7] == 0 &&
             (h[0] != 0 || h[1] != 0 || h[2] != 0 || h[3] != 0)) {
    // safetensors: an 8-byte little-endian header length, then the JSON header.
    k.format = "safetensors";
    k.what = "a safetensors file";
  }
  if (k.what.empty() && is_text(h, n)) {
    k.format = "csv";
    k.what = "text";
  }
  return k;
}

}  // namespace

std::string describe_head(const uint8_t* head, size_t n) {
  return kind_of_head(head, std::min(n, kHead), "").what;
}

FileKind sniff_file(const std::string& path) {
  InputFile file(path);
  uint8_t head[kHead];
  const size_t n = static_cast<size_t>(std::min<uint64_t>(file.size(), kHead));
  file.read_at(0, head, n);
  FileKind k = kind_of_head(head, n, path);
  const std::string stem = stem_of(path);
  if (is_gzip(head, n)) {
    const size_t compressed = static_cast<size_t>(std::min<uint64_t>(file.size(), 64 << 10));
    Bytes packed(compressed);
    file.read_at(0, packed.data(), packed.size());
    const Bytes inner = gunzip_head(packed.data(), packed.size(), kHead);
    FileKind in = kind_of_head(inner.data(), inner.size(), stem);
    if (!in.format.empty() && !is_zip(inner.data(), inner.size())) {
      in.gzip = true;
      in.what = "gzip-compressed " + in.what;
      return in;
    }
    k.format.clear();
    k.what = in.what.empty() ? "gzip-compressed data of no kind ae knows"
                             : "gzip-compressed data: " + in.what;
    k.advice = in.what.empty() ? "gunzip it to see what it holds; compressed, ae reads CSV text, "
                                 ".npy and IDX files"
               : in.advice.empty() ? "gunzip it first"
                                   : "gunzip it first; then " + in.advice;
    return k;
  }
  if (!is_zip(head, n)) return k;
  std::vector<ZipEntry> entries;
  try {
    entries = zip_entries(file);
  } catch (const Error& e) {
    k.what = "a zip archive whose directory cannot be read";
    k.advice = e.what();
    return k;
  }
  auto any = [&](auto pred) { return std::any_of(entries.begin(), entries.end(), pred); };
  auto ends = [](const std::string& s, const char* suffix) {
    const size_t m = std::strlen(suffix);
    return s.size() >= m && s.compare(s.size() - m, m, suffix) == 0;
  };
  if (any([&](const ZipEntry& e) { return ends(e.name, ".npy"); })) {
    k.format = "npz";
    k.what = "a .npz archive";
    k.advice.clear();
  } else if (any([](const ZipEntry& e) { return e.name.rfind("xl/", 0) == 0; })) {
    k.what = "an Excel workbook (.xlsx)";
    k.advice = cat("save the sheet as CSV (Save As, CSV), or pandas.read_excel('", path,
                   "').to_csv('", stem, ".csv', index=False)");
  } else if (any([&](const ZipEntry& e) { return ends(e.name, "data.pkl"); })) {
    k.what = "a PyTorch file (torch.save)";
    k.advice = cat("save the tensor as .npy, e.g. np.save('", stem, ".npy', torch.load('", path,
                   "').numpy())");
  } else {
    k.what = entries.empty() ? "an empty zip archive" : cat("a zip archive holding ", listing(entries));
    k.advice = "unzip it and pass the file it holds";
  }
  return k;
}

std::string not_readable_message(const std::string& path, const FileKind& kind) {
  return cat(path, ": ", kind.what, ", which ae does not read",
             kind.advice.empty() ? "" : "; " + kind.advice);
}

}  // namespace ae::io
