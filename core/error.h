// ae::Error: every failure the library reports. Messages are one line and name the op or file
// and the values involved. The library never aborts or exits on bad input.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ae {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable into one string: cat("matmul: ", a.shape(), " vs ", n).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace ae

// Throws ae::Error with the streamed message when cond is false. Active in every build type.
#define AE_CHECK(cond, ...)                                 \
  do {                                                      \
    if (!(cond)) ::ae::fail(::ae::cat(__VA_ARGS__));        \
  } while (0)
