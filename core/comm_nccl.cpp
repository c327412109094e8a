// The NCCL communicator: one CUDA device per rank, collectives queued on ae's stream of that
// device (no host synchronisation), NCCL opened on first use (kernels/cuda/nccl_lib.h).
// Compiled only when the CUDA toolkit has nccl.h (AE_NCCL).
//
// Bootstrap (the NCCL unique id that every rank must share; core/nccl_bootstrap.h decides which):
//   - launched by mpirun/srun in a build with MPI: rank 0's id is broadcast over MPI, which also
//     gives the ranks and, on an error, stops them all (MPI_Abort), rank 0's failure to make the
//     id included;
//   - AE_NCCL_ID_FILE, AE_RANK and AE_WORLD_SIZE set: rank 0 writes its id to the file (a
//     temporary renamed into place) and removes it once every rank has joined; the others wait up
//     to AE_NCCL_TIMEOUT seconds for a file written since their job started. A failing rank then
//     ends only itself, and the others stop at their next wait: prefer mpirun;
//   - otherwise one rank alone (refused where a launcher or AE_WORLD_SIZE says several ranks).
// Waits: ncclCommInitRank returns once every rank has joined, and the host's waits for collectives
// poll NCCL's asynchronous error; both end after AE_NCCL_TIMEOUT seconds (600) with an error
// naming the rank.
#if AE_HAVE_NCCL
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "core/comm.h"
#include "core/error.h"
#include "core/nccl_bootstrap.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/nccl_lib.h"

