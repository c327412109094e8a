// Zip archives, read only as far as a .npz needs: the central directory (zip64 included), and
// entries stored or deflated. Every offset and size an archive claims is checked against the real
// size before anything is read or allocated; each error names the archive (and the entry).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/file.h"

namespace ae::io {

struct ZipEntry {
  std::string name;             // as stored ("x.npy", "xl/workbook.xml")
  uint16_t method = 0;          // 0 stored, 8 deflate; others are refused when read
  uint16_t flags = 0;           // general purpose bits (bit 0: encrypted)
  uint32_t crc = 0;             // CRC-32 of the uncompressed bytes
  uint64_t compressed_size = 0;
  uint64_t size = 0;            // uncompressed
  uint64_t local_offset = 0;    // of the entry's local header
};

// True when data starts like a zip archive ("PK\3\4", or "PK\5\6" for an empty one).
bool is_zip(const uint8_t* data, size_t n);

// The entries of the archive's central directory, in stored order.
std::vector<ZipEntry> zip_entries(const InputFile& file);
std::vector<ZipEntry> zip_entries(const InputBytes& bytes);

// The uncompressed bytes of one entry, their length and CRC-32 checked. An entry larger than
// max_bytes, encrypted, or compressed otherwise than stored or deflate is an error.
Bytes read_zip_entry(const InputFile& file, const ZipEntry& entry,
                     uint64_t max_bytes = kMaxReadBytes);
Bytes read_zip_entry(const InputBytes& bytes, const ZipEntry& entry,
                     uint64_t max_bytes = kMaxReadBytes);

}  // namespace ae::io
