#include "core/nccl_bootstrap.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/comm.h"
#include "core/error.h"

namespace ae {

namespace {

// The integer in environment variable `name`, or nullopt when it is unset or empty. Throws
// ae::Error when it is not an integer in [lo, 2^30).
std::optional<int> env_int(const char* name, long lo) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(v, &end, 10);
  AE_CHECK(*end == '\0' && errno == 0 && value >= lo && value < (1L << 30), name, "=", v,
           lo == 0 ? " is not a non-negative integer" : " is not a positive integer");
  return static_cast<int>(value);
}

std::string seconds_text(std::chrono::milliseconds t) {
  return cat(static_cast<double>(t.count()) / 1000.0);
}

}  // namespace

NcclBootstrap nccl_bootstrap(bool mpi_built) {
  int launched = 0;  // ranks the launcher says (0: it does not say)
  const bool by_launcher = launched_as_ranks(&launched);
  NcclBootstrap b;
  if (mpi_built && by_launcher) {
    b.kind = NcclBootstrap::Kind::mpi;
    return b;
  }
  const std::optional<int> size = env_int("AE_WORLD_SIZE", 0);
  if (const char* file = std::getenv("AE_NCCL_ID_FILE"); file && *file) {
    const std::optional<int> rank = env_int("AE_RANK", 0);
    AE_CHECK(rank && size && *size >= 1 && *rank < *size, "nccl bootstrap: AE_NCCL_ID_FILE needs "
             "AE_RANK and AE_WORLD_SIZE (0 <= rank < size), got AE_RANK=", rank ? cat(*rank) : "(unset)",
             " AE_WORLD_SIZE=", size ? cat(*size) : "(unset)");
    AE_CHECK(!by_launcher || launched == 0 || launched == *size, "nccl bootstrap: the launcher "
             "started ", launched, " ranks, but AE_WORLD_SIZE=", *size);
    b.kind = NcclBootstrap::Kind::file;
    b.rank = *rank;
    b.size = *size;
    b.file = file;
    return b;
  }
  AE_CHECK(!by_launcher || launched == 1, "AE_COMM=nccl: started as ",
           launched > 1 ? cat("one of ", launched, " ranks") : std::string("one of several ranks"),
           " (by mpirun or srun), but this ae was built without MPI to join them and "
           "AE_NCCL_ID_FILE is not set; each rank would train alone on cuda:0 and write the run "
           "folder as rank 0 (build with MPI, or set AE_NCCL_ID_FILE, AE_RANK and AE_WORLD_SIZE)");
  AE_CHECK(!size || *size == 1, "AE_COMM=nccl: AE_WORLD_SIZE=", *size, " but AE_NCCL_ID_FILE is not "
           "set; the ranks cannot meet and each would train alone (set AE_NCCL_ID_FILE to a file "
           "every rank sees, or launch with mpirun)");
  return b;
}

int nccl_timeout_seconds() { return env_int("AE_NCCL_TIMEOUT", 1).value_or(600); }

void publish_nccl_id(const std::string& file, const NcclIdBytes& id) {
  namespace fs = std::filesystem;
  const std::string tmp = file + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(id.data(), static_cast<std::streamsize>(id.size()));
    out.close();
    if (!out.good()) {
      const int err = errno;
      fail(cat("nccl bootstrap: cannot write ", tmp, ": ", std::strerror(err)), ErrorKind::file,
           err);
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) fs::remove(tmp);
  if (ec)
    fail(cat("nccl bootstrap: cannot rename ", tmp, " to ", file, ": ", ec.message()),
         ErrorKind::file, ec.value());
}

NcclIdBytes read_nccl_id(const std::string& file, int rank, std::chrono::milliseconds timeout,
                         std::filesystem::file_time_type not_before) {
  namespace fs = std::filesystem;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<fs::file_time_type> stale;  // the time of a file left by an earlier job
  for (;;) {
    std::error_code ec;
    const fs::file_time_type written = fs::last_write_time(file, ec);
    if (!ec && written < not_before) {
      stale = written;
    } else if (!ec) {
      NcclIdBytes id{};
      std::ifstream in(file, std::ios::binary);
      if (in.read(id.data(), static_cast<std::streamsize>(id.size())) &&
          in.gcount() == static_cast<std::streamsize>(id.size()))
        return id;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string seen;
      if (stale) {
        const auto age = std::chrono::duration_cast<std::chrono::seconds>(
            fs::file_time_type::clock::now() - *stale);
        seen = cat("; the file there was written ", age.count(), " s ago, before this rank "
                   "started: left by an earlier job, it is not read");
      }
      fail(cat("nccl bootstrap: rank ", rank, " waited ", seconds_text(timeout),
               " s for rank 0's id in AE_NCCL_ID_FILE=", file, seen,
               " (is rank 0 running, and is the file on a folder all ranks share? AE_NCCL_TIMEOUT "
               "sets the wait)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::filesystem::file_time_type process_start_time(std::chrono::seconds slack) {
  using std::chrono::duration_cast;
  const auto now = std::filesystem::file_time_type::clock::now();
  // Field 22 of /proc/self/stat: the start in clock ticks after boot (fields after the command,
  // which is in parentheses and may hold spaces); /proc/uptime: seconds since boot.
  std::ifstream stat("/proc/self/stat"), uptime("/proc/uptime");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  double up = 0;
  const size_t close = text.rfind(')');
  if (close != std::string::npos && (uptime >> up)) {
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    unsigned long long ticks = 0;
    for (int i = 3; i <= 22 && (fields >> field); ++i)
      if (i == 22) ticks = std::strtoull(field.c_str(), nullptr, 10);
    const long hz = sysconf(_SC_CLK_TCK);
    if (ticks > 0 && hz > 0) {
      const double age = std::max(0.0, up - static_cast<double>(ticks) / static_cast<double>(hz));
      return now - duration_cast<std::filesystem::file_time_type::duration>(
                       std::chrono::duration<double>(age)) - slack;
    }
  }
  return now - slack;
}

Device nccl_collective_device(Device buffer, const std::optional<Device>& bound, int rank,
                              int local_rank, int devices) {
  if (buffer.is_cuda()) {
    AE_CHECK(!bound || buffer == *bound, "nccl: a collective on ", buffer.str(), ", but rank ",
             rank, "'s communicator is on ", bound->str(), " (one device per rank)");
    return buffer;
  }
  if (bound) return *bound;
  AE_CHECK(devices > 0, "nccl: rank ", rank, " sees no CUDA device");
  return Device::cuda(local_rank % devices);
}

void wait_for_ranks(const std::function<bool()>& done, const std::function<std::string()>& failure,
                    std::chrono::milliseconds timeout, int rank, int size, const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    if (done()) return;
    const std::string error = failure();
    AE_CHECK(error.empty(), what, ": rank ", rank, " of ", size, ": ", error);
    AE_CHECK(std::chrono::steady_clock::now() - start < timeout, what, ": rank ", rank, " of ", size,
             " waited ", seconds_text(timeout), " s for the other ranks (AE_NCCL_TIMEOUT=",
             seconds_text(timeout), "; did a rank stop or fall behind?)");
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(10));
  }
}

}  // namespace ae
