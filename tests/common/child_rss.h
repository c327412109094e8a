// Runs the built `ae` as a child process and reports its peak resident memory (wait4's
// ru_maxrss): the memory tests' measure. AE_CLI_PATH is the binary (tests/CMakeLists.txt).
#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace ae::testing {

inline std::string read_log(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

#ifdef AE_CLI_PATH
// Runs `ae` with args (output into log); returns the exit status and the child's peak RSS in KiB.
inline std::pair<int, long> run_ae(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), AE_CLI_PATH);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);  // the child must not write the parent's buffered lines again
  const pid_t pid = fork();
  if (pid == 0) {
    if (std::freopen(log.c_str(), "w", stdout) && std::freopen(log.c_str(), "a", stderr))
      execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid) return {-1, 0};
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), usage.ru_maxrss};
}
#endif

}  // namespace ae::testing
