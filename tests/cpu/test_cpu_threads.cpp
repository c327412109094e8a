// The process's one pool of CPU threads: which GEMMs use it, and fork(). libgomp's team does not
// survive a fork (the child has only the forking thread, yet would wait for the others), so the
// pool lets its team go before one; a child forked after parallel work must run parallel work.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iterator>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu.h"

namespace ae {
namespace {

TEST(CpuThreads, SmallGemmsRunOnOneThreadLargeOnesOnThePool) {
  // A layer of 256 to 64 units at batch 64 (1M multiply-adds) against 784 to 512 at batch 256.
  EXPECT_EQ(cpu::gemm_threads(64, 64, 256), 1);
  EXPECT_EQ(cpu::gemm_threads(256, 512, 784), cpu::worker_threads());
}

int64_t threads_of_this_process() {
  const std::filesystem::directory_iterator tasks("/proc/self/task");
  return std::distance(begin(tasks), end(tasks));
}

// A GEMM large enough for the pool and an elementwise op long enough to split over it: true when
// both gave the right values and the process then has the pool's threads.
bool parallel_work() {
  const int64_t m = 256, n = 512, k = 784;
  std::vector<float> a(m * k, 0.5f), b(n * k, 0.25f), c(m * n, -1.0f);
  cpu::gemm(DType::f32, false, true, m, n, k, 1.0, a.data(), b.data(), 0.0, c.data(), nullptr);
  std::vector<float> x(int64_t(1) << 20, -2.0f), y(x.size(), 0.0f);
  cpu::unary_forward(UnaryOp::abs, DType::f32, x.data(), y.data(), static_cast<int64_t>(x.size()),
                     {}, nullptr);
  return c[0] == 0.125f * k && c[m * n - 1] == 0.125f * k && y.front() == 2.0f &&
         y.back() == 2.0f && threads_of_this_process() >= cpu::worker_threads();
}

TEST(CpuThreads, AChildForkedAfterParallelWorkRunsParallelWork) {
  if (cpu::worker_threads() < 2) GTEST_SKIP() << "one thread (AE_CPU_THREADS or one core): no team";
  ASSERT_TRUE(parallel_work());  // the pool's threads now exist
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(parallel_work() ? 0 : 1);
  // A child that hangs fails the test after a minute instead of stalling the suite.
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 600 && done == 0; ++i) {
    done = waitpid(child, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (done == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL() << "the forked child did not finish its parallel work within 60 s";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_TRUE(parallel_work());  // and the parent's pool works again after the fork
}

}  // namespace
}  // namespace ae
