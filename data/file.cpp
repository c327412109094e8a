#include "data/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

#ifndef AE_HAVE_ZLIB
#define AE_HAVE_ZLIB 0
#endif
#if AE_HAVE_ZLIB
#include <zlib.h>
#endif

namespace ae::io {
namespace {

// A failed file-system call: "<what>: <the system's reason for err>", of kind file.
[[noreturn]] void fail_file(const std::string& what, int err) {
  fail(cat(what, ": ", std::strerror(err)), ErrorKind::file, err);
}

// Closes fd, retrying on EINTR is wrong for close on Linux, so call it once.
void close_quietly(int fd) {
  if (fd >= 0) ::close(fd);
}

}  // namespace

// --- reading -------------------------------------------------------------------------------------

InputFile::InputFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail_file(cat(path, ": cannot open"), errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    close_quietly(fd_);
    fail_file(cat(path, ": cannot open"), err);
  }
  if (S_ISDIR(st.st_mode)) {
    close_quietly(fd_);
    fail_file(cat(path, ": cannot open"), EISDIR);
  }
  if (!S_ISREG(st.st_mode)) {
    close_quietly(fd_);
    fail(cat(path, ": cannot open: not a regular file"), ErrorKind::file);
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() { close_quietly(fd_); }

void InputFile::read_at(uint64_t offset, void* dst, size_t n) const {
  AE_CHECK_KIND(data, offset <= size_ && n <= size_ - offset, path_, ": cannot read ", n,
                " bytes at offset ", offset, ": the file has only ", size_, " bytes");
  auto* out = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail_file(cat(path_, ": read failed at offset ", offset + done), errno);
    AE_CHECK_KIND(file, got > 0, path_, ": unexpected end of file at byte ", offset + done,
                  " (the file shrank while being read)");
    done += static_cast<size_t>(got);
  }
}

void InputBytes::read_at(uint64_t offset, void* dst, size_t n) const {
  AE_CHECK_KIND(data, offset <= size_ && n <= size_ - offset, name_, ": cannot read ", n,
                " bytes at offset ", offset, ": the file has only ", size_, " bytes");
  if (n > 0) std::memcpy(dst, data_ + offset, n);
}

void check_exists(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail_file(cat(path, ": cannot open"), ENOENT);
}

Bytes read_file(const std::string& path, uint64_t max_bytes) {
  InputFile file(path);
  AE_CHECK_KIND(data, file.size() <= max_bytes, path, ": ", file.size(),
                " bytes is larger than the limit of ", max_bytes, " bytes");
  Bytes bytes(static_cast<size_t>(file.size()));
  file.read_at(0, bytes.data(), bytes.size());
  return bytes;
}

bool is_gzip(const uint8_t* data, size_t n) { return n >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

Bytes read_file_inflated(const std::string& path, uint64_t max_bytes) {
  Bytes raw = read_file(path, max_bytes);
  if (!is_gzip(raw.data(), raw.size())) return raw;
  return gunzip(raw.data(), raw.size(), path, max_bytes);
}

#if AE_HAVE_ZLIB

Bytes gunzip(const uint8_t* data, size_t n, const std::string& name, uint64_t max_bytes) {
  AE_CHECK(is_gzip(data, n), name, ": not gzip data (no 1f 8b magic)");
  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip wrapper and check its CRC and length trailer.
  AE_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, name, ": cannot start zlib inflate");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};

  // Deflate expands at most ~1032:1, so cap the initial reservation by that and by the limit;
  // the trailer's size field is only a hint a hostile file could inflate.
  const uint64_t ratio_cap = static_cast<uint64_t>(n) * 1032 + 64;
  Bytes out;
  out.resize(static_cast<size_t>(std::min<uint64_t>({max_bytes, ratio_cap, uint64_t{1} << 20})));

