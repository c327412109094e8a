// Whole-file reads and crash-safe writes. Every error names the file and says what went wrong:
// "data/x.csv: cannot open: No such file or directory".
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ae::io {

using Bytes = std::vector<uint8_t>;

// Default limit on what one read may produce (a file, or a gzip stream once inflated). MNIST's
// training images are 47 MB inflated; a hostile 1 KB .gz cannot make ae allocate terabytes.
inline constexpr uint64_t kMaxReadBytes = uint64_t{4} << 30;

// An open file read by absolute offsets; the readers use it to check sizes claimed by a header
// against the real file size before allocating anything.
class InputFile {
 public:
  explicit InputFile(const std::string& path);  // throws "<path>: cannot open: <reason>"
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Reads exactly n bytes at offset into dst; throws if the file is shorter or the read fails.
  void read_at(uint64_t offset, void* dst, size_t n) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Bytes already in memory, read by absolute offsets exactly as InputFile reads a file (same range
// checks, same messages), so that each parser is written once over either and a buffer goes
// through the same checks as a file. It does not own the bytes.
class InputBytes {
 public:
  InputBytes(const Bytes& bytes, std::string name)
      : data_(bytes.data()), size_(bytes.size()), name_(std::move(name)) {}
  InputBytes(Bytes&&, std::string) = delete;  // it would point into a temporary

  const std::string& path() const { return name_; }
  uint64_t size() const { return size_; }
  // Copies exactly n bytes at offset into dst; throws if the buffer is shorter.
  void read_at(uint64_t offset, void* dst, size_t n) const;

 private:
  const uint8_t* data_;
  uint64_t size_;
  std::string name_;
};

// Throws "<path>: cannot open: No such file or directory" (kind file) when nothing, neither a file
// nor a folder, is at path.
void check_exists(const std::string& path);

// The raw bytes of path. Refuses files larger than max_bytes.
Bytes read_file(const std::string& path, uint64_t max_bytes = kMaxReadBytes);

// The bytes of path, inflated when they start with the gzip magic (1f 8b), so "x.idx" and
// "x.idx.gz" read the same. Without zlib (AE_HAVE_ZLIB 0) a gzip file is a clear error.
Bytes read_file_inflated(const std::string& path, uint64_t max_bytes = kMaxReadBytes);

// True when data starts with the gzip magic bytes.
bool is_gzip(const uint8_t* data, size_t n);

// Inflates one or more concatenated gzip members; name is used in messages. Throws when the
// output would exceed max_bytes, the stream is truncated or corrupt, or ae has no zlib.
Bytes gunzip(const uint8_t* data, size_t n, const std::string& name,
             uint64_t max_bytes = kMaxReadBytes);

// The first (up to) `want` inflated bytes of gzip data, to tell what it holds; never throws:
// corrupt or truncated data gives what was inflated before it, and no zlib gives nothing.
Bytes gunzip_head(const uint8_t* data, size_t n, size_t want);

// What write_file_atomic hands to its producer: buffered writes into the temporary file.
class FileSink {
 public:
  void write(const void* data, size_t n);
  void write(const Bytes& bytes) { write(bytes.data(), bytes.size()); }
  void write(const std::string& text) { write(text.data(), text.size()); }
  uint64_t bytes_written() const { return written_; }

 private:
  friend void write_file_atomic(const std::string&, const std::function<void(FileSink&)>&);
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void flush();

  int fd_;
  std::string path_;  // the temporary file, for messages
  std::vector<uint8_t> buffer_;
  uint64_t written_ = 0;
};

// Writes path so that a crash or an exception never leaves it half-written: the producer writes
// a temporary file in the same folder, which is flushed, fsync'ed and renamed over path. Until
// the rename the old file stays intact; if the producer throws, the temporary file is removed
// and the exception propagates. An existing file's permission bits are kept.
void write_file_atomic(const std::string& path, const std::function<void(FileSink&)>& produce);
void write_file_atomic(const std::string& path, const Bytes& bytes);

}  // namespace ae::io
