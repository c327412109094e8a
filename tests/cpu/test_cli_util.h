// Helpers of the command-line tests: run the built `ae` in a fresh folder and look at what it
// wrote. AE_CLI_PATH is the binary (set by tests/CMakeLists.txt when the tools are built).
#pragma once
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "data/safetensors.h"

namespace ae::testing_cli {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

inline std::vector<uint8_t> read_bytes(const fs::path& p) {
  const std::string s = read_text(p);
  return {s.begin(), s.end()};
}

inline size_t count_lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

// A folder of its own for each test, removed afterwards unless the test failed.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("ae_cli_") + info->test_suite_name() + "_" + info->name() + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path path(const std::string& name) const { return dir_ / name; }

  // Runs `ae <args>` in the test's folder (args are given to the shell as they are).
  Result ae(const std::string& args) const {
    Result r;
    const fs::path out = dir_ / ".stdout", err = dir_ / ".stderr";
    const std::string command = "cd '" + dir_.string() + "' && AE_DEVICE=cpu '" + AE_CLI_PATH +
                                "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(command.c_str());
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
  }

  // The run must succeed; its output is shown when it does not.
  Result ok(const std::string& args) const {
    Result r = ae(args);
    EXPECT_EQ(r.code, 0) << "ae " << args << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
    return r;
  }

  // The run must fail the way every ae error does: exit code 2 and one line "ae: ..." on stderr
  // that contains each of `mentions`.
  Result fails(const std::string& args, const std::vector<std::string>& mentions) const {
    Result r = ae(args);
    EXPECT_EQ(r.code, 2) << "ae " << args << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
    EXPECT_EQ(r.err.rfind("ae: ", 0), 0u) << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    for (const std::string& m : mentions)
      EXPECT_NE(r.err.find(m), std::string::npos) << "'" << m << "' not in: " << r.err;
    return r;
  }

  fs::path dir_;
};

// Every tensor of two checkpoint files, byte for byte, and their training state.
inline void expect_same_checkpoint(const fs::path& a, const fs::path& b) {
  const io::SafeTensorsFile fa = io::read_safetensors(a.string());
  const io::SafeTensorsFile fb = io::read_safetensors(b.string());
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (const io::SafeTensor& t : fa.tensors) {
    const io::SafeTensor* u = fb.find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.shape, u->shape) << t.name;
    EXPECT_TRUE(t.bytes == u->bytes) << t.name << " differs";
  }
  for (const char* key : {"ae.epoch", "ae.step", "ae.rng_offset", "ae.best_loss", "ae.best_epoch",
                          "ae.optimizer_steps", "ae.model"})
    EXPECT_EQ(fa.metadata.at(key), fb.metadata.at(key)) << key;
}

// Width and height of a PNG file, from its IHDR chunk.
inline std::pair<uint32_t, uint32_t> png_size(const fs::path& p) {
  const std::vector<uint8_t> b = read_bytes(p);
  if (b.size() < 24 || b[1] != 'P' || b[2] != 'N' || b[3] != 'G') return {0, 0};
  auto be32 = [&](size_t at) {
    return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
  };
  return {be32(16), be32(20)};
}

}  // namespace ae::testing_cli
