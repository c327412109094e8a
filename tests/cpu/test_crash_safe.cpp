// Crash safety of checkpoint writes: a process killed with SIGKILL while it writes a large
// safetensors file (through write_file_atomic) leaves the previous file intact and loadable, and
// never a half-written file under the target's name. A writer that wrote in place would fail
// here: the target would be truncated or mixed, and read_safetensors would refuse it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "data/safetensors.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::TempDir;

// A checkpoint of `count` tensors of `floats` values each; tensor i holds generation + i
// everywhere, so a read can tell which write it came from and whether it is complete.
std::vector<SafeTensor> checkpoint(float generation, int count, int64_t floats) {
  std::vector<SafeTensor> tensors;
  for (int i = 0; i < count; ++i) {
    const std::vector<float> values(static_cast<size_t>(floats),
                                    generation + static_cast<float>(i));
    tensors.push_back(safetensor_f32("layer." + std::to_string(i) + ".weight", {floats / 64, 64},
                                     values.data()));
  }
  return tensors;
}

// The old checkpoint: 4 tensors of 4096 values, generation 1.
constexpr int kOldCount = 4;
constexpr int64_t kOldFloats = 4096;
// The new one: 48 tensors of 1 MiB, 48 MiB in all, generation 100.
constexpr int kNewCount = 48;
constexpr int64_t kNewFloats = int64_t{1} << 18;
constexpr uint64_t kNewBytes = uint64_t{kNewCount} * kNewFloats * 4;

// True when the file at path is exactly the checkpoint of `generation` in `count` tensors of
// `floats` values: it loads, with every value and the metadata in place.
::testing::AssertionResult holds_checkpoint(const std::string& path, float generation, int count,
                                            int64_t floats) {
  SafeTensorsFile f;
  try {
    f = read_safetensors(path);
  } catch (const ae::Error& e) {
    return ::testing::AssertionFailure() << "does not load: " << e.what();
  }
  if (f.metadata.count("generation") == 0 ||
      f.metadata.at("generation") != std::to_string(static_cast<int>(generation)))
    return ::testing::AssertionFailure() << "wrong or missing generation metadata";
  if (static_cast<int>(f.tensors.size()) != count)
    return ::testing::AssertionFailure() << f.tensors.size() << " tensors, expected " << count;
  for (int i = 0; i < count; ++i) {
    const std::vector<float> v = safetensor_to_f32(f.tensors[i]);
    if (static_cast<int64_t>(v.size()) != floats)
      return ::testing::AssertionFailure() << "tensor " << i << " has " << v.size() << " values";
    for (float x : v)
      if (x != generation + static_cast<float>(i))
        return ::testing::AssertionFailure() << "tensor " << i << " holds " << x;
  }
  return ::testing::AssertionSuccess();
}

// The write_file_atomic temporaries of process pid in dir: ".<name>.tmp.<pid>.<n>".
std::vector<std::filesystem::path> temporaries(const std::string& dir, const std::string& name,
                                               pid_t pid) {
  const std::string prefix = "." + name + ".tmp." + std::to_string(pid) + ".";
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) found.push_back(e.path());
  return found;
}

// How one attempt ended.
struct Outcome {
  bool killed = false;            // SIGKILL arrived before the writer finished
  bool temporary_left = false;    // a half-written temporary remained next to the target
  uint64_t temporary_bytes = 0;   // its size
};