namespace ae {

namespace {

NcclIdBytes new_nccl_id() {
  ncclUniqueId id{};
  static_assert(sizeof id.internal == std::tuple_size_v<NcclIdBytes>);
  AE_NCCL_CHECK(cu::nccl().ncclGetUniqueId(&id), "nccl bootstrap");
  NcclIdBytes bytes{};
  std::memcpy(bytes.data(), id.internal, bytes.size());
  return bytes;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator()
      : boot_(nccl_bootstrap(comm_built(CommKind::mpi))),
        timeout_(std::chrono::seconds(nccl_timeout_seconds())) {
    switch (boot_.kind) {
      case NcclBootstrap::Kind::mpi:
        mpi_ = make_communicator(CommKind::mpi);
        rank_ = mpi_->rank();
        size_ = mpi_->size();
        // The other ranks wait in the broadcast for rank 0's id: a failure to make it (no NCCL
        // library, no network interface) ends them all with its error, rather than unwinding
        // into MPI_Finalize while they wait forever.
        try {
          if (rank_ == 0) id_ = new_nccl_id();
          mpi_->broadcast(id_.data(), static_cast<int64_t>(id_.size()), 0, Device::cpu());
        } catch (const std::exception& e) {
          if (size_ == 1) throw;
          std::fflush(stdout);
          std::fprintf(stderr, "ae: rank %d of %d: %s\n", rank_, size_, e.what());
          std::fflush(stderr);
          mpi_->abort(2);
        }
        break;
      case NcclBootstrap::Kind::file:
        rank_ = boot_.rank;
        size_ = boot_.size;
        if (rank_ == 0) {
          id_ = new_nccl_id();
          publish_nccl_id(boot_.file, id_);
          published_ = true;
        } else {
          id_ = read_nccl_id(boot_.file, rank_, timeout_, process_start_time());
        }
        break;
      case NcclBootstrap::Kind::alone:
        id_ = new_nccl_id();
        break;
    }
  }
  ~NcclCommunicator() override {
    if (comm_) cu::nccl().ncclCommDestroy(comm_);
    if (scratch_) cudaFree(scratch_);
    remove_id_file();
  }

  CommKind kind() const override { return CommKind::nccl; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(void* data, int64_t n, DType dt, Device device) override {
    check_comm_buffer("all_reduce_sum", data, n, dt);
    if (n == 0) return;
    const size_t bytes = static_cast<size_t>(n) * (dt == DType::f32 ? 4 : 8);
    void* buf = on_device(data, bytes, device);
    const std::string what = cat("all_reduce_sum (", n, " ", dtype_name(dt), " on ", bound_->str(), ")");
    AE_NCCL_CHECK(cu::nccl().ncclAllReduce(buf, buf, static_cast<size_t>(n),
                                           dt == DType::f32 ? ncclFloat32 : ncclFloat64, ncclSum,
                                           comm_, cuda_stream()),
                  what);
    back_to_host(data, buf, bytes, device, what);
  }

  void broadcast(void* data, int64_t bytes, int root, Device device) override {
    AE_CHECK(root >= 0 && root < size_ && bytes >= 0, "broadcast: root ", root, " of ", size_,
             " ranks, ", bytes, " bytes");
    AE_CHECK(bytes == 0 || data != nullptr, "broadcast: null buffer for ", bytes, " bytes");
    if (bytes == 0) return;
    void* buf = on_device(data, static_cast<size_t>(bytes), device);
    const std::string what = cat("broadcast (", bytes, " bytes on ", bound_->str(), ")");
    AE_NCCL_CHECK(cu::nccl().ncclBroadcast(buf, buf, static_cast<size_t>(bytes), ncclUint8, root,
                                           comm_, cuda_stream()),
                  what);
    back_to_host(data, buf, static_cast<size_t>(bytes), device, what);
  }

  void barrier() override {
    if (mpi_) return mpi_->barrier();
    double one = 1;
    all_reduce_sum(&one, 1, DType::f64, Device::cpu());  // returns once every rank has joined
  }

  [[noreturn]] void abort(int code) override {
    abort_comm();  // unblocks this rank's pending collectives
    remove_id_file();
    if (mpi_) mpi_->abort(code);  // ends every rank
    std::_Exit(code);
  }

 private:
  // Binds the communicator to the device of the first collective (nccl_collective_device: a host
  // buffer's collective runs on the bound device, before binding on local rank modulo the
  // devices); later collectives on device buffers must use the same one.
  void bind(Device buffer) {
    AE_CHECK(!aborted_, "nccl: rank ", rank_, " of ", size_, ": the communicator was aborted "
             "after an earlier error; no collective can run");
    if (bound_) {
      nccl_collective_device(buffer, bound_, rank_, 0, 0);  // checks a device buffer's device
      return;
    }
    int devices = 0;
    if (!buffer.is_cuda())
      AE_CUDA_CHECK(cudaGetDeviceCount(&devices), "nccl: rank ", rank_, " of ", size_);
    const Device device = nccl_collective_device(buffer, std::nullopt, rank_,
                                                 buffer.is_cuda() ? 0 : local_rank(), devices);
    init(device);
    bound_ = device;
    if (boot_.kind == NcclBootstrap::Kind::file) remove_id_file();  // every rank has read it
  }

  // ncclCommInitRank on `device`, which returns once every rank has joined. It runs on a helper
  // thread so that this rank stops waiting after the timeout (a rank that never joins would hold
  // it forever); the thread then stays blocked in NCCL until the process ends.
  void init(Device device) {
    const cu::NcclApi* api = &cu::nccl();  // loaded here: the helper thread must not throw
    AE_CUDA_CHECK(cudaSetDevice(device.index), "nccl: rank ", rank_, " on ", device.str());
    struct Joined {
      ncclComm_t comm = nullptr;
      cudaError_t cuda = cudaSuccess;
      ncclResult_t nccl = ncclSuccess;
    };
    auto joined = std::make_shared<std::promise<Joined>>();
    std::future<Joined> done = joined->get_future();
    ncclUniqueId id{};
    std::memcpy(id.internal, id_.data(), id_.size());
    std::thread([api, joined, id, size = size_, rank = rank_, index = device.index] {
      Joined j;
      j.cuda = cudaSetDevice(index);  // the current device is per thread
      if (j.cuda == cudaSuccess) j.nccl = api->ncclCommInitRank(&j.comm, size, id, rank);
      joined->set_value(j);
    }).detach();
    const std::string context = cat("nccl: rank ", rank_, " of ", size_, " on ", device.str());
    AE_CHECK(done.wait_for(timeout_) == std::future_status::ready, context, " waited ",
             timeout_.count(), " s for every rank to join the communicator (AE_NCCL_TIMEOUT=",
             timeout_.count(), "; is every rank running, and has each reached its first collective?)");
    const Joined j = done.get();
    AE_CUDA_CHECK(j.cuda, context);
    if (j.nccl != ncclSuccess) cu::throw_nccl_error(j.nccl, "ncclCommInitRank", context);
    comm_ = j.comm;
  }

  cudaStream_t cuda_stream() const { return static_cast<cudaStream_t>(stream(*bound_)); }

  // A device buffer as it is; a host buffer copied into a scratch buffer on this rank's device.
  void* on_device(void* data, size_t bytes, Device device) {
    bind(device);
    if (device.is_cuda()) return data;
    if (scratch_bytes_ < bytes) {
      if (scratch_) AE_CUDA_CHECK(cudaFree(scratch_), "nccl scratch");
      scratch_ = nullptr;
      scratch_bytes_ = 0;
      AE_CUDA_CHECK(cudaSetDevice(bound_->index), "nccl scratch on ", bound_->str());
      AE_CUDA_CHECK(cudaMalloc(&scratch_, bytes), "nccl scratch (", bytes, " bytes)");
      scratch_bytes_ = bytes;
    }
    AE_CUDA_CHECK(cudaMemcpyAsync(scratch_, data, bytes, cudaMemcpyHostToDevice, cuda_stream()),
                  "nccl scratch");
    return scratch_;
  }
  void back_to_host(void* data, void* buf, size_t bytes, Device device, const std::string& what) {
    if (device.is_cuda()) return;
    AE_CUDA_CHECK(cudaMemcpyAsync(data, buf, bytes, cudaMemcpyDeviceToHost, cuda_stream()),
                  "nccl scratch");
    wait(what);
  }

  // Waits for this rank's stream, polling NCCL's asynchronous error (a rank that failed or left);
  // on an error or after the timeout the communicator is aborted, so that its collectives end.
  void wait(const std::string& what) {
    const cudaStream_t s = cuda_stream();
    try {
      wait_for_ranks(
          [&] {
            const cudaError_t q = cudaStreamQuery(s);
            if (q == cudaErrorNotReady) return false;
            AE_CUDA_CHECK(q, what);
            return true;
          },
          [&] {
            ncclResult_t async = ncclSuccess;
            const ncclResult_t r = cu::nccl().ncclCommGetAsyncError(comm_, &async);
            if (r != ncclSuccess)
              return cat("ncclCommGetAsyncError failed: ", cu::nccl().ncclGetErrorString(r));
            if (async == ncclSuccess || async == ncclInProgress) return std::string();
            return cat("NCCL reports ", cu::nccl().ncclGetErrorString(async));
          },
          timeout_, rank_, size_, what);
    } catch (...) {
      abort_comm();
      throw;
    }
  }

  void abort_comm() noexcept {
    if (comm_) cu::nccl().ncclCommAbort(comm_);
    comm_ = nullptr;
    aborted_ = bound_.has_value();
  }

  // Rank 0 of a file bootstrap: the id file, once no rank needs it, unless another job has
  // replaced it since.
  void remove_id_file() noexcept {
    if (!published_) return;
    published_ = false;
    try {
      NcclIdBytes there{};
      std::ifstream in(boot_.file, std::ios::binary);
      if (in.read(there.data(), static_cast<std::streamsize>(there.size())) && there == id_) {
        in.close();
        std::error_code ec;
        std::filesystem::remove(boot_.file, ec);  // left behind, a later job's ranks refuse it
      }
    } catch (...) {
    }
  }

  NcclBootstrap boot_;
  std::chrono::seconds timeout_;
  std::unique_ptr<Communicator> mpi_;  // the bootstrap, when launched by mpirun
  int rank_ = 0, size_ = 1;
  NcclIdBytes id_{};
  bool published_ = false;  // rank 0 wrote id_ to boot_.file, which is still to be removed
  ncclComm_t comm_ = nullptr;
  std::optional<Device> bound_;  // the device of every collective, once the first has run
  bool aborted_ = false;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator() {
  return std::make_unique<NcclCommunicator>();
}

}  // namespace ae
#endif
