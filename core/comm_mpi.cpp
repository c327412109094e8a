// The MPI communicator over MPI_COMM_WORLD; compiled only when CMake finds MPI (AE_MPI).
// A buffer on a CUDA device is staged through the host: the device's stream is drained, the
// buffer copied out, reduced and copied back (a CUDA-aware MPI could reduce device memory in
// place, but Debian's Open MPI is not built with CUDA; the NCCL communicator is the GPU path).
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/comm.h"
#include "core/error.h"

namespace ae {

namespace {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  fail(cat("MPI ", what, " failed: ", std::string(text, static_cast<size_t>(length))));
}

// MPI counts are int: larger buffers go in pieces.
constexpr int64_t kMaxCount = int64_t{1} << 30;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    AE_CHECK(!initialized, "MPI is already initialised: one MPI communicator per process");
    // ae calls MPI from one thread only.
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SINGLE, &provided), "MPI_Init_thread");
    // Errors come back as return codes (check_mpi turns them into ae::Error), not as MPI's abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  CommKind kind() const override { return CommKind::mpi; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(void* data, int64_t n, DType dt, Device device) override {
    check_comm_buffer("all_reduce_sum", data, n, dt);
    if (n == 0 || size_ == 1) return;
    const size_t elem = dt == DType::f32 ? 4 : 8;
    const MPI_Datatype type = dt == DType::f32 ? MPI_FLOAT : MPI_DOUBLE;
    char* host = staged_in(data, static_cast<size_t>(n) * elem, device);
    for (int64_t done = 0; done < n; done += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, n - done));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, host + done * static_cast<int64_t>(elem), count, type,
                              MPI_SUM, MPI_COMM_WORLD),
                "MPI_Allreduce");
    }
    staged_out(data, host, static_cast<size_t>(n) * elem, device);
  }

  void broadcast(void* data, int64_t bytes, int root, Device device) override {
    AE_CHECK(root >= 0 && root < size_ && bytes >= 0, "broadcast: root ", root, " of ", size_,
             " ranks, ", bytes, " bytes");
    AE_CHECK(bytes == 0 || data != nullptr, "broadcast: null buffer for ", bytes, " bytes");
    if (bytes == 0 || size_ == 1) return;
    char* host = staged_in(data, static_cast<size_t>(bytes), device);
    for (int64_t done = 0; done < bytes; done += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, bytes - done));
      check_mpi(MPI_Bcast(host + done, count, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
    staged_out(data, host, static_cast<size_t>(bytes), device);
  }

  void barrier() override { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; should it, end this rank at least
  }

 private:
  // The host address of the buffer: itself on the CPU, else a copy made once the stream is done.
  char* staged_in(void* data, size_t bytes, Device device) {
    if (!device.is_cuda()) return static_cast<char*>(data);
    staging_.resize(bytes);
    synchronize(device);
    backend(device).copy(staging_.data(), data, bytes, CopyKind::device_to_host, stream(device));
    synchronize(device);
    return staging_.data();
  }
  void staged_out(void* data, const char* host, size_t bytes, Device device) {
    if (!device.is_cuda()) return;
    backend(device).copy(data, host, bytes, CopyKind::host_to_device, stream(device));
    synchronize(device);  // the staging buffer is reused by the next collective
  }

  int rank_ = 0, size_ = 1;
  std::vector<char> staging_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace ae
