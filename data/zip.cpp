#include "data/zip.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "core/error.h"
#include "data/endian.h"

#ifndef AE_HAVE_ZLIB
#define AE_HAVE_ZLIB 0
#endif
#if AE_HAVE_ZLIB
#include <zlib.h>
#endif

namespace ae::io {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint64_t kEndSize = 22, kEnd64Size = 56, kEnd64LocatorSize = 20;
constexpr uint64_t kCentralSize = 46, kLocalSize = 30;
constexpr uint64_t kMaxComment = 65535;
// A .npz holds a few arrays; a central directory past this is not one ae would read.
constexpr uint64_t kMaxDirectory = uint64_t{64} << 20;

uint16_t u16(const uint8_t* p) { return load_as<uint16_t>(p, std::endian::little); }
uint32_t u32(const uint8_t* p) { return load_as<uint32_t>(p, std::endian::little); }
uint64_t u64(const uint8_t* p) { return load_as<uint64_t>(p, std::endian::little); }

// Control bytes in an entry's name would break a one-line message.
std::string printable(const uint8_t* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

uint32_t crc32_of(const uint8_t* data, size_t n) {
#if AE_HAVE_ZLIB
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, size_t{1} << 30);
    crc = crc32(crc, data, static_cast<uInt>(chunk));
    data += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
#else
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
#endif
}

// Where the central directory lies and how many entries it holds, from the end records.
struct Directory {
  uint64_t offset = 0, size = 0, entries = 0;
};

template <class Input>
Directory find_directory(const Input& file) {
  const std::string& path = file.path();
  const uint64_t size = file.size();
  AE_CHECK(size >= kEndSize, path, ": not a zip archive (", size,
           " bytes, too short for the end of its central directory)");
  // The end record is the last 22 bytes, before a comment of up to 65535 bytes.
  const uint64_t tail_size = std::min(size, kEndSize + kMaxComment);
  const uint64_t tail_start = size - tail_size;
  Bytes tail(tail_size);
  file.read_at(tail_start, tail.data(), tail.size());
  int64_t at = -1;
  for (int64_t i = static_cast<int64_t>(tail_size - kEndSize); i >= 0; --i) {
    const uint8_t* p = tail.data() + i;
    if (u32(p) == kEndSig && static_cast<uint64_t>(i) + kEndSize + u16(p + 20) <= tail_size) {
      at = i;
      break;
    }
  }
  AE_CHECK(at >= 0, path, ": not a zip archive (no end of central directory record)");
  const uint8_t* e = tail.data() + at;
  const uint64_t end_pos = tail_start + static_cast<uint64_t>(at);
  AE_CHECK(u16(e + 4) == 0 && u16(e + 6) == 0, path,
           ": a zip archive split over several disks, which ae does not read; join it first");
  Directory d{u32(e + 16), u32(e + 12), u16(e + 10)};
  uint64_t limit = end_pos;  // the directory lies before the end records

  // Zip64: a locator just before the end record points at the 64-bit end record.
  if (end_pos >= kEnd64LocatorSize) {
    uint8_t loc[kEnd64LocatorSize];
    file.read_at(end_pos - kEnd64LocatorSize, loc, sizeof loc);
    if (u32(loc) == kEnd64LocatorSig) {
      const uint64_t end64 = u64(loc + 8);
      AE_CHECK(end64 <= end_pos - kEnd64LocatorSize &&
                   end_pos - kEnd64LocatorSize - end64 >= kEnd64Size,
               path, ": zip64 end record offset ", end64, " lies outside the archive's ", size,
               " bytes");
      uint8_t r[kEnd64Size];
      file.read_at(end64, r, sizeof r);
      AE_CHECK(u32(r) == kEnd64Sig, path, ": no zip64 end record at offset ", end64);
      AE_CHECK(u32(r + 16) == 0 && u32(r + 20) == 0, path,
               ": a zip archive split over several disks, which ae does not read; join it first");
      d = Directory{u64(r + 48), u64(r + 40), u64(r + 32)};
      limit = end64;
    }
  }
  AE_CHECK(d.offset <= limit && d.size <= limit - d.offset, path, ": central directory (",
           d.size, " bytes at offset ", d.offset, ") lies outside the archive's ", size, " bytes");
  AE_CHECK(d.size <= kMaxDirectory, path, ": central directory of ", d.size,
           " bytes is larger than the limit of ", kMaxDirectory);
  AE_CHECK(d.entries <= d.size / kCentralSize, path, ": central directory of ", d.size,
           " bytes cannot hold the ", d.entries, " entries it claims");
  return d;
}

template <class Input>
std::vector<ZipEntry> read_entries(const Input& file) {
  const std::string& path = file.path();
  const Directory dir = find_directory(file);
  Bytes cd(dir.size);
  file.read_at(dir.offset, cd.data(), cd.size());
  std::vector<ZipEntry> entries;
  entries.reserve(dir.entries);
  uint64_t pos = 0;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    AE_CHECK(dir.size - pos >= kCentralSize && u32(cd.data() + pos) == kCentralSig, path,
             ": central directory entry ", i, " of ", dir.entries, " is missing or corrupt");
    const uint8_t* h = cd.data() + pos;
    const uint64_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
    AE_CHECK(name_len + extra_len + comment_len <= dir.size - pos - kCentralSize, path,
             ": central directory entry ", i, " runs past the end of the directory");
    ZipEntry e;
    e.flags = u16(h + 8);
    e.method = u16(h + 10);
    e.crc = u32(h + 16);
    e.compressed_size = u32(h + 20);
    e.size = u32(h + 24);
    e.local_offset = u32(h + 42);
    e.name = printable(h + kCentralSize, name_len);
    // Zip64: the fields stored as 0xFFFFFFFF follow in the extra field of id 1, in this order.
    const uint8_t* x = h + kCentralSize + name_len;
    for (uint64_t off = 0; off + 4 <= extra_len;) {
      const uint16_t id = u16(x + off), len = u16(x + off + 2);
      AE_CHECK(off + 4 + len <= extra_len, path, ": entry '", e.name,
               "': an extra field runs past its header");
      if (id == 1) {
        const uint8_t* v = x + off + 4;
        uint64_t left = len;
        for (uint64_t* field : {&e.size, &e.compressed_size, &e.local_offset}) {
          if (*field != 0xFFFFFFFFu) continue;
          AE_CHECK(left >= 8, path, ": entry '", e.name, "': zip64 extra field too short");
          *field = u64(v);
          v += 8;
          left -= 8;
        }
      }
      off += 4 + len;
    }
    entries.push_back(std::move(e));
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
  return entries;
}

#if AE_HAVE_ZLIB
// Inflates raw deflate data (no zlib or gzip wrapper) into exactly out.size() bytes.
void inflate_exact(const uint8_t* data, uint64_t n, Bytes& out, const std::string& where) {
  z_stream zs{};
  AE_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, where, ": cannot start zlib inflate");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  uint64_t in_pos = 0, out_pos = 0;
  uint8_t spill = 0;  // catches output past the expected size
  for (;;) {
    const uint64_t in_chunk = std::min<uint64_t>(n - in_pos, uint64_t{1} << 30);
    const bool full = out_pos == out.size();
    const uint64_t out_chunk = full ? 1 : std::min<uint64_t>(out.size() - out_pos, uint64_t{1} << 30);
    zs.next_in = const_cast<Bytef*>(data + in_pos);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = full ? &spill : out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    const uint64_t produced = out_chunk - zs.avail_out;
    AE_CHECK(!(full && produced > 0), where, ": inflates to more than the ", out.size(),
             " bytes the zip directory gives");
    out_pos += produced;
    if (rc == Z_STREAM_END) break;
    AE_CHECK(rc == Z_OK || rc == Z_BUF_ERROR, where, ": corrupt deflate data: ",
             zs.msg ? zs.msg : "zlib error");
    AE_CHECK(produced > 0 || in_chunk - zs.avail_in > 0, where,
             ": deflate data is truncated (", n, " compressed bytes, ", out_pos,
             " inflated before the end)");
  }
  AE_CHECK(out_pos == out.size(), where, ": inflates to ", out_pos, " bytes, the zip directory gives ",
           out.size());
}
#endif

