#include "core/comm.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>

#include "core/error.h"

namespace ae {

#if AE_HAVE_MPI
std::unique_ptr<Communicator> make_mpi_communicator();  // core/comm_mpi.cpp
#endif
#if AE_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator();  // core/comm_nccl.cpp
#endif

namespace {

class SingleProcess final : public Communicator {
 public:
  CommKind kind() const override { return CommKind::single; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(void* data, int64_t n, DType dt, Device) override {
    check_comm_buffer("all_reduce_sum", data, n, dt);
  }
  void broadcast(void*, int64_t bytes, int root, Device) override {
    AE_CHECK(root == 0 && bytes >= 0, "broadcast: root ", root, " of 1 rank, ", bytes, " bytes");
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

std::mutex g_world_mutex;
std::unique_ptr<Communicator> g_world;

}  // namespace

void check_comm_buffer(const char* op, const void* data, int64_t n, DType dt) {
  AE_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype ", dtype_name(dt),
           " (only f32 and f64 are summed)");
  AE_CHECK(n >= 0, op, ": n = ", n, " is negative");
  AE_CHECK(n == 0 || data != nullptr, op, ": null buffer for n = ", n);
}

bool launched_as_ranks(int* size) {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* v = std::getenv(var); v && *v) {
      if (size) *size = std::atoi(v);
      return true;
    }
  }
  if (std::getenv("PMIX_RANK")) {
    if (size) *size = 0;  // unknown
    return true;
  }
  return false;
}

int launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* v = std::getenv(var); v && *v) {
      char* end = nullptr;
      const long r = std::strtol(v, &end, 10);
      return *end == '\0' && r >= 0 && r < (1L << 30) ? static_cast<int>(r) : 0;
    }
  return 0;
}

const char* comm_kind_name(CommKind kind) {
  switch (kind) {
    case CommKind::single: return "single";
    case CommKind::mpi: return "mpi";
    case CommKind::nccl: return "nccl";
  }
  fail(cat("comm_kind_name: unknown kind ", static_cast<int>(kind)));
}

bool comm_built(CommKind kind) {
  switch (kind) {
    case CommKind::single: return true;
    case CommKind::mpi: return AE_HAVE_MPI != 0;
    case CommKind::nccl: return AE_HAVE_NCCL != 0;
  }
  return false;
}

CommKind choose_comm_kind() {
  if (const char* env = std::getenv("AE_COMM"); env && *env) {
    const std::string name = env;
    for (CommKind k : {CommKind::single, CommKind::mpi, CommKind::nccl})
      if (name == comm_kind_name(k)) return k;
    fail(cat("AE_COMM=", name, " is not one of single, mpi, nccl"));
  }
  int size = 1;
  if (!launched_as_ranks(&size)) return CommKind::single;
  if (comm_built(CommKind::mpi)) return CommKind::mpi;
  AE_CHECK(size <= 1, "started as one of ", size, " ranks (by mpirun or srun), but this ae was built "
           "without MPI (apt-get install libopenmpi-dev, then configure again with -DAE_MPI=ON); "
           "each rank would train alone on all the data");
  return CommKind::single;
}

std::unique_ptr<Communicator> make_communicator(CommKind kind) {
  AE_CHECK(comm_built(kind), "the ", comm_kind_name(kind), " communicator is not in this build",
           kind == CommKind::mpi ? " (configure with MPI found: apt-get install libopenmpi-dev)"
           : kind == CommKind::nccl ? " (configure with the CUDA backend and the CUDA toolkit's nccl.h)"
                                    : "");
  switch (kind) {
    case CommKind::single: return std::make_unique<SingleProcess>();
#if AE_HAVE_MPI
    case CommKind::mpi: return make_mpi_communicator();
#endif
#if AE_HAVE_NCCL
    case CommKind::nccl: return make_nccl_communicator();
#endif
    default: break;
  }
  fail(cat("make_communicator: unknown kind ", static_cast<int>(kind)));
}

Communicator& world() {
  std::lock_guard<std::mutex> lock(g_world_mutex);
  if (!g_world) g_world = make_communicator(choose_comm_kind());
  return *g_world;
}

Communicator* world_if_made() {
  std::lock_guard<std::mutex> lock(g_world_mutex);
  return g_world.get();
}

void release_world() {
  std::unique_ptr<Communicator> made;
  {
    std::lock_guard<std::mutex> lock(g_world_mutex);
    made = std::move(g_world);
  }
  made.reset();  // outside the lock: a destructor may wait for other ranks
}

int local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID",
                          "AE_LOCAL_RANK", "AE_RANK"})
    if (const char* v = std::getenv(var); v && *v) {
      char* end = nullptr;
      const long r = std::strtol(v, &end, 10);
      AE_CHECK(*end == '\0' && r >= 0 && r < (1L << 30), var, "=", v, " is not a rank");
      return static_cast<int>(r);
    }
  return 0;
}

RowRange shard_rows(int64_t rows, int rank, int size) {
  AE_CHECK(rows >= 0 && size >= 1 && rank >= 0 && rank < size, "shard_rows: rank ", rank, " of ",
           size, " ranks, ", rows, " rows");
  // The even row nearest rank * rows / size (halves rounded up); the last shard ends at rows.
  auto begin = [&](int r) {
    if (r == size) return rows;
    return std::min<int64_t>(rows, 2 * ((static_cast<int64_t>(r) * rows + size) / (2 * static_cast<int64_t>(size))));
  };
  return {begin(rank), begin(rank + 1)};
}

}  // namespace ae
