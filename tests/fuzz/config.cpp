// libFuzzer target: the JSON run configuration of `ae train --config`, through the command line's
// own steps: read_json_file, the model kind's preset, apply_json, validate. A configuration that
// was accepted must also survive its own round trip (to_json, the text, apply_json again).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "core/error.h"
#include "tests/fuzz/fuzz_check.h"
#include "run/config.h"

namespace {

// read_json_file takes a path: each input is written to one scratch file, removed at exit.
class ScratchFile {
 public:
  ScratchFile() {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir ? dir : "/tmp") + "/ae_fuzz_config_XXXXXX";
    fd_ = ::mkstemp(path_.data());
    FUZZ_CHECK(fd_ >= 0);
  }
  ~ScratchFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  const std::string& write(const uint8_t* data, size_t size) {
    FUZZ_CHECK(::ftruncate(fd_, 0) == 0);
    size_t done = 0;
    while (done < size) {
      const ssize_t put = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      FUZZ_CHECK(put > 0);
      done += static_cast<size_t>(put);
    }
    return path_;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ae::run;
  static ScratchFile scratch;
  std::string kind;
  RunConfig config;
  try {
    const json j = read_json_file(scratch.write(data, size));
    const ConfigFlags no_flags;
    kind = requested_model_kind(no_flags, &j);
    config = preset(kind);
    apply_json(config, j, "fuzz.json");
    validate(config);
  } catch (const ae::Error&) {
    return 0;
  }
  // Accepted: from here on any exception escapes and is a finding. What `ae train` saves as
  // config.json must read back to the same configuration.
  const json saved = to_json(config);
  RunConfig again = preset(kind);
  apply_json(again, json::parse(saved.dump()), "config.json");
  validate(again);
  FUZZ_CHECK(to_json(again) == saved);
  return 0;
}
