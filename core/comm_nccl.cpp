// The NCCL communicator: one CUDA device per rank, collectives queued on ae's stream of that
// device (no host synchronisation), NCCL opened on first use (kernels/cuda/nccl_lib.h).
// Compiled only when the CUDA toolkit has nccl.h (AE_NCCL).
//
// Bootstrap (the NCCL unique id that every rank must share), the first that applies:
//   - launched by mpirun/srun in a build with MPI: rank 0's id is broadcast over MPI, which also
//     gives the ranks and, on an error, stops them all (MPI_Abort);
//   - AE_NCCL_ID_FILE, AE_RANK and AE_WORLD_SIZE set: rank 0 writes its id to the file (a
//     temporary renamed into place), the others wait up to AE_NCCL_TIMEOUT seconds (120) for it.
//     A failing rank then ends only itself: prefer mpirun where a failure must stop every rank;
//   - otherwise one rank alone.
#if AE_HAVE_NCCL
#include <cuda_runtime.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/comm.h"
#include "core/error.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/nccl_lib.h"

namespace ae {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long value = std::strtol(v, &end, 10);
  AE_CHECK(*end == '\0' && value >= 0 && value < (1L << 30), name, "=", v,
           " is not a non-negative integer");
  return static_cast<int>(value);
}

// Rank 0 publishes the id, the others read it (see the top of the file).
ncclUniqueId id_through_file(const std::string& file, int rank) {
  namespace fs = std::filesystem;
  ncclUniqueId id{};
  if (rank == 0) {
    AE_NCCL_CHECK(cu::nccl().ncclGetUniqueId(&id), "nccl bootstrap");
    const std::string tmp = file + ".tmp" + std::to_string(getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(id.internal, sizeof id.internal);
      AE_CHECK(out.good(), "nccl bootstrap: cannot write ", tmp);
    }
    std::error_code ec;
    fs::rename(tmp, file, ec);
    AE_CHECK(!ec, "nccl bootstrap: cannot rename ", tmp, " to ", file, ": ", ec.message());
    return id;
  }
  const int timeout = env_int("AE_NCCL_TIMEOUT", 120);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  for (;;) {
    std::ifstream in(file, std::ios::binary);
    if (in.read(id.internal, sizeof id.internal) && in.gcount() == sizeof id.internal) return id;
    AE_CHECK(std::chrono::steady_clock::now() < deadline, "nccl bootstrap: rank ", rank,
             " waited ", timeout, " s for rank 0's id in AE_NCCL_ID_FILE=", file,
             " (is rank 0 running, and is the file on a folder all ranks share?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator() {
    if (comm_built(CommKind::mpi) && launched_as_ranks()) {
      mpi_ = make_communicator(CommKind::mpi);
      rank_ = mpi_->rank();
      size_ = mpi_->size();
      if (rank_ == 0) AE_NCCL_CHECK(cu::nccl().ncclGetUniqueId(&id_), "nccl bootstrap");
      mpi_->broadcast(id_.internal, sizeof id_.internal, 0, Device::cpu());
    } else if (const char* file = std::getenv("AE_NCCL_ID_FILE"); file && *file) {
      rank_ = env_int("AE_RANK", -1);
      size_ = env_int("AE_WORLD_SIZE", -1);
      AE_CHECK(size_ >= 1 && rank_ >= 0 && rank_ < size_, "nccl bootstrap: AE_NCCL_ID_FILE needs "
               "AE_RANK and AE_WORLD_SIZE (0 <= rank < size), got AE_RANK=", rank_,
               " AE_WORLD_SIZE=", size_);
      id_ = id_through_file(file, rank_);
    } else {
      AE_NCCL_CHECK(cu::nccl().ncclGetUniqueId(&id_), "nccl bootstrap");
    }
  }
  ~NcclCommunicator() override {
    if (comm_) cu::nccl().ncclCommDestroy(comm_);
    if (scratch_) cudaFree(scratch_);
  }

  CommKind kind() const override { return CommKind::nccl; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(void* data, int64_t n, DType dt, Device device) override {
    check_comm_buffer("all_reduce_sum", data, n, dt);
    if (n == 0) return;
    const size_t bytes = static_cast<size_t>(n) * (dt == DType::f32 ? 4 : 8);
    void* buf = on_device(data, bytes, device);
    AE_NCCL_CHECK(cu::nccl().ncclAllReduce(buf, buf, static_cast<size_t>(n),
                                           dt == DType::f32 ? ncclFloat32 : ncclFloat64, ncclSum,
                                           comm_, cuda_stream()),
                  "all_reduce_sum (", n, " ", dtype_name(dt), " on ", device_.str(), ")");
    back_to_host(data, buf, bytes, device);
  }

  void broadcast(void* data, int64_t bytes, int root, Device device) override {
    AE_CHECK(root >= 0 && root < size_ && bytes >= 0, "broadcast: root ", root, " of ", size_,
             " ranks, ", bytes, " bytes");
    AE_CHECK(bytes == 0 || data != nullptr, "broadcast: null buffer for ", bytes, " bytes");
    if (bytes == 0) return;
    void* buf = on_device(data, static_cast<size_t>(bytes), device);
    AE_NCCL_CHECK(cu::nccl().ncclBroadcast(buf, buf, static_cast<size_t>(bytes), ncclUint8, root,
                                           comm_, cuda_stream()),
                  "broadcast (", bytes, " bytes on ", device_.str(), ")");
    back_to_host(data, buf, static_cast<size_t>(bytes), device);
  }

  void barrier() override {
    if (mpi_) return mpi_->barrier();
    double one = 1;
    all_reduce_sum(&one, 1, DType::f64, Device::cpu());  // returns once every rank has joined
  }

  [[noreturn]] void abort(int code) override {
    if (comm_) cu::nccl().ncclCommAbort(comm_);  // unblocks this rank's pending collectives
    if (mpi_) mpi_->abort(code);                 // ends every rank
    std::_Exit(code);
  }

 private:
  // The communicator is made on the device of the first collective (a CPU buffer: this rank's
  // device, local rank modulo the devices); later collectives must use the same one.
  void bind(Device device) {
    if (!device.is_cuda()) device = Device::cuda(rank_device_index());
    if (comm_) {
      AE_CHECK(device == device_, "nccl: a collective on ", device.str(), ", but this rank's "
               "communicator is on ", device_.str(), " (one device per rank)");
      return;
    }
    AE_CUDA_CHECK(cudaSetDevice(device.index), "nccl: rank ", rank_, " on ", device.str());
    AE_NCCL_CHECK(cu::nccl().ncclCommInitRank(&comm_, size_, id_, rank_), "nccl: rank ", rank_,
                  " of ", size_, " on ", device.str());
    device_ = device;
  }
  int rank_device_index() const {
    int count = 0;
    AE_CUDA_CHECK(cudaGetDeviceCount(&count), "nccl: rank ", rank_);
    AE_CHECK(count > 0, "nccl: rank ", rank_, " sees no CUDA device");
    return local_rank() % count;
  }
  cudaStream_t cuda_stream() const { return static_cast<cudaStream_t>(stream(device_)); }

  // A device buffer as it is; a host buffer copied into a scratch buffer on this rank's device.
  void* on_device(void* data, size_t bytes, Device device) {
    bind(device);
    if (device.is_cuda()) return data;
    if (scratch_bytes_ < bytes) {
      if (scratch_) AE_CUDA_CHECK(cudaFree(scratch_), "nccl scratch");
      scratch_ = nullptr;
      AE_CUDA_CHECK(cudaMalloc(&scratch_, bytes), "nccl scratch (", bytes, " bytes)");
      scratch_bytes_ = bytes;
    }
    AE_CUDA_CHECK(cudaMemcpyAsync(scratch_, data, bytes, cudaMemcpyHostToDevice, cuda_stream()),
                  "nccl scratch");
    return scratch_;
  }
  void back_to_host(void* data, void* buf, size_t bytes, Device device) {
    if (device.is_cuda()) return;
    AE_CUDA_CHECK(cudaMemcpyAsync(data, buf, bytes, cudaMemcpyDeviceToHost, cuda_stream()),
                  "nccl scratch");
    AE_CUDA_CHECK(cudaStreamSynchronize(cuda_stream()), "nccl scratch");
  }

  std::unique_ptr<Communicator> mpi_;  // the bootstrap, when launched by mpirun
  int rank_ = 0, size_ = 1;
  ncclUniqueId id_{};
  ncclComm_t comm_ = nullptr;
  Device device_;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator() {
  return std::make_unique<NcclCommunicator>();
}

}  // namespace ae
#endif