template <class Input>
Bytes read_entry(const Input& file, const ZipEntry& e, uint64_t max_bytes) {
  const std::string& path = file.path();
  const std::string where = cat(path, ": entry '", e.name, "'");
  AE_CHECK((e.flags & 1) == 0, where, " is encrypted; ae reads only unencrypted archives");
  AE_CHECK(e.method == 0 || e.method == 8, where, " is compressed with method ", e.method,
           e.method == 12 ? " (bzip2)" : e.method == 14 ? " (LZMA)" : "",
           "; ae reads entries stored or deflated (what np.savez and np.savez_compressed write)");
  AE_CHECK(e.size <= max_bytes, where, ": ", e.size, " bytes is larger than the limit of ",
           max_bytes, " bytes");
  const uint64_t size = file.size();
  AE_CHECK(e.local_offset <= size && size - e.local_offset >= kLocalSize, where,
           ": local header offset ", e.local_offset, " lies outside the archive's ", size, " bytes");
  uint8_t h[kLocalSize];
  file.read_at(e.local_offset, h, sizeof h);
  AE_CHECK(u32(h) == kLocalSig, where, ": no local header at offset ", e.local_offset);
  // The data follows the local header's own name and extra field, which may differ from the
  // central directory's (numpy writes a zip64 extra field only here).
  const uint64_t start = e.local_offset + kLocalSize + u16(h + 26) + u16(h + 28);
  AE_CHECK(start <= size && e.compressed_size <= size - start, where, ": ", e.compressed_size,
           " compressed bytes at offset ", start, " run past the archive's ", size, " bytes");
  Bytes out;
  if (e.method == 0) {
    AE_CHECK(e.compressed_size == e.size, where, ": stored, but its sizes differ (",
             e.compressed_size, " and ", e.size, " bytes)");
    out.resize(e.size);
    file.read_at(start, out.data(), out.size());
  } else {
#if AE_HAVE_ZLIB
    // Deflate expands at most ~1032:1: a larger claim is a hostile header, refused before
    // allocating it.
    AE_CHECK(e.size <= e.compressed_size * 1032 + 64, where, ": ", e.compressed_size,
             " compressed bytes cannot inflate to the ", e.size, " the zip directory gives");
    Bytes packed(e.compressed_size);
    file.read_at(start, packed.data(), packed.size());
    out.resize(e.size);
    inflate_exact(packed.data(), packed.size(), out, where);
#else
    fail(cat(where, " is deflated (np.savez_compressed), but ae was built without zlib; save it "
             "with np.savez or np.save, or rebuild ae with zlib"));
#endif
  }
  AE_CHECK(crc32_of(out.data(), out.size()) == e.crc, where,
           ": CRC-32 mismatch (the archive is corrupt)");
  return out;
}

}  // namespace

bool is_zip(const uint8_t* data, size_t n) {
  return n >= 4 && data[0] == 'P' && data[1] == 'K' &&
         ((data[2] == 3 && data[3] == 4) || (data[2] == 5 && data[3] == 6));
}

std::vector<ZipEntry> zip_entries(const InputFile& file) { return read_entries(file); }
std::vector<ZipEntry> zip_entries(const InputBytes& bytes) { return read_entries(bytes); }

Bytes read_zip_entry(const InputFile& file, const ZipEntry& entry, uint64_t max_bytes) {
  return read_entry(file, entry, max_bytes);
}
Bytes read_zip_entry(const InputBytes& bytes, const ZipEntry& entry, uint64_t max_bytes) {
  return read_entry(bytes, entry, max_bytes);
}

}  // namespace ae::io