// Forks a child that writes `tensors` over path, and SIGKILLs it once its temporary file has
// grown past kill_at bytes (0: at once). Returns how it ended; the caller checks the target.
Outcome write_and_kill(const std::string& dir, const std::string& name,
                       const std::vector<SafeTensor>& tensors, uint64_t kill_at) {
  const std::string path = dir + "/" + name;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The child never returns into the test framework.
    try {
      write_safetensors(path, tensors, {{"generation", "100"}});
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  EXPECT_GT(pid, 0) << "fork failed";
  if (pid <= 0) return {};

  // True once a temporary of the child holds at least kill_at bytes.
  auto grown = [&] {
    for (const auto& tmp : temporaries(dir, name, pid)) {
      struct stat st {};
      if (::stat(tmp.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= kill_at)
        return true;
    }
    return false;
  };
  int status = 0;
  bool finished = false;  // the child ended on its own before the threshold was seen
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (kill_at > 0 && !grown()) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      finished = true;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "the writer's temporary never reached " << kill_at << " bytes";
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  if (!finished) {
    ::kill(pid, SIGKILL);
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  }
  Outcome out;
  out.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!out.killed)
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the writer failed on its own";

  const auto left = temporaries(dir, name, pid);
  EXPECT_LE(left.size(), 1u);
  if (!left.empty()) {
    out.temporary_left = true;
    out.temporary_bytes = std::filesystem::file_size(left[0]);
    std::filesystem::remove(left[0]);  // keep the folder small for the next attempt
  }
  return out;
}

TEST(CrashSafe, KilledCheckpointWriteLeavesThePreviousFileIntact) {
  TempDir dir;
  const std::string name = "model.safetensors";
  const std::string path = dir.path(name);
  const std::string folder = std::filesystem::path(path).parent_path().string();
  write_safetensors(path, checkpoint(1, kOldCount, kOldFloats), {{"generation", "1"}});
  ASSERT_TRUE(holds_checkpoint(path, 1, kOldCount, kOldFloats));
  const Bytes old_bytes = test::read_raw(path);

  // Built once; each child inherits it through fork and starts writing at once.
  const std::vector<SafeTensor> big = checkpoint(100, kNewCount, kNewFloats);
  // The size of the complete new file, header included: a temporary never exceeds it, and may
  // reach it when the kill lands between the last write and the rename (during the fsync).
  uint64_t new_file_bytes = 0;
  {
    TempDir scratch;
    write_safetensors(scratch.path(name), big, {{"generation", "100"}});
    new_file_bytes = std::filesystem::file_size(scratch.path(name));
  }
  ASSERT_GT(new_file_bytes, kNewBytes);
  int mid_write = 0;
  // Thresholds spread over the write, from before the temporary exists to near its end.
  for (uint64_t kill_at : {uint64_t{0}, uint64_t{1} << 20, uint64_t{6} << 20, uint64_t{16} << 20,
                           uint64_t{30} << 20, uint64_t{44} << 20}) {
    SCOPED_TRACE("kill once the temporary holds " + std::to_string(kill_at) + " bytes");
    const Outcome o = write_and_kill(folder, name, big, kill_at);
    // Only the target and nothing else under its name; its bytes are one complete checkpoint.
    EXPECT_EQ(dir.list(), std::vector<std::string>{name});
    if (o.temporary_left) {
      // Killed before the rename: the half-written data sat in the temporary only.
      EXPECT_TRUE(o.killed);
      EXPECT_LE(o.temporary_bytes, new_file_bytes);
      EXPECT_EQ(test::read_raw(path), old_bytes);
      EXPECT_TRUE(holds_checkpoint(path, 1, kOldCount, kOldFloats));
      ++mid_write;
    } else if (holds_checkpoint(path, 100, kNewCount, kNewFloats)) {
      // The kill came after the rename (or before the temporary existed and it did not): the
      // new checkpoint is complete. Put the old one back for the next attempt.
      write_safetensors(path, checkpoint(1, kOldCount, kOldFloats), {{"generation", "1"}});
    } else {
      EXPECT_TRUE(holds_checkpoint(path, 1, kOldCount, kOldFloats));
    }
  }
  // Each attempt with a threshold inside the file is killed mid-write; allow one lost race on a
  // loaded machine, but the test must have seen the case it is about.
  EXPECT_GE(mid_write, 4);

  // The next write after the crashes replaces the file normally.
  write_safetensors(path, checkpoint(7, kOldCount, kOldFloats), {{"generation", "7"}});
  EXPECT_TRUE(holds_checkpoint(path, 7, kOldCount, kOldFloats));
  EXPECT_EQ(dir.list(), std::vector<std::string>{name});
}

TEST(CrashSafe, KilledFirstWriteLeavesNoTarget) {
  TempDir dir;
  const std::string name = "first.safetensors";
  const std::string folder =
      std::filesystem::path(dir.path(name)).parent_path().string();
  const Outcome o =
      write_and_kill(folder, name, checkpoint(100, kNewCount, kNewFloats), uint64_t{8} << 20);
  if (o.temporary_left) {
    // No previous file: a crash before the rename leaves no file under the target's name.
    EXPECT_TRUE(dir.list().empty());
    EXPECT_FALSE(std::filesystem::exists(dir.path(name)));
  } else {
    EXPECT_TRUE(holds_checkpoint(dir.path(name), 100, kNewCount, kNewFloats));
  }
}

}  // namespace
}  // namespace ae::io
