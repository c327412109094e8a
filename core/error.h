// ae::Error: every failure the library reports. Messages are one line and name the op or file
// and the values involved. The library never aborts or exits on bad input.
//
// Each error has a kind, what failed, so that a caller (the Python bindings) can act on it
// without reading the message. AE_CHECK throws an argument error; AE_CHECK_KIND and fail take
// the kind.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ae {

enum class ErrorKind {
  argument,  // a refused value: a setting, a shape, an option, a name (the default)
  data,      // input whose contents are wrong: a malformed file, values ae cannot train on
  type,      // a value of a type ae does not read: an array on an unsupported device
  file,      // the file system: a file that cannot be opened, created, read or written
  state,     // an object not ready for the call: a model without the statistics it needs
};

// "argument", "data", "type", "file", "state".
constexpr const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::argument: return "argument";
    case ErrorKind::data: return "data";
    case ErrorKind::type: return "type";
    case ErrorKind::file: return "file";
    case ErrorKind::state: return "state";
  }
  return "?";
}

class Error : public std::runtime_error {
 public:
  // os_error: the errno of a failed file-system call (kind file), else 0.
  explicit Error(const std::string& message, ErrorKind kind = ErrorKind::argument,
                 int os_error = 0)
      : std::runtime_error(message), kind_(kind), os_error_(os_error) {}

  ErrorKind kind() const noexcept { return kind_; }
  int os_error() const noexcept { return os_error_; }

 private:
  ErrorKind kind_;
  int os_error_;
};

// Concatenates anything streamable into one string: cat("matmul: ", a.shape(), " vs ", n).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

[[noreturn]] inline void fail(const std::string& message, ErrorKind kind = ErrorKind::argument,
                              int os_error = 0) {
  throw Error(message, kind, os_error);
}

}  // namespace ae

// Throws ae::Error (kind argument) with the streamed message when cond is false. Active in every
// build type.
#define AE_CHECK(cond, ...)                                 \
  do {                                                      \
    if (!(cond)) ::ae::fail(::ae::cat(__VA_ARGS__));        \
  } while (0)

// AE_CHECK with the error's kind: AE_CHECK_KIND(data, n > 0, path, ": no rows").
#define AE_CHECK_KIND(kind, cond, ...)                                          \
  do {                                                                          \
    if (!(cond)) ::ae::fail(::ae::cat(__VA_ARGS__), ::ae::ErrorKind::kind);     \
  } while (0)
