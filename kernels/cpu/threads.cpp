// The process's one pool of CPU threads (libgomp's team, which OpenBLAS's GEMMs and ae's own loops
// share): how many threads it has, and how it survives fork().
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "core/error.h"
#include "kernels/cpu/cpu.h"

namespace ae::cpu {

namespace {

// The cores this process may really use: the affinity mask, capped by a cgroup CPU quota
// (containers often see every core of the host but are throttled to a few; one thread per
// visible core would then oversubscribe the quota many times over).
int64_t usable_cores() {
  int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) cores = std::min<int64_t>(cores, CPU_COUNT(&set));
  auto cap_by_quota = [&](double quota, double period) {
    if (quota > 0 && period > 0)
      cores = std::min<int64_t>(cores, std::max<int64_t>(1, static_cast<int64_t>(quota / period)));
  };
  // cgroup v2: cpu.max ("max 100000" or "<quota> <period>") of this process's group and of
  // every group above it; v1: the cpu controller's cfs quota and period.
  std::string group;
  for (std::ifstream self("/proc/self/cgroup"); std::getline(self, group);)
    if (group.rfind("0::", 0) == 0) break;
  std::string dir = "/sys/fs/cgroup" + (group.rfind("0::", 0) == 0 ? group.substr(3) : "");
  for (;;) {
    std::string quota;
    double period = 0;
    if (std::ifstream v2(dir + "/cpu.max"); v2 >> quota >> period && quota != "max")
      cap_by_quota(std::atof(quota.c_str()), period);
    const size_t slash = dir.find_last_of('/');
    if (dir == "/sys/fs/cgroup" || slash == std::string::npos || slash < 14) break;
    dir.resize(slash);
  }
  double q = 0, period = 0;
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (q1 >> q && p1 >> period) cap_by_quota(q, period);
  return cores;
}

// libgomp keeps a team's threads waiting for the thread that started it to need them again, but
// fork() copies only the forking thread: in the child that thread still sees its team, and its next
// parallel region waits forever for threads the child does not have (a fork-based
// multiprocessing.Pool, or joblib's multiprocessing backend, after a fit). So just before a fork
// the forking thread's team is let go (omp_pause_resource_all: its threads finish and are joined);
// parent and child each start a new one at their next parallel region (the pause and a new team of
// 2 threads: 0.4 ms on a busy 2-core machine, where forking a Python process with ae loaded took
// 2.7 ms). A team started by another thread needs nothing: the child has no such thread, and the
// copy of the forking thread never owned that team. A fork from inside a parallel region keeps its
// team (libgomp refuses to pause there).
//
// The team is libgomp's in every build: OpenBLAS's OpenMP build runs on it even where ae's own
// loops are compiled without OpenMP (clang, the asan preset), so the pause is found in the
// libgomp already loaded rather than linked.
using PauseAll = int (*)(int);
PauseAll libgomp_pause_all() {
  void* gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
  return gomp ? reinterpret_cast<PauseAll>(dlsym(gomp, "omp_pause_resource_all")) : nullptr;
}
PauseAll pause_all = nullptr;
void let_the_team_go() {
  constexpr int kPauseHard = 2;  // omp_pause_hard
  pause_all(kPauseHard);
}

}  // namespace

int64_t worker_threads() {
  static const int64_t threads = [] {
    int64_t n = usable_cores();
    if (const char* env = std::getenv("AE_CPU_THREADS"); env && *env) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      AE_CHECK(*end == '\0' && v >= 1 && v <= 1024, "AE_CPU_THREADS=", env,
               ": expected a whole number of threads from 1 to 1024");
      n = v;
    }
    // Every team of ae's starts after this line (ae's loops and GEMMs ask for the count first).
    pause_all = libgomp_pause_all();
    if (pause_all) pthread_atfork(let_the_team_go, nullptr, nullptr);
    return n;
  }();
  return threads;
}

}  // namespace ae::cpu