  size_t in_pos = 0;
  size_t out_pos = 0;
  for (;;) {
    if (out_pos == out.size()) {
      AE_CHECK_KIND(data, out.size() < max_bytes, name, ": inflated size exceeds the limit of ",
                    max_bytes, " bytes");
      out.resize(static_cast<size_t>(std::min<uint64_t>(max_bytes, out.size() * uint64_t{2})));
    }
    const size_t in_chunk = std::min<size_t>(n - in_pos, 1u << 30);
    const size_t out_chunk = std::min<size_t>(out.size() - out_pos, 1u << 30);
    zs.next_in = const_cast<Bytef*>(data + in_pos);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(out_chunk);
    int rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Concatenated members are valid gzip (what `cat a.gz b.gz` makes): keep going.
      if (in_pos < n && is_gzip(data + in_pos, n - in_pos)) {
        AE_CHECK(inflateReset(&zs) == Z_OK, name, ": cannot reset zlib inflate");
        continue;
      }
      AE_CHECK_KIND(data, in_pos == n, name, ": ", n - in_pos,
                    " bytes of garbage after the gzip stream");
      break;
    }
    if (rc == Z_BUF_ERROR || (rc == Z_OK && in_pos == n && zs.avail_out != 0)) {
      // No progress possible: either the output is full (grow it above) or the input ran out.
      AE_CHECK_KIND(data, in_pos < n || out_pos == out.size(), name,
                    ": gzip stream is truncated (", n, " compressed bytes, ", out_pos,
                    " inflated before the end)");
      continue;
    }
    AE_CHECK_KIND(data, rc == Z_OK, name, ": corrupt gzip data: ",
                  zs.msg ? zs.msg : "zlib error ", zs.msg ? "" : std::to_string(rc));
  }
  out.resize(out_pos);
  out.shrink_to_fit();
  return out;
}

Bytes gunzip_head(const uint8_t* data, size_t n, size_t want) {
  Bytes out(want);
  z_stream zs{};
  if (!is_gzip(data, n) || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return {};
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(std::min<size_t>(want, 1u << 30));
  while (zs.avail_out > 0 && zs.avail_in > 0) {
    const int rc = inflate(&zs, Z_SYNC_FLUSH);
    if (rc != Z_OK) break;
  }
  out.resize(std::min<size_t>(want, 1u << 30) - zs.avail_out);
  inflateEnd(&zs);
  return out;
}

#else

Bytes gunzip_head(const uint8_t*, size_t, size_t) { return {}; }

Bytes gunzip(const uint8_t* data, size_t n, const std::string& name, uint64_t max_bytes) {
  fail(cat(name,
           ": gzip-compressed, but ae was built without zlib; decompress it first "
           "(gunzip) or rebuild ae with zlib"));
}

#endif

// --- writing -------------------------------------------------------------------------------------

void FileSink::write(const void* data, size_t n) {
  constexpr size_t kBuffer = size_t{1} << 16;
  const auto* bytes = static_cast<const uint8_t*>(data);
  written_ += n;
  if (buffer_.size() + n <= kBuffer) {
    buffer_.insert(buffer_.end(), bytes, bytes + n);
    return;
  }
  flush();
  if (n <= kBuffer) {
    buffer_.insert(buffer_.end(), bytes, bytes + n);
    return;
  }
  size_t done = 0;  // large blocks go straight to the file
  while (done < n) {
    ssize_t put = ::write(fd_, bytes + done, n - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) fail_file(cat(path_, ": write failed"), errno);
    done += static_cast<size_t>(put);
  }
}

void FileSink::flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t put = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) fail_file(cat(path_, ": write failed"), errno);
    done += static_cast<size_t>(put);
  }
  buffer_.clear();
}

void write_file_atomic(const std::string& path, const std::function<void(FileSink&)>& produce) {
  namespace fs = std::filesystem;
  AE_CHECK(!path.empty(), "write_file_atomic: empty path");
  const fs::path target(path);
  AE_CHECK_KIND(file, target.has_filename(), path, ": cannot write: not a file name");
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");

  // Same folder as the target, so the final rename never crosses file systems. The name is hidden
  // and unique per process and call; O_EXCL refuses to reuse anything already there.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp_name =
      cat(".", target.filename().string(), ".tmp.", ::getpid(), ".", counter++);
  const std::string tmp = (dir / tmp_name).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) fail_file(cat(path, ": cannot create temporary file ", tmp), errno);

  try {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::fchmod(fd, st.st_mode & 07777);
    FileSink sink(fd, tmp);
    produce(sink);
    sink.flush();
    if (::fsync(fd) != 0) fail_file(cat(tmp, ": fsync failed"), errno);
    const int rc = ::close(fd);
    fd = -1;
    if (rc != 0) fail_file(cat(tmp, ": close failed"), errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      fail_file(cat(path, ": cannot rename ", tmp, " over it"), errno);
  } catch (...) {
    close_quietly(fd);
    ::unlink(tmp.c_str());
    throw;
  }

  // Make the rename itself durable. Some file systems refuse fsync on a folder; the data is
  // already safe then, so that is not an error.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, const Bytes& bytes) {
  write_file_atomic(path, [&](FileSink& sink) { sink.write(bytes); });
}

}  // namespace ae::io
